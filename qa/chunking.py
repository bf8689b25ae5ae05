"""Split a document into passages that each answer something on their own.

The splitter reads structure rather than counting characters:

* page chrome (menus, breadcrumbs, bare timestamps, bylines, "related news"
  link lists) is recognised by its shape and dropped;
* short lines without closing punctuation are section headings;
* ``Name: text`` paragraphs are speaker turns; a speaker whose turns are mostly
  questions is the interviewer, and each question is kept with its answer;
* ``【Background information】`` style blocks stand on their own;
* everything else is packed paragraph by paragraph, then sentence by sentence.

Every passage records ``start``/``end`` offsets such that
``text[start:end] == passage.text``, so a hit can always be traced back to
the exact span of its source.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator

# Bump whenever the output of `chunk_text` changes for the same input: the
# index manifest records it, and a different version forces a re-chunk.
CHUNKER_VERSION = 5

MAX_CHARS = 1500  # hard upper bound for one passage's text
TARGET_CHARS = 900  # packing stops adding paragraphs past this size

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
_WORD = re.compile(r"\w+", re.UNICODE)
_TIMESTAMP = re.compile(
    r"^[\s\d:/\-.,年月日时分秒T]*\d[\s\d:/\-.,年月日时分秒T]*$"
)
_SPEAKER = re.compile(r"^(?P<label>[^\W\d_][^:：\n]{0,48}?)\s*[:：]\s*(?P<rest>\S[\s\S]*)$")
_BACKGROUND = re.compile(r"^[【\[](?P<label>[^】\]\n]{1,40})[】\]]")
_MD_HEADING = re.compile(r"^#{1,6}\s+")
_LIST_ITEM = re.compile(r"^\s*([-*+•·]|\d{1,3}[.)])\s+")
_BREADCRUMB_SEP = re.compile(r"\s*[>»›|/]\s*")
# Words that make up site furniture rather than content, in any scraped page:
# menus, account links, sharing widgets, comment boxes.
_UI_WORDS = {
    "home", "menu", "mobile", "app", "open", "login", "log", "in", "on", "out",
    "sign", "up", "register", "registered", "turn", "share", "it", "comment",
    "comments", "top", "print", "subscribe", "follow", "us", "back", "next",
    "previous", "more", "search", "hot", "news", "related", "recommended",
    "recommendation", "download", "contact", "about", "privacy", "terms",
    "cookie", "cookies", "skip", "to", "content", "main", "navigation", "close",
    "like", "tweet", "email", "rss", "feed", "channel", "text", "page", "view",
}
_BYLINE = re.compile(
    r"^(editor(\s+in\s+charge)?|responsible\s+editor|edited\s+by|author|source|"
    r"reporter|photo(graph)?s?(\s+by)?|copyright|all\s+rights\s+reserved|©|"
    r"hot\s*search|tags?|keywords?|disclaimer)\b",
    re.IGNORECASE,
)
# Lines after which a page lists other articles: everything short that follows
# is a link list, not content, until prose resumes.
_LINK_LIST_MARKER = re.compile(
    r"^(related|recommended|you\s+may\s+also\s+like|read\s+more|more\s+(news|stories|articles)|"
    r"further\s+reading|popular|trending|top\s+comments|latest\s+news)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Passage:
    """A span of a document, with the context needed to understand it alone.

    Attributes:
        text: ``source_text[start:end]``.
        start: Offset of the first character in the source text.
        end: Offset one past the last character.
        kind: ``"answer"`` (an interview question and/or its answer),
            ``"background"``, or ``"text"``.
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


@dataclass
class _Para:
    start: int
    end: int
    text: str
    kind: str = "plain"  # plain | chrome | heading | background | turn
    label: str | None = None  # speaker or background label
    body_start: int = 0  # offset where the text after the label begins


# --------------------------------------------------------------------------
# Paragraphs and their roles


