"""HTML pages: the main content extracted by trafilatura, as Markdown, then read as Markdown.

The extractor, not a word list, decides what is navigation, sidebar or
footer. Its Markdown output keeps headings, lists and tables, so the same
structure rules apply as for ``.md`` files; offsets refer to that output,
which the index keeps.
"""

from __future__ import annotations

from ..errors import DocumentRejected
from .blocks import Extracted
from .markdown import read_markdown


def read_html(html: str, name: str) -> Extracted:
    """Extract the main content of an HTML page.

    Raises:
        DocumentRejected: The page has no extractable text.
    """
    import trafilatura

    text = trafilatura.extract(
        html, output_format="markdown", include_tables=True, include_links=False, include_images=False,
        include_comments=False, include_formatting=True, favor_recall=True, with_metadata=False,
        deduplicate=False,
    )
    if not text or not text.strip():
        raise DocumentRejected(f"{name}: no readable text was found in this HTML page")
    meta = trafilatura.extract_metadata(html)
    title = (meta.title or "").strip() or None if meta is not None else None
    return read_markdown(text.strip() + "\n", fmt="html", title=title)
