"""Start the web chat: ``python app.py [--host H] [--port P] [--corpus DIR] [--index DIR]
[--admin-password PW] [--allow-edits]``. Same app as ``qa serve`` and ``make run``."""

import sys

from qa.cli import main

if __name__ == "__main__":
    main(["serve", *sys.argv[1:]], prog_name="app.py")
