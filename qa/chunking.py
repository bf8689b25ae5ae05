"""Passages: one packer that turns any reader's blocks into passages that answer on their own.

Readers (:mod:`qa.readers`) decide what each span of a document is: title,
heading, question, answer or speaker turn, paragraph, list item, table row,
metadata or chrome. This module decides how the content is grouped:

* each question is kept with its answer: the passage starts at the question,
  and when a long answer is split, each part carries the question as metadata;
  a FAQ heading that ends in "?" is the question of the text below it;
* a speaker whose turns are mostly questions is the interviewer, whatever
  the label says; other turns are answers, or, in a transcript with no
  interviewer, turns packed together;
* ``【Background information】`` style notes stand on their own;
* everything else is packed block by block up to about 900 characters, and
  long blocks are cut at sentence ends;
* a heading with nothing under it (a short last line) is content, never lost.

Every passage records ``start``/``end`` offsets such that
``text[start:end] == passage.text``, and has at least one sentence.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator

from .readers import Block, Extracted
from .readers.labels import is_question

# Bump whenever the passages a document is indexed as change for the same input (`pack`,
# `qa.indexing.document_passages`, or `qa.lexical.tokenize`, which the BM25 files hold):
# the index manifest records it, and a different version forces a re-chunk.
CHUNKER_VERSION = 30

MAX_CHARS = 1500  # hard upper bound for one passage's text
TARGET_CHARS = 900  # packing stops adding paragraphs past this size
# Speaker turns with no interviewer (meetings, transcripts) are packed to this size. Smaller
# sizes were tried by bench/turn_size.py: 450 won on the fit half of the fixture documents
# (one meeting) but did not on the report half (hit@1 equal, hit@3 lower), so turns are
# packed like everything else.
TURN_TARGET_CHARS = TARGET_CHARS

_TERMINAL = ".!?。！？…;；:\"”’)）"
_SENTENCE_END = re.compile(
    # A sentence ends at . ! ? (or CJK stops), optionally followed by closing
    # quotes/brackets, when what follows is whitespace + something that can
    # start a sentence, or a capitalised word glued on without a space (a
    # common artefact of machine translation: "development.Our positioning").
    r"""(?:[.!?…]+["”’)\]]*(?=\s+["“'(\[]?[A-Z0-9])"""
    r"""|[.!?]+["”’)\]]*(?=[A-Z][a-z])"""
    r"""|[。！？]+["”’）」]*)"""
)
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "no", "vs", "e.g", "i.e",
    "inc", "ltd", "co", "jr", "sr", "fig", "al", "approx", "dept", "u.s", "u.k",
}
# Abbreviations that end a sentence only when no number follows: "Nov. 4, 2009", "p. 12", "vol. 3".
_BEFORE_NUMBER = {"jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
                  "p", "pp", "vol", "ch", "sec", "art", "para", "nr"}
_BACKGROUND = re.compile(r"^【(?P<label>[^】\n]{1,40})】(?=\S)")

@dataclass(frozen=True)
class Passage:
    """A span of a document, with the context needed to understand it alone.

    Attributes:
        text: ``source_text[start:end]``.
        start: Offset of the first character in the source text.
        end: Offset one past the last character.
        kind: ``"answer"`` (a question and/or its answer: interviews, FAQs),
            ``"turn"`` (speaker turns with no question: transcripts),
            ``"background"``, ``"table"`` or ``"text"``.
        section: The heading this passage sits under, if any.
        question: The interviewer's question this passage answers, if any.
        title: The document's title (its first heading), if any.
        sentences: ``(start, end)`` source offsets of each sentence.
        page: The page the passage starts on (PDF), if the format has pages.
        speaker: The label of the speaker who answers or talks, if any.
    """

    text: str
    start: int
    end: int
    kind: str = "text"
    section: str | None = None
    question: str | None = None
    title: str | None = None
    sentences: tuple[tuple[int, int], ...] = field(default=())
    page: int | None = None
    speaker: str | None = None