def _paragraphs(text: str) -> list[_Para]:
    """Runs of non-blank lines, split again where a line opens a new turn."""
    paras: list[_Para] = []
    block: list[tuple[int, int]] = []

    def flush() -> None:
        if block:
            paras.append(_Para(block[0][0], block[-1][1], text[block[0][0] : block[-1][1]]))
            block.clear()

    pos = 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if not stripped.strip("\ufeff\u200b"):  # a lone byte-order mark is blank too
            flush()
        else:
            lead = len(line) - len(line.lstrip())
            start = pos + lead
            end = start + len(stripped)
            # A speaker label, heading marker or bracketed label starts a new
            # paragraph even without a blank line before it.
            if block and (
                _SPEAKER.match(stripped) and _is_label(_SPEAKER.match(stripped).group("label"))
                or _MD_HEADING.match(stripped)
                or _BACKGROUND.match(stripped)
            ):
                flush()
            block.append((start, end))
        pos += len(line)
    flush()
    return paras


def _words(s: str) -> list[str]:
    return _WORD.findall(s)


def _is_label(label: str) -> bool:
    words = label.split()
    return 1 <= len(words) <= 6 and not any(c in label for c in ".!?,;\"“”()")


def _ends_open(s: str) -> bool:
    """True when a line has no closing punctuation (headings, menu items)."""
    return bool(s) and s.rstrip()[-1] not in _TERMINAL


def _is_ui_line(line: str) -> bool:
    words = [w.lower() for w in _words(line)]
    if not words or len(words) > 6 or not _ends_open(line):
        return False
    return sum(w in _UI_WORDS for w in words) / len(words) >= 0.6


def _is_breadcrumb(line: str) -> bool:
    parts = [p for p in _BREADCRUMB_SEP.split(line) if p.strip()]
    if len(parts) < 2 or not _BREADCRUMB_SEP.search(line) or not _ends_open(line):
        return False
    return all(len(_words(p)) <= 3 for p in parts)


def _is_prose(p: _Para) -> bool:
    """A paragraph that reads as running text: it cannot be site furniture."""
    return len(p.text) >= 100 or (len(_words(p.text)) >= 8 and not _ends_open(p.text))


def _classify(paras: list[_Para]) -> None:
    # Menus and widget lines sit above and below the content of a scraped page,
    # so those shapes count as chrome only outside the first and last prose
    # paragraphs. A short note with no prose at all is all content.
    prose = [i for i, p in enumerate(paras) if _is_prose(p)]
    first, last = (prose[0], prose[-1]) if prose else (len(paras), -1)
    for i, p in enumerate(paras):
        lines = [ln.strip() for ln in p.text.splitlines() if ln.strip()]
        words = _words(p.text)
        at_edge = i < first or i > last
        listed = bool(_LIST_ITEM.match(lines[0]))
        if not prose:
            p.kind = "heading" if _MD_HEADING.match(lines[0]) and len(lines) == 1 else "plain"
        elif _TIMESTAMP.match(p.text) and any(c.isdigit() for c in p.text) and len(p.text) <= 40:
            p.kind = "chrome"
        elif at_edge and all(_is_ui_line(ln) or _is_breadcrumb(ln) for ln in lines):
            p.kind = "chrome"
        elif at_edge and len(lines) >= 2 and not listed and all(
                len(_words(ln)) <= 6 and _ends_open(ln) for ln in lines):
            p.kind = "chrome"  # a stack of short links: a menu
        elif _BYLINE.match(lines[0]) and len(p.text) <= 120:
            p.kind = "chrome"
        elif m := _BACKGROUND.match(p.text):
            p.kind, p.label, p.body_start = "background", m.group("label").strip(), p.start + m.end()
        elif _MD_HEADING.match(lines[0]) and len(lines) == 1:
            p.kind = "heading"
        elif len(lines) == 1 and not listed and 0 < len(words) <= 20 and _ends_open(lines[0]) \
                and len(lines[0]) <= 160:
            p.kind = "heading"
        elif (m := _SPEAKER.match(p.text)) and _is_label(m.group("label")):
            p.kind, p.label = "turn", m.group("label").strip()
            p.body_start = p.start + m.start("rest")
    _drop_link_lists(paras)


