"""Plain text, and text copied from web pages: lines into paragraphs, paragraphs into blocks.

Text comes in two layouts: hard-wrapped (every line ends near the same
width, and a paragraph runs over several lines) and one paragraph per line
(what copying a web page gives). The wrap width decides which one a line
break is, so both read the same way.
"""

from __future__ import annotations

import re

import numpy as np

from .blocks import Block, Extracted
from .labels import LIST_ITEM, MD_HEADING, TABLE_ROW, TIMESTAMP_LINE, find_label
from .structure import faq_list_items, mark_chrome, paragraph_block, settle_dialogue


def _lines(text: str) -> list[tuple[int, int, int]]:
    """``(start, end, indent)`` of each line's stripped content; blank lines have start == end."""
    out, pos = [], 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        stripped = body.strip().strip("\ufeff\u200b")
        if not stripped:
            out.append((pos, pos, 0))
        else:
            lead = body.find(stripped)
            out.append((pos + lead, pos + lead + len(stripped), lead))
        pos += len(line)
    return out


def _opens_block(s: str) -> bool:
    """A line that starts something new even without a blank line before it."""
    return bool(find_label(s) or MD_HEADING.match(s) or LIST_ITEM.match(s) or TABLE_ROW.match(s)
                or TIMESTAMP_LINE.match(s))


def paragraphs(text: str, lines: list[tuple[int, int, int]] | None = None,
               alone: frozenset[int] = frozenset()) -> list[tuple[int, int]]:
    """Paragraph spans of ``text``: runs of lines that belong together.

    Args:
        text: The text.
        lines: Its lines, if already split (see :func:`_lines`).
        alone: Start offsets of lines that are paragraphs by themselves.

    Returns:
        ``(start, end)`` spans, stripped, in order.
    """
    lines = _lines(text) if lines is None else lines
    filled = [(s, e, ind) for s, e, ind in lines if e > s]
    if not filled:
        return []
    lengths = np.array([e - s + ind for s, e, ind in filled])
    width = float(np.percentile(lengths, 95))
    # Hard-wrapped text has a width; pasted pages have long single-line paragraphs.
    wrapped = len(filled) >= 5 and width <= 110
    spans: list[tuple[int, int]] = []
    cur: list[tuple[int, int, int]] = []

    def flush() -> None:
        if cur:
            spans.append((cur[0][0], cur[-1][1]))
            cur.clear()

    for s, e, ind in lines:
        if e == s:
            flush()
            continue
        line = text[s:e]
        if cur:
            ps, pe, pind = cur[-1]
            prev = text[ps:pe]
            first_word = line.split(None, 1)[0]
            # "CDR: ..." or "- item" followed by indented continuation lines
            hanging = ind > cur[0][2] and bool(find_label(text[cur[0][0]:cur[0][1]]) or LIST_ITEM.match(text[cur[0][0]:cur[0][1]]))
            would_not_fit = (pe - ps + pind) + 1 + len(first_word) > 0.8 * width
            joined = (s not in alone and ps not in alone and not _opens_block(line) and not TIMESTAMP_LINE.match(prev) and not MD_HEADING.match(prev)
                      and (hanging or (wrapped and would_not_fit)))
            if not joined:
                flush()
        cur.append((s, e, ind))
    flush()
    return spans


# "1.1 Purpose", "2.3.4 Limits": a numbered section heading, at whatever indentation.
_SECTION_NUMBER = re.compile(r"^\d+(\.\d+)+\.?\s")


def _indented_lines_are_content(text: str, blocks: list[Block]) -> list[Block]:
    """A short open line indented deeper than the text above it is not a heading.

    It is a command, a file name or a URL set in from the text ("make install",
    "GET /chat HTTP/1.1", "See" under a numbered question): as a heading it would cut
    the answer it belongs to from its question and label every passage after it. "The
    text above" is the last block that is not itself such a line, so that every line of
    an indented example is compared with the prose that introduces it. A centred line,
    one in capitals ("CHAPTER II") and a numbered section ("1.1 Purpose") stay headings.
    """
    lines = _lines(text)
    filled = [(s, e, len(text[s - ind:s].expandtabs(8))) for s, e, ind in lines if e > s]
    if not filled:
        return blocks
    indent = {s: ind for s, _, ind in filled}  # columns before each line, a tab counting as 8
    width = float(np.percentile([e - s + ind for s, e, ind in filled], 95))

    def stays(b: Block, ind: int) -> bool:
        line = text[b.start:b.end]
        centred = abs(ind - (width - len(line)) / 2) <= max(4.0, 0.1 * width)
        return centred or line.isupper() or bool(_SECTION_NUMBER.match(line))

    out: list[Block] = []
    ref: int | None = None  # indentation of the last block that is not a line known only by its shape
    for b in blocks:
        ind = indent.get(b.start, 0)
        if b.kind == "heading" and not b.level:
            # Two columns at least: pasted text jitters by one ("     Differentiation: ...").
            demote = ref is not None and ind >= ref + 2 and not stays(b, ind)
            out.append(Block("paragraph", b.start, b.end) if demote else b)
            continue
        ref = ind
        out.append(b)
    return out


def read_text(text: str, *, fmt: str = "text", preset: dict[int, Block] | None = None,
              pages: tuple[tuple[int, int, int], ...] = ()) -> Extracted:
    """Read plain text (or text extracted from a PDF) into blocks.

    Args:
        text: The decoded text.
        fmt: Name of the format, for :attr:`Extracted.format`.
        preset: Blocks already decided by the caller, keyed by start offset
            (a PDF's running headers and footers); their paragraphs are not re-read.
        pages: Page spans to carry into the result.

    Returns:
        The :class:`Extracted` text with its blocks.
    """
    preset = preset or {}
    blocks = []
    for s, e in paragraphs(text, alone=frozenset(preset)):
        blocks.append(preset.get(s) or paragraph_block(text, s, e))
    blocks = faq_list_items(text, _indented_lines_are_content(text, settle_dialogue(blocks, text)))
    blocks = mark_chrome(text, blocks)
    title = None
    for b in blocks:
        if b.kind == "heading":
            title = " ".join(text[b.body:b.end].split()).strip("#* ")
            break
        if b.kind not in ("chrome", "metadata"):
            break
    return Extracted(text, tuple(blocks), title=title, pages=pages, format=fmt)
