"""What the staleness check costs a cold `qa ask` over a corpus of PDFs, DOCX and HTML pages.

`qa ask --corpus DIR` checks whether DIR changed since the index was built, in every fresh
process. Measured as whole processes, interleaved so that machine noise hits all alike:

* ``ask``: `qa ask` with the check, over the fixture documents (tests/fixtures: 17 documents,
  a PDF, a DOCX and two HTML pages among them) and the interview;
* ``no check``: the same `qa ask` with ``--corpus`` naming no folder, so the check is skipped
  (the baseline of the same run);
* ``other``: with ``--other SRC``, `qa ask` with the check, importing the package from SRC
  instead (another checkout, e.g. before a change).

    python bench/stale_check.py [--runs 5] [--other SRC] [--small] [--json OUT]

``--small`` keeps only the PDF and DOCX fixtures (for `make test`'s smoke run).

The index is built once in a temporary folder by the package under measurement.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, pct

QUESTION = "Where does the name Mozilla come from?"


def corpus_of_fixtures(dest: Path, small: bool = False) -> Path:
    """The interview and the fixture documents (only the PDF and DOCX ones if ``small``), in ``dest``."""
    dest.mkdir(parents=True)
    if not small:
        shutil.copy(ROOT / "corpus" / "optics_valley_interview.txt", dest)
    suffixes = (".pdf", ".docx") if small else (".txt", ".md", ".html", ".pdf", ".docx")
    for path in sorted((ROOT / "tests" / "fixtures").iterdir()):
        if path.is_file() and path.suffix in suffixes and path.name != "FIXTURES.md":
            shutil.copy(path, dest)
    return dest


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--other", help="a source tree whose qa package is measured too (PYTHONPATH)")
    ap.add_argument("--small", action="store_true", help="only the PDF and DOCX fixtures")
    ap.add_argument("--json")
    a = ap.parse_args()
    from qa import build_index

    with tempfile.TemporaryDirectory() as tmp:
        corpus = corpus_of_fixtures(Path(tmp) / "corpus", a.small)
        index = Path(tmp) / "index"
        documents = build_index(corpus, index).files
        base = [sys.executable, "-m", "qa.cli", "ask", QUESTION, "--index", str(index)]
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        cases = {"ask": (base + ["--corpus", str(corpus)], env),
                 "no check": (base + ["--corpus", str(Path(tmp) / "absent")], env)}
        if a.other:
            cases["other"] = (base + ["--corpus", str(corpus)], {**env, "PYTHONPATH": a.other})
        times: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(a.runs):
            for name, (cmd, e) in cases.items():
                t = time.perf_counter()
                proc = subprocess.run(cmd, capture_output=True, text=True, env=e, cwd=tmp)
                times[name].append(time.perf_counter() - t)
                if proc.returncode != 0 or "has changed since" in proc.stderr:
                    raise SystemExit(f"error: {name}: {proc.stderr.strip()[-300:]}")
    med = {k: pct(v, 50) for k, v in times.items()}
    out = {"documents": documents, "runs": a.runs,
           **{f"{k} s (median)": round(v, 2) for k, v in med.items()},
           **{f"{k} / no check": round(v / med["no check"], 2) for k, v in med.items() if k != "no check"}}
    print(json.dumps(out, indent=2))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