# --------------------------------------------------------------------------
# Sentences


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` into sentences.

    Args:
        text: The full source text (offsets are relative to it).
        start: Where the span begins.
        end: Where the span ends; defaults to ``len(text)``.

    Returns:
        ``(start, end)`` offsets of each sentence, stripped of surrounding
        whitespace, covering the span in order.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for m in _SENTENCE_END.finditer(text, start, end):
        cut = m.end()
        before = text[cursor : m.start()]
        last_word = before.rsplit(None, 1)[-1].lower() if before.split() else ""
        last_word = last_word.lstrip("(\"“'")
        if m.group().startswith(".") and (
            last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha())
            or (last_word in _BEFORE_NUMBER and text[cut:cut + 12].lstrip()[:1].isdigit())
        ):
            continue  # "Dr. Li", "J. Smith", "Nov. 4": not a sentence end
        _add_span(text, cursor, cut, spans)
        cursor = cut
    _add_span(text, cursor, end, spans)
    return spans


def _add_span(text: str, a: int, b: int, out: list[tuple[int, int]]) -> None:
    seg = text[a:b]
    lead = len(seg) - len(seg.lstrip())
    trail = len(seg) - len(seg.rstrip())
    if b - trail > a + lead:
        out.append((a + lead, b - trail))


def _hard_split(text: str, a: int, b: int, limit: int) -> Iterator[tuple[int, int]]:
    """Cut an over-long sentence at whitespace (or anywhere, if it has none)."""
    while b - a > limit:
        cut = text.rfind(" ", a + limit // 2, a + limit)
        cut = cut if cut > a else a + limit
        yield a, cut
        a = cut
        while a < b and text[a].isspace():
            a += 1
    if b > a:
        yield a, b


def _pieces(text: str, a: int, b: int, limit: int) -> list[tuple[int, int]]:
    """Sentences of ``text[a:b]``, each at most ``limit`` characters."""
    out: list[tuple[int, int]] = []
    for s, e in sentence_spans(text, a, b):
        out.extend(_hard_split(text, s, e, limit))
    return out


# --------------------------------------------------------------------------
# Packing


def _pack(
    text: str, spans: list[tuple[int, int]], target: int, limit: int
) -> list[tuple[int, int]]:
    """Group consecutive paragraph spans into chunks of about ``target`` chars.

    A paragraph longer than ``limit`` is cut at sentence boundaries first.
    """
    units: list[tuple[int, int]] = []
    for a, b in spans:
        if b - a <= limit:
            units.append((a, b))
        else:
            units.extend(_pack_sentences(text, a, b, target, limit))
    chunks: list[tuple[int, int]] = []
    for a, b in units:
        if chunks and b - chunks[-1][0] <= limit and chunks[-1][1] - chunks[-1][0] < target \
                and (b - chunks[-1][0]) <= target + target // 3:
            chunks[-1] = (chunks[-1][0], b)
        else:
            chunks.append((a, b))
    return chunks


def _pack_sentences(text: str, a: int, b: int, target: int, limit: int) -> list[tuple[int, int]]:
    chunks: list[tuple[int, int]] = []
    for s, e in _pieces(text, a, b, limit):
        if chunks and e - chunks[-1][0] <= target:
            chunks[-1] = (chunks[-1][0], e)
        else:
            chunks.append((s, e))
    return chunks


def _clean(s: str) -> str:
    """A heading or question as plain words: no Markdown marks, one space between words."""
    return " ".join(s.replace("**", "").replace("__", "").split()).strip("#*_ ") or s.strip()


def _pull_quote(heading: str) -> bool:
    """A "heading" that is a sentence of more than 20 words and not a question: a pull quote
    or an answer set in a heading style (web pages do both). As a section it would label every
    later passage and be searchable in none."""
    clean = _clean(heading)
    end = clean.rstrip("”\"’')»*_ ")
    return len(clean.split()) > 20 and bool(end) and end[-1] in ".!。！…"


def _interviewers(text: str, blocks: list[Block]) -> set[str]:
    """Speakers whose turns are mostly questions."""
    asked: Counter[str] = Counter()
    spoke: Counter[str] = Counter()
    for b in blocks:
        if b.kind == "turn" and b.label:
            key = b.label.lower()
            spoke[key] += 1
            asked[key] += "?" in text[b.start:b.end] or "？" in text[b.start:b.end]
    return {k for k, n in spoke.items() if asked[k] * 2 > n}


def _ends_question(label: str, asks: bool, asker: str, answerer: str | None, interviewers: set[str]) -> bool:
    """Whether a speaker's turn ends the pair that a labelled question opened.

    The asker speaking again without a question ("Right.", a new topic) closes it, as does a
    question from anyone but the one answering (a co-host who is not counted as interviewer,
    a guest turning to another guest). The answerer's own "you know?" does not.
    """
    if label == asker or label in interviewers:
        return True  # an interviewer's question opened a new pair before this is reached
    return asks and bool(answerer) and label != (answerer or "").lower()


def _has_content_below(blocks: list[Block], i: int) -> bool:
    """Whether heading ``i`` has anything under it before the next heading of its level or above."""
    level = blocks[i].level or 7  # a heading known only by its shape ranks below every marked one
    for b in blocks[i + 1:]:
        if b.kind in ("metadata", "chrome"):
            continue
        if b.kind == "heading":
            if not blocks[i].level and not b.level:
                continue  # shape-only headings in a row ("SeaMonkey", "SeaMonkey logo") head what follows them
            return (b.level or 7) > level
        return True
    return False


def is_indexed_metadata(block: Block) -> bool:
    """Whether a metadata block is indexed all the same: a byline, or a mail's headers, answers
    "who wrote it, and when"."""
    return block.kind == "metadata" and block.rule in ("byline", "mail headers")


def pack(doc: Extracted, *, target_chars: int = TARGET_CHARS, max_chars: int = MAX_CHARS) -> list[Passage]:
    """Make passages from a read document.

    Args:
        doc: The document as a reader extracted it (see :func:`qa.readers.read`).
        target_chars: Blocks are packed together up to about this size.
        max_chars: No passage is longer than this.

    Returns:
        Passages in document order; ``doc.text[p.start:p.end] == p.text`` for each,
        and each has at least one sentence.
    """
    text = doc.text
    blocks = [b for b in doc.blocks if b.end > b.start]
    # A heading with nothing under it is content: a short last line, a lone label.
    blocks = [Block("paragraph", b.start, b.end) if b.kind == "heading" and not _has_content_below(blocks, i)
              else b for i, b in enumerate(blocks)]
    interviewers = _interviewers(text, blocks)
    # A table's header row, known by the rule under it: a passage that goes on with the table's later
    # rows carries it in its section, as it carries a heading ("$90.00 | 300" says nothing alone).
    header_rows = {b.start for b, nxt in zip(blocks, blocks[1:])
                   if b.kind == "table_row" and nxt.kind == "metadata" and nxt.rule == "table rule"}
    title = doc.title
    passages: list[Passage] = []
    path: list[tuple[int, str]] = []  # the headings above, as (level, text): "Setup › Linux"
    unit: dict = {}

    def flush() -> None:
        # A FAQ heading with no answer below it is still content: it becomes its own passage.
        units: list[Block] = unit.get("blocks") or ([unit["pending"]] if unit.get("pending") else [])
        if units:
            spans = [(b.start, b.end) for b in units]
            body = {b.start: b.body for b in units}
            size = min(target_chars, TURN_TARGET_CHARS) if unit["kind"] == "turn" else target_chars
            ends = [b.end for b in units]  # in order: blocks do not overlap
            seen, talking, header = 0, None, None
            for a, z in _pack(text, spans, size, max_chars):
                # Only the blocks under this passage: a subtitle file or a long transcript is one
                # unit of thousands of blocks, and a scan of all of them per passage was quadratic.
                lo, hi = bisect.bisect_right(ends, a), bisect.bisect_left(spans, (z, z))
                sentences = _chunk_sentences(text, a, z, units[lo:hi], body, max_chars) or [(a, z)]
                # Who is talking where this passage starts: the last answering turn begun at or
                # before it (a later part of a pair may start inside another speaker's turn).
                while seen < len(units) and units[seen].start <= a:
                    b = units[seen]
                    if b.label and b.kind in ("turn", "answer") and b.label.lower() not in interviewers:
                        talking = b.label
                    header = b if b.start in header_rows else header if b.kind == "table_row" else None
                    seen += 1
                speaker = talking or unit.get("speaker") or next(
                    (b.label for b in units[lo:hi] if b.label and a <= b.start < z and b.kind in ("turn", "answer")),
                    None)
                places = [s for _, s in path]
                if header is not None and header.start < a:
                    places.append(" | ".join(c.strip() for c in text[header.start:header.end].strip().strip("|").split("|")))
                passages.append(Passage(
                    text=text[a:z], start=a, end=z, kind=unit["kind"], section=" › ".join(places) or None,
                    question=unit.get("question"), title=title, sentences=tuple(sentences),
                    page=doc.page_at(a), speaker=speaker,
                ))
        unit.clear()

    def open_unit(kind: str, question: str | None = None, asker: str | None = None) -> None:
        flush()
        unit.update(kind=kind, question=question, asker=asker, blocks=[], speaker=None, pending=None)

    seen_title = False
    for b in blocks:
        if b.kind == "chrome" and unit.get("blocks"):
            # A passage is one contiguous span: it must not run over a page footer
            # or an ad between two paragraphs, so the unit goes on in a new passage.
            kept = {k: unit[k] for k in ("kind", "question", "speaker", "asker")}
            flush()
            unit.update(kept, blocks=[], pending=None)
        if is_indexed_metadata(b):
            # Who wrote it and when is asked about: the byline is not a section or content
            # of the text around it, but a small passage of its own.
            open_unit("text")
            unit["blocks"].append(Block("paragraph", b.start, b.end))
            flush()
            continue
        if b.kind in ("metadata", "chrome", "title"):
            continue
        body = text[b.body:b.end]
        if b.kind == "heading" and _pull_quote(body):
            b = Block("paragraph", b.start, b.end, body_start=b.body_start)
        if b.kind == "heading":
            if b.level or not unit.get("heads_only"):
                flush()
            is_title = not seen_title and doc.title is not None and _clean(body) == _clean(doc.title)
            seen_title = True
            if is_question(body) and not is_title:  # a FAQ: the text below answers this heading
                # It ends the sections of its level and below, as any heading does ("## I get a
                # blank page." is not the section of the "## How do I ...?" after it).
                while path and path[-1][0] >= (b.level or 7):
                    path.pop()
                open_unit("answer", _clean(body))
                unit["pending"] = b
            elif not is_title:
                level = b.level or 7  # known only by its shape: below every marked heading
                while path and path[-1][0] >= level:
                    path.pop()
                path.append((level, _clean(body)))
                if not b.level:
                    # A heading known only by its shape may be a line of content ("Mike Conley",
                    # "Users can now import logins from KeePass"): it places the text below it and
                    # stays searchable text itself, as the first line of the passage below it.
                    # Several in a row ("SeaMonkey", "SeaMonkey logo") open one passage together.
                    if not unit.get("heads_only"):
                        open_unit("text")
                        unit["heads_only"] = True
                    unit["blocks"].append(Block("paragraph", b.start, b.end))
            title = title or _clean(body)
            continue
        if unit:
            unit["heads_only"] = False  # the passage has content now: the next heading starts another
        asks = "?" in body or "？" in body
        if b.kind == "question" or (b.kind == "turn" and b.label and b.label.lower() in interviewers and asks):
            # An interviewer's "Hi, everybody!" is a turn like any other; only a question opens a pair.
            open_unit("answer", _clean(body), asker=b.label.lower() if b.label else None)
            unit["blocks"].append(b)
        elif b.kind in ("answer", "turn"):
            if (b.kind == "turn" and b.label and unit.get("kind") == "answer" and unit.get("asker")
                    and _ends_question(b.label.lower(), asks, unit["asker"], unit["speaker"], interviewers)):
                # The question no longer says what the talk is about: its asker has moved on, or
                # someone else asked another. Carried further, a co-host's question of ten minutes
                # before becomes the question of every later passage of a panel.
                open_unit("turn")
            if not unit or unit["kind"] not in ("answer", "turn"):
                open_unit("turn")
            if b.kind == "turn" and unit["kind"] == "answer" and not unit["speaker"]:
                unit["speaker"] = b.label
            unit["blocks"].append(b)
        elif b.kind == "paragraph" and (m := _BACKGROUND.match(text[b.start:b.end])):
            open_unit("background")
            unit["blocks"].append(Block(b.kind, b.start, b.end, body_start=b.start + m.end()))
            flush()
        elif b.kind == "table_row":
            if not unit or unit["kind"] not in ("table", "answer"):
                open_unit("table")
            unit["blocks"].append(b)
        else:
            if not unit or unit["kind"] in ("table", "background"):
                open_unit("text")
            unit["blocks"].append(b)
    flush()
    return passages


def _chunk_sentences(text: str, a: int, b: int, blocks: list[Block], body: dict[int, int],
                     limit: int) -> list[tuple[int, int]]:
    """Sentences of the chunk ``text[a:b]``, leaving out labels and list markers.

    List items and table rows are one sentence each (unless too long): their
    lines are not prose, and splitting them by punctuation would glue items.
    """
    out: list[tuple[int, int]] = []
    for blk in blocks:
        lo, hi = max(a, blk.start), min(b, blk.end)
        if lo >= hi:
            continue
        if lo == blk.start:
            lo = min(body.get(blk.start, blk.start), hi)
        if blk.kind in ("list_item", "table_row") and hi - lo <= limit:
            _add_span(text, lo, hi, out)
        else:
            out.extend(_pieces(text, lo, hi, limit))
    return out


def chunk_text(text: str, *, target_chars: int = TARGET_CHARS, max_chars: int = MAX_CHARS) -> list[Passage]:
    """Split a plain-text document into passages (the text reader, then :func:`pack`).

    Args:
        text: The document, already decoded.
        target_chars: Blocks are packed together up to about this size.
        max_chars: No passage is longer than this.

    Returns:
        Passages in document order; ``text[p.start:p.end] == p.text`` for each.
    """
    from .readers.text import read_text

    return pack(read_text(text), target_chars=target_chars, max_chars=max_chars)
