"""PDF: the text of each page with pypdf, page spans kept, running headers and footers set aside."""

from __future__ import annotations

import io
import re
import unicodedata
from collections import Counter

from ..errors import DocumentRejected
from .blocks import Block, Extracted
from .text import _lines, read_text

_DIGITS = re.compile(r"\d+")
_EDGE_LINES = 3  # at most this many running lines are taken from a page's top, and from its bottom
# A page whose text ends on one of these closes its last sentence; any other end is mid-sentence.
_CLOSED = re.compile(r"""[.!?:;…"'”’)\]]\s*$""")
# A word broken over a line by the typesetter: "infor-\nmation". Between two lowercase letters the
# hyphen and the break are the layout's, not the author's; left in, the word is two unknown terms.
_BROKEN_WORD = re.compile(r"(\w*[a-z])-\n([a-z][\w'’]*)([ \t]?)")
# Typeset ligatures ("ﬁ", "ﬂ", "ﬀ"): a reader types "fi", and "deﬁnition" would never match it.
_LIGATURES = {ord(c): unicodedata.normalize("NFKC", c) for c in "\ufb00\ufb01\ufb02\ufb03\ufb04\ufb05\ufb06"}


def _join_broken_words(page: str, vocabulary: set[str]) -> str:
    """Join words hyphenated over a line end, keeping the line structure.

    The rest of the word moves up to the first half's line and the break stays
    where it was, so the lines keep their lengths (the text reader measures the
    wrap width on them: joined lines were twice as long and read as short
    headings). The hyphen is kept when the document writes the word with one
    elsewhere ("mixed-mode"), since then it is the author's.
    """
    def join(m: re.Match) -> str:
        head, tail = m.group(1), m.group(2)
        hyphen = "-" if f"{head}-{tail}".lower() in vocabulary else ""
        return f"{head}{hyphen}{tail}\n"

    return _BROKEN_WORD.sub(join, page)


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
        pages = [(page.extract_text() or "").replace("\x00", "").translate(_LIGATURES) for page in reader.pages]
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
        # A header or footer is a line or two (title, page number, date), not a page of text.
        while lines and len(top) < _EDGE_LINES and is_running(lines[0]):
            top.append(lines.pop(0).strip())
        while lines and len(bottom) < _EDGE_LINES and is_running(lines[-1]):
            bottom.insert(0, lines.pop().strip())
        edges += [(line, number) for line in top + bottom]
        bodies.append("\n".join(lines).strip())
    # Words the document hyphenates within a line: their hyphen is the author's wherever they break.
    hyphenated = {w.lower() for body in bodies for w in re.findall(r"\w+(?:-\w+)+", body)}
    bodies = [_join_broken_words(body, hyphenated) for body in bodies]
    parts, spans, pos = [], [], 0
    for number, body in enumerate(bodies, 1):
        if not body:
            continue
        if parts:
            broken, rest = re.search(r"(\w*[a-z])-$", parts[-1]), re.match(r"([a-z][\w'’]*)[ \t]?", body)
            if broken and rest:
                # The word goes on over the page turn: its rest moves up to the page it began on.
                hyphen = "-" if f"{broken.group(1)}-{rest.group(1)}".lower() in hyphenated else ""
                parts[-1] = parts[-1][:-1] + hyphen + rest.group(1)
                pos += len(hyphen) + len(rest.group(1)) - 1
                spans[-1] = (spans[-1][0], pos, spans[-1][2])
                body = body[rest.end():]
                body = body[1:] if body.startswith("\n") else body
                if not body:
                    continue
                gap = "\n"
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