def _drop_link_lists(paras: list[_Para]) -> None:
    """Mark "related news" style lists as chrome.

    Two shapes are recognised: a marker line ("related news", "recommended",
    ...) followed by short lines until prose resumes, and two or more
    consecutive "headline, timestamp" pairs anywhere.
    """
    in_list = False
    for p in paras:
        if _LINK_LIST_MARKER.match(p.text) and len(p.text) <= 60:
            p.kind, in_list = "chrome", True
        elif in_list and len(p.text) <= 200 and p.kind != "turn":
            p.kind = "chrome"
        else:
            in_list = False

    def is_time(p: _Para) -> bool:
        return bool(_TIMESTAMP.match(p.text)) and len(p.text) <= 40

    i = 0
    while i < len(paras) - 1:
        j = i
        while j + 1 < len(paras) and not is_time(paras[j]) and is_time(paras[j + 1]) and len(paras[j].text) <= 200:
            j += 2
        if (j - i) // 2 >= 2:
            for p in paras[i:j]:
                p.kind = "chrome"
            i = j
        else:
            i += 1


def _interviewers(paras: list[_Para]) -> set[str]:
    """Speakers whose turns are mostly questions."""
    asked: Counter[str] = Counter()
    spoke: Counter[str] = Counter()
    for p in paras:
        if p.kind == "turn" and p.label:
            key = p.label.lower()
            spoke[key] += 1
            asked[key] += "?" in p.text or "？" in p.text
    return {k for k, n in spoke.items() if asked[k] * 2 > n}


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
        ):
            continue  # "Dr. Li", "J. Smith": not a sentence end
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


def _chunk_sentences(
    text: str, a: int, b: int, spans: list[tuple[int, int]], body: dict[int, int], limit: int
) -> list[tuple[int, int]]:
    """Sentences of the chunk ``text[a:b]``, leaving out speaker labels."""
    out: list[tuple[int, int]] = []
    for ps, pe in spans:
        lo, hi = max(a, ps), min(b, pe)
        if lo >= hi:
            continue
        if lo == ps:
            lo = body.get(ps, ps)
        out.extend(_pieces(text, lo, hi, limit))
    return out


def _clean(s: str) -> str:
    return " ".join(s.split())


def chunk_text(
    text: str, *, target_chars: int = TARGET_CHARS, max_chars: int = MAX_CHARS
) -> list[Passage]:
    """Split a document into passages.

    Args:
        text: The document, already decoded.
        target_chars: Paragraphs are packed together up to about this size.
        max_chars: No passage is longer than this.

    Returns:
        Passages in document order; ``text[p.start:p.end] == p.text`` for each.
    """
    paras = _paragraphs(text)
    if not paras:
        return []
    _classify(paras)
    interviewers = _interviewers(paras)

    passages: list[Passage] = []
    title: str | None = None
    section: str | None = None
    # The unit being collected: its kind, its question (if any) and its spans.
    unit: dict = {}
    # Where each paragraph's content starts, past a speaker or background
    # label: labels are not content, so sentences (and embeddings) skip them.
    body = {p.start: max(p.start, p.body_start) for p in paras}

    def flush() -> None:
        spans = unit.get("spans") or []
        if spans:
            for a, b in _pack(text, spans, target_chars, max_chars):
                passages.append(
                    Passage(
                        text=text[a:b], start=a, end=b, kind=unit["kind"], section=section,
                        question=unit.get("question"), title=title,
                        sentences=tuple(_chunk_sentences(text, a, b, spans, body, max_chars)),
                    )
                )
        unit.clear()

    def open_unit(kind: str, question: str | None = None) -> None:
        flush()
        unit.update(kind=kind, question=question, spans=[], answered=False)

    for p in paras:
        if p.kind == "chrome":
            continue
        if p.kind == "heading":
            flush()
            section = _clean(_MD_HEADING.sub("", p.text))
            title = title or section
        elif p.kind == "background":
            open_unit("background")
            unit["spans"].append((p.start, p.end))
        elif p.kind == "turn" and p.label and p.label.lower() in interviewers:
            open_unit("answer", _clean(text[p.body_start : p.end]))
            unit["spans"].append((p.start, p.end))
        elif p.kind == "turn":
            if not unit or (unit["kind"] != "answer"):
                open_unit("text")
            unit["spans"].append((p.start, p.end))
        else:
            if not unit:
                open_unit("text")
            unit["spans"].append((p.start, p.end))
    flush()
    return passages
