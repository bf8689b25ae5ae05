"""Paged text: a PDF's pages, or plain text laid out in pages (an RFC, ``pdftotext`` output).

Both carry running headers and footers at the page edges and break sentences
and words over page turns. :func:`read_pages` sets the running lines aside and
joins what the page turns broke; :func:`split_pages` finds the pages of a plain
text file that has them.
"""

from __future__ import annotations

import re
from collections import Counter

from .blocks import Block, Extracted
from .text import _lines, read_text

_DIGITS = re.compile(r"\d+")
_EDGE_LINES = 3  # at most this many running lines are taken from a page's top, and from its bottom
# A page whose text ends on one of these closes its last sentence; any other end is mid-sentence.
_CLOSED = re.compile(r"""[.!?:;…"'”’)\]]\s*$""")
# A word broken over a line by the typesetter: "infor-\nmation". Between two lowercase letters the
# hyphen and the break are the layout's, not the author's; left in, the word is two unknown terms.
_BROKEN_WORD = re.compile(r"(\w*[a-z])-\n([a-z][\w'’]*)([ \t]?)")
_MIN_PAGES = 3  # a line must recur on this many pages (and on half of them) to be a running one


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


def split_pages(text: str) -> list[str] | None:
    """The pages of a plain text laid out in pages, or None if it is not.

    Form feeds separate pages where they are kept. Where they were lost (most
    copies of RFCs online), a page ends at a line that recurs with its number
    counting up by one each time ("Klensin, et al.   Standards Track   [Page 2]"):
    a numbered line seen once, or numbers that do not count pages (a list's
    "Step 1", "Step 2" recur once each), do not make pages.
    """
    if text.count("\f") >= _MIN_PAGES - 1:
        return text.split("\f")
    numbered: dict[str, list[tuple[int, int]]] = {}  # key -> (line end, the line's numbers)
    for s, e, _ in _lines(text):
        line = text[s:e]
        if e - s > 120 or not line.strip() or not _DIGITS.search(line):
            continue
        numbered.setdefault(_key(line), []).append((e, [int(n) for n in _DIGITS.findall(line)]))
    best: list[int] = []
    counting = ""  # the key of the numbered line
    for key, seen in numbered.items():
        if len(seen) < _MIN_PAGES:
            continue
        for pos in range(len(seen[0][1])):  # which of the line's numbers counts the pages
            numbers = [ns[pos] if len(ns) > pos else None for _, ns in seen]
            if all(b is not None and a is not None and b == a + 1 for a, b in zip(numbers, numbers[1:])):
                if len(seen) > len(best):
                    best, counting = [end for end, _ in seen], key
                break
    if not best:
        return None
    starts = [0] + best
    pages = [text[a:b] for a, b in zip(starts, best + [len(text)])]
    # Numbered headings count up too ("Chapter 1", "Chapter 2"). Pages also repeat a second line at
    # their edges (the running header across from the numbered footer), and a page is a page of
    # text: most of them keep lines of their own once the running lines are set aside.
    running = _running(pages)
    filled = [[line for line in page.split("\n") if line.strip()] for page in pages]
    if not running - {counting} or not any(_key(line) in running - {counting}
                                           for lines in filled for line in lines[:_EDGE_LINES] + lines[-_EDGE_LINES:]):
        return None
    own = sorted(sum(_key(line) not in running for line in lines) for lines in filled)
    return pages if own[len(own) // 2] >= _MIN_PAGES else None


def _running(pages: list[str]) -> set[str]:
    """The keys of the lines that recur on most pages, numbers ignored."""
    if len(pages) < _MIN_PAGES:
        return set()
    seen = Counter(k for k, _ in {(_key(page[s:e]), n) for n, page in enumerate(pages) for s, e, _ in _lines(page) if e > s})
    return {k for k, c in seen.items() if c >= max(_MIN_PAGES, len(pages) // 2)}


def _edge_only(pages: list[str]) -> set[str]:
    """Keys of the lines found at a page's top or bottom on three pages or more and nowhere else.

    Running heads that change with the chapter ("Chapter 3  Results" over that chapter's
    pages) recur on fewer than half the pages; their place, always at the edge, tells them.
    """
    at_edge: Counter[str] = Counter()
    inside: set[str] = set()
    for page in pages:
        lines = [_key(line) for line in page.split("\n") if line.strip()]
        edge = set(lines[:2] + lines[-2:])
        at_edge.update(edge)
        inside.update(k for k in lines[2:-2] if k not in edge)
    return {k for k, n in at_edge.items() if n >= _MIN_PAGES and k not in inside}


def read_pages(pages: list[str], fmt: str) -> Extracted:
    """Read a document's pages into one text, with its running lines set aside.

    A line that recurs on most pages once its numbers are ignored ("Report
    2024 - page 3") is a running header or footer, not content. At the top or
    bottom of a page it is moved out of the flow, to the end of the extracted
    text (still recorded as chrome), so that a paragraph broken by a page turn
    reads on without the footer inside it: a passage is one span of the text,
    and the sentence "... donated US$1,000 in 2008 in support of / California's
    Proposition 8" was cut in two around "Report - page 1". Elsewhere on a
    page such a line is set aside where it stands. A word hyphenated over a line
    or page break is joined again.

    Args:
        pages: Each page's text, in order.
        fmt: Name of the format, for :attr:`Extracted.format`.

    Returns:
        The extracted text (the pages' bodies, then the running lines) with its
        blocks, and page spans numbered from 1.
    """
    running = _running(pages)
    # A head found only at the edges is running from its second page on: on its first it is the
    # chapter's own heading ("Chapter 3  Results" above the chapter), and stays in the text.
    edge_only = _edge_only(pages) - running if len(pages) >= _MIN_PAGES else set()
    first_page: dict[str, int] = {}
    for number, page in enumerate(pages, 1):
        for line in page.split("\n"):
            if _key(line) in edge_only:
                first_page.setdefault(_key(line), number)

    def is_running(line: str, page: int | None = None) -> bool:
        if len(line) > 120 or not line.strip():
            return False
        key = _key(line)
        return key in running or (page is not None and key in edge_only and page > first_page[key])

    bodies: list[str] = []
    edges: list[tuple[str, int]] = []  # (running line, page number), in page order
    for number, page in enumerate(pages, 1):
        lines = page.strip().split("\n")
        top, bottom = [], []
        # A header or footer is a line or two (title, page number, date), not a page of text.
        while lines and len(top) < _EDGE_LINES and is_running(lines[0], number):
            top.append(lines.pop(0).strip())
            while lines and not lines[0].strip():
                lines.pop(0)
        while lines and len(bottom) < _EDGE_LINES and is_running(lines[-1], number):
            bottom.insert(0, lines.pop().strip())
            while lines and not lines[-1].strip():
                lines.pop()
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
    # A PDF's text layer may put a page's header among its lines (its order is the layout's, not the
    # reading order), so there a running line is set aside wherever it stands. A text file is in
    # reading order: within a page, a line it repeats on every page is its own ("Example:").
    body_end = spans[-1][1] if spans and fmt == "pdf" else 0
    for s, e, _ in _lines(text[:body_end]):
        if e > s and is_running(text[s:e]):
            preset[s] = Block("chrome", s, e, rule="running header or footer")
    return read_text(text, fmt=fmt, preset=preset, pages=tuple(spans))
