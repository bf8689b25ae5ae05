"""What every reader produces: the extracted text and typed blocks with offsets into it.

A reader turns one file format into an :class:`Extracted`: the text that
passage offsets will refer to (the file's own text for ``.txt`` and ``.md``,
but for a ``.txt`` laid out in pages, whose running lines move to its end; the
text pulled out of HTML, PDF and DOCX otherwise) and a list of
:class:`Block` spans over it, in document order. One packer
(:func:`qa.chunking.pack`) then makes passages from the blocks, whatever the
format was.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Content blocks are packed into passages; the others are recorded, not indexed as text.
CONTENT_KINDS = frozenset({"question", "answer", "turn", "paragraph", "list_item", "table_row"})
BLOCK_KINDS = CONTENT_KINDS | {"title", "heading", "metadata", "chrome"}


@dataclass(frozen=True)
class Block:
    """A typed span of the extracted text.

    Attributes:
        kind: One of ``BLOCK_KINDS``: ``title``, ``heading``, ``question``,
            ``answer`` (an answer or a speaker's turn that answers), ``turn``,
            ``paragraph``, ``list_item``, ``table_row``, ``metadata`` or ``chrome``.
        start: Offset of the first character.
        end: Offset one past the last character.
        body_start: Where the content begins, past a speaker label, a ``Q:``
            label, a list marker or a heading's ``#`` marks.
        label: The speaker label (``"Li Bing"``, ``"Q"``), if any.
        level: Heading level (1 for a top heading), 0 otherwise.
        rule: For ``chrome`` and ``metadata``: the rule that set the block
            aside, so that ``qa inspect`` can say why.
    """

    kind: str
    start: int
    end: int
    body_start: int | None = None
    label: str | None = None
    level: int = 0
    rule: str | None = None

    @property
    def body(self) -> int:
        return self.start if self.body_start is None else self.body_start


@dataclass(frozen=True)
class Extracted:
    """A document as read: its text, its blocks, and what was learnt about it.

    Attributes:
        text: The text the offsets refer to.
        blocks: Typed spans of ``text`` in order, not overlapping.
        title: The document's title (front matter, HTML ``<title>``, DOCX
            Title style, or the first top heading), if any.
        pages: ``(start, end, page_number)`` spans, for formats with pages.
        format: The reader that produced it (``"text"``, ``"markdown"``, ...).
    """

    text: str
    blocks: tuple[Block, ...]
    title: str | None = None
    pages: tuple[tuple[int, int, int], ...] = field(default=())
    format: str = "text"

    def page_at(self, offset: int) -> int | None:
        for start, end, number in self.pages:
            if start <= offset < end:
                return number
        return None
