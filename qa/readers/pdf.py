"""PDF: the text of each page with pypdf, page spans kept, running headers and footers set aside."""

from __future__ import annotations

import io
import re
from collections import Counter

from ..errors import DocumentRejected
from .blocks import Block, Extracted
from .text import _lines, read_text

_DIGITS = re.compile(r"\d+")
# A page whose text ends on one of these closes its last sentence; any other end is mid-sentence.
_CLOSED = re.compile(r"""[.!?:;…"'”’)\]]\s*$""")
# A word broken over a line by the typesetter: "infor-\nmation". Between two lowercase letters the
# hyphen and the break are the layout's, not the author's; left in, the word is two unknown terms.
_BROKEN_WORD = re.compile(r"(?<=[a-z])-\n(?=[a-z])")


def _key(line: str) -> str:
    return _DIGITS.sub("#", line).strip()


def read_pdf(data: bytes, name: str) -> Extracted:
    """Extract a PDF's text page by page.

    A line that recurs on most pages once its numbers are ignored ("Report
    2024 - page 3") is a running header or footer, not content. At the top or
    bottom of a page it is moved out of the flow, to the end of the extracted
    text (still recorded as chrome), so that a paragraph broken by a page turn
    reads on without the footer inside it: a passage is one span of the text,
    and the sentence "... donated US$1,000 in 2008 in support of / California's
    Proposition 8" was cut in two around "Report - page 1". Elsewhere on a
    page such a line is set aside where it stands. A word hyphenated over a line
    or page break is joined again.

    Raises:
        DocumentRejected: The file is not a readable PDF, is encrypted, or has no text layer.
    """
    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DocumentRejected(f"{name}: the PDF is encrypted; save an unprotected copy and add that")
        pages = [(page.extract_text() or "").replace("\x00", "") for page in reader.pages]
    except DocumentRejected:
        raise
    except Exception as exc:  # pypdf raises many types for damaged files
        raise DocumentRejected(f"{name}: not a readable PDF ({exc.__class__.__name__}); re-save or export it again") from None
    if not any(p.strip() for p in pages):
        raise DocumentRejected(f"{name}: the PDF has no text layer (a scan?); run OCR on it first")
    running: set[str] = set()
    if len(pages) >= 3:
        seen = Counter(k for k, _ in {(_key(page[s:e]), n) for n, page in enumerate(pages) for s, e, _ in _lines(page) if e > s})
        running = {k for k, c in seen.items() if c >= max(3, len(pages) // 2)}

    def is_running(line: str) -> bool:
        return len(line) <= 120 and bool(line.strip()) and _key(line) in running

    bodies: list[str] = []
    edges: list[tuple[str, int]] = []  # (running line, page number), in page order
    for number, page in enumerate(pages, 1):
        lines = page.strip().split("\n")
        top, bottom = [], []
        while lines and is_running(lines[0]):
            top.append(lines.pop(0).strip())
        while lines and is_running(lines[-1]):
            bottom.insert(0, lines.pop().strip())
        edges += [(line, number) for line in top + bottom]
        bodies.append(_BROKEN_WORD.sub("", "\n".join(lines).strip()))
    parts, spans, pos = [], [], 0
    for number, body in enumerate(bodies, 1):
        if not body:
            continue
        if parts:
            if re.search(r"[a-z]-$", parts[-1]) and body[0].islower():
                # The word goes on over the page turn: its hyphen goes, and its page ends one sooner.
                parts[-1] = parts[-1][:-1]
                pos -= 1
                spans[-1] = (spans[-1][0], pos, spans[-1][2])
                gap = ""
            else:
                # One newline keeps a sentence that runs over the page turn in its paragraph.
                gap = "\n" if not _CLOSED.search(parts[-1]) else "\n\n"
            parts.append(gap)
            pos += len(gap)
        parts.append(body)
        spans.append((pos, pos + len(body), number))
        pos += len(body)
    preset: dict[int, Block] = {}
    if edges:
        parts.append("\n\n")
        pos += 2
        for i, (line, _) in enumerate(edges):
            if i:
                parts.append("\n")
                pos += 1
            preset[pos] = Block("chrome", pos, pos + len(line), rule="running header or footer")
            parts.append(line)
            pos += len(line)
    text = "".join(parts)
    body_end = spans[-1][1] if spans else 0
    for s, e, _ in _lines(text[:body_end]):
        if e > s and is_running(text[s:e]):
            preset[s] = Block("chrome", s, e, rule="running header or footer")
    return read_text(text, fmt="pdf", preset=preset, pages=tuple(spans))
