"""Plain text, and text copied from web pages: lines into paragraphs, paragraphs into blocks.

Text comes in two layouts: hard-wrapped (every line ends near the same
width, and a paragraph runs over several lines) and one paragraph per line
(what copying a web page gives). The wrap width decides which one a line
break is, so both read the same way.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from .blocks import Block, Extracted
from .labels import (ANSWER_LABELS, CLOCK, LIST_ITEM, MD_HEADING, QUESTION_LABELS, TABLE_ROW, TIMESTAMP_LINE, Label,
                     ends_open, find_label, is_chat_line, words)
from .structure import chrome_rule, faq_list_items, mark_chrome, paragraph_block, settle_dialogue


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


def _opens_block(s: str, runs_on: bool = False, speakers: frozenset[str] = frozenset()) -> bool:
    """A line that starts something new even without a blank line before it.

    With ``runs_on`` (the line above fills the wrap width and stops mid-sentence, on a
    word or a comma), a line that only looks like a label goes on with the sentence:
    "... values might appear in / Internet protocols:  this document focuses on ...".
    A label that opens other lines of the document (``speakers``) is one all the same:
    a transcript without punctuation stops every turn on a word.
    """
    if MD_HEADING.match(s) or LIST_ITEM.match(s) or TABLE_ROW.match(s) or TIMESTAMP_LINE.match(s):
        return True
    label = find_label(s)
    return label is not None and (not runs_on or label.name in speakers)


def paragraphs(text: str, lines: list[tuple[int, int, int]] | None = None,
               alone: frozenset[int] = frozenset(), join: bool = False) -> list[tuple[int, int]]:
    """Paragraph spans of ``text``: runs of lines that belong together.

    Args:
        text: The text.
        lines: Its lines, if already split (see :func:`_lines`).
        alone: Start offsets of lines that are paragraphs by themselves.
        join: Lines run on to the next blank line whatever the wrap width (wiki markup,
            whose paragraphs end only at a blank line).

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
    opening = Counter(label.name for s, e, _ in filled if (label := find_label(text[s:e])))
    speakers = frozenset(name for name, n in opening.items() if n >= 2)

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
            runs_on = wrapped and would_not_fit and (prev[-1].isalnum() or prev[-1] == ",")
            joined = (s not in alone and ps not in alone and not _opens_block(line, runs_on, speakers) and not TIMESTAMP_LINE.match(prev) and not MD_HEADING.match(prev)
                      and (hanging or join or (wrapped and would_not_fit)))
            if not joined:
                flush()
        cur.append((s, e, ind))
    flush()
    return spans


# "1.1 Purpose", "2.3.4 Limits": a numbered section heading, at whatever indentation.
_SECTION_NUMBER = re.compile(r"^\d+(\.\d+)+\.?\s")


def _indented_lines_are_content(text: str, blocks: list[Block], lines: list[tuple[int, int, int]]) -> list[Block]:
    """A short open line indented deeper than the text above it is not a heading.

    It is a command, a file name or a URL set in from the text ("make install",
    "GET /chat HTTP/1.1", "See" under a numbered question): as a heading it would cut
    the answer it belongs to from its question and label every passage after it. "The
    text above" is the last block that is not itself such a line, so that every line of
    an indented example is compared with the prose that introduces it. A centred line,
    one in capitals ("CHAPTER II") and a numbered section ("1.1 Purpose") stay headings.
    """
    filled = [(s, e, len(text[s - ind:s].expandtabs(8))) for s, e, ind in lines if e > s]
    if not filled:
        return blocks
    indent = {s: ind for s, _, ind in filled}  # columns before each line, a tab counting as 8
    width = float(np.percentile([e - s + ind for s, e, ind in filled], 95))

    def stays(b: Block, ind: int) -> bool:
        line = text[b.start:b.end]
        centred = ind >= 8 and abs(ind - (width - len(line)) / 2) <= max(4.0, 0.1 * width)
        return centred or line.isupper() or bool(_SECTION_NUMBER.match(line))

    out: list[Block] = []
    ref: int | None = None  # indentation of the last block that is not a line known only by its shape
    for b in blocks:
        ind = indent.get(b.start, 0)
        if b.kind == "heading":  # by its shape, or a "# comment" in an indented example
            # Two columns at least: pasted text jitters by one ("     Differentiation: ...").
            demote = ref is not None and ind >= ref + 2 and not stays(b, ind)
            out.append(Block("paragraph", b.start, b.end) if demote else b)
            continue
        # Lines set in as deep (an example's output) do not move the margin the next lines are
        # compared with; prose does (ten words or more, closed like a sentence).
        para = text[b.start:b.end]
        if ref is None or ind < ref + 2 or (len(words(para)) >= 10 and not ends_open(para)):
            ref = ind
        out.append(b)
    return out


# "1. Introduction ........ 2", "Appendix A . . . . . 14": a table of contents' dot leader and page number.
_LEADER_LINE = re.compile(r"^\S.{0,118}?(?:[ \t]?\.){4,}[ \t]*\d{1,4}$")


def _is_contents(para: str) -> bool:
    """Whether a paragraph is (part of) a table of contents: lines led by dots to a page number.

    As text it repeats every heading of the document with page numbers, and would match any
    question about any section better than the section does. Its other lines are titles
    wrapped over two lines: short ones.
    """
    rows = [line.strip() for line in para.split("\n") if line.strip()]
    led = sum(bool(_LEADER_LINE.match(row)) for row in rows)
    return led >= 1 and 2 * led >= len(rows) and all(
        _LEADER_LINE.match(row) or len(words(row)) <= 8 for row in rows)


def _scribed_turns(text: str, blocks: list[Block]) -> list[Block]:
    """In minutes taken in a chat, the scribe's lines speak for others: "<mnot> Domenic: ...".

    A nick is a scribe when five or more of its lines, and half of them at least, open with a
    speaker's label; those lines are then that speaker's turns. One who addresses others
    ("<bob> alice: did you see it?") does so on a few of their lines, not on most.
    """
    inner: dict[int, Label] = {}
    lines: Counter[str] = Counter()
    for i, b in enumerate(blocks):
        if b.kind == "turn" and b.label and is_chat_line(text[b.start:b.end]):
            lines[b.label] += 1
            label = find_label(text[b.body:b.end])
            if label is not None and label.role == "speaker" and label.name != b.label:
                inner[i] = label
    scribes = {nick for nick, n in Counter(blocks[i].label for i in inner).items()
               if n >= 5 and 2 * n >= lines[nick]}
    return [Block("turn", b.start, b.end, body_start=b.body + inner[i].body, label=inner[i].name)
            if i in inner and b.label in scribes else b for i, b in enumerate(blocks)]


_SECTION_ITEM = re.compile(r"\d{1,3}\.[ \t]+")  # "1.  Introduction": a plain text's numbered section


def _numbered_sections(text: str, blocks: list[Block]) -> list[Block]:
    """A numbered line on its own between paragraphs of prose is a section heading, not a list.

    Plain text numbers its sections as a list numbers its items ("1.  Introduction", as in
    an RFC or a report). What tells them apart is what is around the line: a list's items
    follow one another, while a section's line is short, open, and has prose (not another
    item) on both sides, or starts the document.
    """
    content = [i for i, b in enumerate(blocks) if b.kind not in ("chrome", "metadata")]
    out = list(blocks)
    for n, i in enumerate(content):
        b = blocks[i]
        line = text[b.start:b.end]
        if b.kind != "list_item" or "\n" in line or not _SECTION_ITEM.match(line) or not ends_open(line) \
                or line.rstrip().endswith(",") or not 0 < len(words(line[b.body - b.start:])) <= 12:
            continue
        after = blocks[content[n + 1]] if n + 1 < len(content) else None
        before = blocks[content[n - 1]] if n else None
        if after is not None and after.kind == "paragraph" and (before is None or before.kind != "list_item"):
            out[i] = Block("heading", b.start, b.end, level=0)
    return out


# "JANE SMITH", "Dr. Tom Lee", "Speaker 2  0:42": a name on a line of its own, perhaps with a time.
_NAME_LINE = re.compile(rf"^(?P<name>[^\W\d_][\w.'’ -]{{0,38}}?)(?:[ \t]+{CLOCK.pattern})?$")


def _name_lines_are_speakers(text: str, blocks: list[Block]) -> list[Block]:
    """A transcript that sets each speaker's name on a line above what they say.

    Read by shape, such a name is a heading, and every turn becomes a section named
    after its speaker, with no turn and no question paired with its answer. The shape
    is a dialogue when two names or more head two turns each, the names head most (four
    in five) of the headings that are not a turn's own short reply ("Yeah"), and there
    are three turns or more for each name: API documentation repeats "Parameters" and
    "Returns" as often, but between headings that do not repeat; a diary's "Monday" or a
    timetable's "Lunch 12:30" come back once or twice. Then a name line in the same case
    as the others ("CALLER" among "JANE SMITH" and "TOM LEE") speaks once too. Each name
    and the paragraphs under it become one turn, up to the next heading or a line of page
    chrome ("© 2024 Example Radio", which stays chrome).
    """
    def name(b: Block) -> str | None:
        if b.kind != "heading" or b.level:
            return None
        m = _NAME_LINE.match(text[b.start:b.end])
        return m.group("name").strip() if m and 1 <= len(words(m.group("name"))) <= 4 else None

    def said_by(i: int) -> bool:  # what follows name i is its turn's words (a short reply is a heading too)
        return i + 1 < len(blocks) and (blocks[i + 1].kind == "paragraph" or (
            blocks[i + 1].kind == "heading" and not blocks[i + 1].level
            and (names.get(i + 1) is None or seen[names[i + 1].lower()] == 1)))

    heads = [i for i, b in enumerate(blocks) if b.kind == "heading"]
    names = {i: name(blocks[i]) for i in heads}
    seen = Counter(n.lower() for n in names.values() if n)
    said = Counter(n.lower() for i, n in names.items() if n and said_by(i))
    repeated = {n for n, c in said.items() if c >= 2}
    turns = [i for i in heads if names[i] and names[i].lower() in repeated and said_by(i)]
    replies = {i + 1 for i in turns if blocks[i + 1].kind == "heading"}
    others = [i for i in heads if i not in replies]
    if len(repeated) < 2 or len(turns) < 0.8 * len(others) or len(turns) < 3 * len(repeated):
        return blocks
    upper = all(names[i].isupper() for i in turns)
    out: list[Block] = []
    i = 0
    while i < len(blocks):
        b = blocks[i]
        who = names.get(i)
        if who and (who.lower() in repeated or (upper and who.isupper())) and said_by(i):
            j = i + 1
            while j + 1 < len(blocks) and blocks[j + 1].kind == "paragraph" \
                    and not chrome_rule(text[blocks[j + 1].start:blocks[j + 1].end].strip()):
                j += 1
            role = "question" if QUESTION_LABELS.match(who) else "answer" if ANSWER_LABELS.match(who) else "turn"
            out.append(Block(role, b.start, blocks[j].end, body_start=blocks[i + 1].start, label=who))
            i = j + 1
            continue
        out.append(b)
        i += 1
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
    head_end, subject = _mail_headers(text) if not pages else (0, None)
    blocks = [Block("metadata", 0, head_end, rule="mail headers")] if head_end else []
    lines = _lines(text)  # shared by the paragraph split and the indentation pass
    wiki = not pages and _is_mediawiki(text, lines)
    adoc = not pages and not wiki and _is_asciidoc(text, lines)
    # In wiki markup and AsciiDoc every line that opens with markup is a paragraph of its own.
    alone = frozenset(preset)
    closing: Counter[str] = Counter()  # AsciiDoc block delimiters not yet met, by their line
    if wiki:
        alone |= frozenset(a for a, b, _ in lines if b > a and text[a] in _WIKI_MARKS)
    elif adoc:
        alone |= frozenset(a for a, b, _ in lines if b > a and (
            _ADOC_HEADING.match(text, a, b) or _ADOC_LINE.fullmatch(text, a, b) or _ADOC_DELIMITER.fullmatch(text, a, b)
            or _ADOC_LIST.match(text, a, b)))
        closing = Counter(text[a:b] for a, b, _ in lines if b > a and _ADOC_DELIMITER.fullmatch(text, a, b))
    # A paragraph that runs on past the headers (no blank line after them) starts where they end.
    spans = [(head_end + len(text[head_end:e]) - len(text[head_end:e].lstrip()) if s < head_end else s, e)
             for s, e in paragraphs(text, lines, alone=alone, join=wiki) if e > head_end]
    underlined = {} if adoc else _underlined_headings(text, [sp for sp in spans if sp[0] not in preset])
    listing: str | None = None  # the delimiter of the AsciiDoc literal block we are in
    inner = [] if pages else _inner_mail_headers(text, lines, head_end)
    k = 0  # the next run of inner headers: spans and runs are both in order
    for s, e in spans:
        while k < len(inner) and inner[k][1] <= s:
            k += 1
        if k < len(inner) and inner[k][0] <= s:
            if not blocks or blocks[-1].start != inner[k][0]:
                blocks.append(Block("metadata", inner[k][0], inner[k][1], rule="mail headers"))
            continue
        if s in preset:
            blocks.append(preset[s])
        elif wiki:
            blocks.append(_wiki_block(text, s, e))
        elif adoc:
            delim = _ADOC_DELIMITER.fullmatch(text, s, e)
            if delim and (listing is None or text[s:e] == listing):
                blocks.append(Block("metadata", s, e, rule="asciidoc markup"))
                closing[text[s:e]] -= 1
                # Listing, literal, passthrough and comment blocks: their lines are not markup (or, in a
                # comment, not text). A delimiter that is never closed opens nothing.
                if listing:
                    listing = None
                elif text[s] in "-.+`/" and closing[text[s:e]] > 0:
                    listing = text[s:e]
            elif listing and listing.startswith("/"):
                blocks.append(Block("metadata", s, e, rule="asciidoc comment"))
            elif listing:
                blocks.append(Block("paragraph", s, e))
            else:
                blocks.append(_adoc_block(text, s, e))
        elif s in underlined:  # the heading, and its rule when one paragraph holds both
            blocks.extend(underlined[s])
        elif _DIRECTIVE.match(text, s):
            blocks.extend(_directive(text, s, e))
        elif _is_contents(text[s:e]):
            blocks.append(Block("metadata", s, e, rule="table of contents"))
        else:
            blocks.append(paragraph_block(text, s, e))
    blocks = _indented_lines_are_content(text, settle_dialogue(blocks, text), lines)
    blocks = _numbered_sections(text, faq_list_items(text, _scribed_turns(text, _name_lines_are_speakers(text, blocks))))
    # The contents' own heading ("Table of Contents", "Contents") goes with them: left alone it
    # heads nothing but the first section. A numbered one ("3. Methods" over its own contents) stays.
    blocks = [Block("metadata", b.start, b.end, rule="table of contents")
              if b.kind == "heading" and i + 1 < len(blocks) and blocks[i + 1].rule == "table of contents"
              and not _SECTION_ITEM.match(text, b.start) and not _SECTION_NUMBER.match(text, b.start) else b
              for i, b in enumerate(blocks)]
    # The short lines at the end of a paged document (a PDF, an RFC) are the author's (an infobox, a
    # table of key and value, the authors' addresses), not a site's menu: as in Markdown, only a run
    # of links is one. Its running lines are found page by page (.pages).
    blocks = mark_chrome(text, blocks, authored=bool(pages))
    title = None
    for b in blocks:
        if b.kind == "heading":  # a numbered section ("1. Introduction") is not the document's title
            title = None if _SECTION_ITEM.match(text, b.start) else " ".join(text[b.body:b.end].split()).strip("#* ")
            break
        if b.kind not in ("chrome", "metadata"):
            break
    return Extracted(text, tuple(blocks), title=title or subject, pages=pages, format=fmt)


# An e-mail's or a news post's header lines: "From:", "Subject:", "Date:" ... (RFC 5322).
_MAIL_KEYS = frozenset("from to cc bcc subject date reply-to sender message-id in-reply-to references "
                       "content-type content-transfer-encoding mime-version organization newsgroups".split())
_HEADER_LINE = re.compile(r"([A-Za-z][\w-]{0,30}):[ \t]")


def _header_field(line: str, folded: bool, keys: set[str]) -> str | None:
    """What one line of a block of mail headers is: a known header's name ("subject"), "" for a
    line that goes on the block (a folded line, or a field of another name such as "X-Mailer:"
    once a known one was met), None for a line that ends it. A known name is added to ``keys``."""
    m = _HEADER_LINE.match(line)
    key = m.group(1).lower() if m else ""
    if key in _MAIL_KEYS:
        keys.add(key)
        return key
    if keys and (folded or (m and ("-" in key or key.startswith("x-")))):
        return ""
    return None


def _mail_headers(text: str) -> tuple[int, str | None]:
    """End of a block of mail headers that opens the text (0 if none), and its Subject.

    From the first line on: known header names, a From or a Subject among them and two at
    least; lines that start with white space continue the header above (folded headers);
    other names count when they read as header fields ("X-Mailer:", "Content-Language:").
    The block ends at a blank line or at the first line that is none of these, so that
    "Abstract: In this article ..." or "Alice: We should ship" stays text.
    """
    pos, keys, subject = 0, set(), None
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        field = _header_field(body, body[:1] in " \t" and bool(body.strip()), keys)
        if field is None:
            break
        if field == "subject":
            subject = body[body.index(":") + 1:].strip() or None
        pos += len(line)
    if len(keys) < 2 or not keys & {"from", "subject"}:
        return 0, None
    return len(text[:pos].rstrip()), subject


def _inner_mail_headers(text: str, lines: list[tuple[int, int, int]], after: int) -> list[tuple[int, int]]:
    """Spans of the mail headers of the messages further down a file (a digest, a saved thread):
    a paragraph of header lines only, between blank lines, with a From or a Subject among
    two known headers or more. A digest's "Message: 2" may open it."""
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(lines):
        a, b, _ = lines[i]
        if b == a or a < after or (i and lines[i - 1][1] > lines[i - 1][0]):
            i += 1
            continue
        keys: set[str] = set()
        j, end = i, a
        while j < len(lines) and lines[j][1] > lines[j][0]:
            s, e, ind = lines[j]
            line = text[s:e]
            # The lines are stripped: " " stands for the space after an empty field's colon.
            if _header_field(line + " ", bool(ind) and j > i, keys) is None \
                    and not (j == i and re.fullmatch(r"Message:\s*\d+", line)):
                break
            end = e
            j += 1
        if (j == len(lines) or lines[j][1] == lines[j][0]) and len(keys) >= 2 and keys & {"from", "subject"}:
            out.append((a, end))
        i = j + 1 if j > i else i + 1
    return out


# MediaWiki markup: "== Heading ==" lines, "#" and "*" lists, ";" and ":" lines, "{| ... |}" tables.
_WIKI_HEADING = re.compile(r"(={1,6})[ \t]*([^=\s](?:[^\n]*?[^=\s])?)[ \t]*\1[ \t]*$")
_WIKI_MARKS = frozenset("=#*:;{|!<")
_WIKI_LIST = re.compile(r"[#*:;]+[ \t]*")


def _is_mediawiki(text: str, lines: list[tuple[int, int, int]]) -> bool:
    """Whether a text file is MediaWiki markup: two "== Heading ==" lines at least."""
    heads = sum(1 for a, b, ind in lines if b > a and not ind and (m := _WIKI_HEADING.match(text, a, b))
                and len(m.group(1)) >= 2)
    return heads >= 2


def _wiki_block(text: str, start: int, end: int) -> Block:
    """A paragraph of MediaWiki markup by its first characters: a heading's level is its "=" marks
    less one (so "== Abstract ==" is a top heading), "#" and "*" open list items, table markup
    ("{|", "|-", "|}") and lone tags ("<pre>") are markup, table rows ("| a || b", "! Key") rows."""
    para = text[start:end]
    if m := _WIKI_HEADING.match(para):
        return Block("heading", start, start + m.end(2), body_start=start + m.start(2),
                     level=max(1, len(m.group(1)) - 1))
    if para.startswith(("{|", "|-", "|}")) or re.fullmatch(r"(?:</?[A-Za-z][^<>\n]*>\s*)+", para):
        return Block("metadata", start, end, rule="wiki markup")
    if para.startswith(("|", "!")):
        return Block("table_row", start, end)
    if m := _WIKI_LIST.match(para):
        if m.end() < len(para):
            return Block("list_item", start, end, body_start=start + m.end())
    return paragraph_block(text, start, end)


# AsciiDoc: "== Section" headings (no closing marks), "[source,console]" attributes, "----" block
# delimiters, "(((index, terms)))", "image::" and "include::" lines, "// comments".
_ADOC_HEADING = re.compile(r"(={1,6})[ \t]+([^\W\d_`*](?:.*[^\s=])?)[ \t]*$")
_ADOC_DELIMITER = re.compile(r"(-{4,}|\.{4,}|\*{4,}|_{4,}|\+{4,}|={4,}|/{4,}|`{3,})[ \t]*")
# A whole line of markup: "[source,console]", "(((index, terms)))", "image::x.png[]", "// note", ":toc:".
_ADOC_LINE = re.compile(r"\[[^\]\n]*\]|\(\(\([^\n]*?\)\)\)|(?:image|include|ifdef|ifndef|endif)::[^\n]*|//(?!/)[^\n]*"
                        r"|:[\w-]+:(?:[ \t][^\n]*)?")
_ADOC_LIST = re.compile(r"(?:\*{1,5}|\.{1,5}|-)[ \t]+(?=\S)")


def _is_asciidoc(text: str, lines: list[tuple[int, int, int]]) -> bool:
    """Whether a text file is AsciiDoc: two "== Section" lines at least (without the closing
    marks of MediaWiki's "== Section ==") and an attribute line or a block delimiter."""
    heads = markup = 0
    for a, b, ind in lines:
        if b == a or ind:
            continue
        if (m := _ADOC_HEADING.match(text, a, b)) and len(m.group(1)) >= 2:
            heads += 1
        elif _ADOC_LINE.fullmatch(text, a, b) and not text.startswith("//", a):
            markup += 1
    return heads >= 2 and markup >= 1


def _adoc_block(text: str, start: int, end: int) -> Block:
    """A paragraph of AsciiDoc outside literal blocks: a heading's level is its "=" marks (the
    document title is one), markup lines are metadata."""
    para = text[start:end]
    if "\n" not in para and (m := _ADOC_HEADING.match(para)):
        return Block("heading", start, start + m.end(2), body_start=start + m.start(2), level=len(m.group(1)))
    if _ADOC_LINE.fullmatch(para):
        return Block("metadata", start, end, rule="asciidoc markup")
    if m := _ADOC_LIST.match(para):  # "* item", "** nested", ". step"
        return Block("list_item", start, end, body_start=start + m.end())
    return paragraph_block(text, start, end)


# A heading underlined (and perhaps overlined) by one repeated mark: reStructuredText, Setext, plain text.
_RULE = re.compile(r"([=\-~^*#+`'\".:_])\1{2,}")
# ".. code-block:: sh", ".. contents:: Table of Contents", ".. _Python: https://...": reStructuredText markup.
_DIRECTIVE = re.compile(r"\.\. (?:[\w-]+::|_[^:\n]+:|\|[^|\n]+\|)")
_BREAK = re.compile(r"\r\n|\r|\n")
_LINE = re.compile(r"[^\r\n]+")


def _underlined_headings(text: str, spans: list[tuple[int, int]]) -> dict[int, list[Block]]:
    """Headings marked by a rule on the next line ("Usage" over "=====") or on the lines above and
    below ("====" "FAQs" "===="), and those rules: the blocks of each such paragraph, by its start.

    Levels follow the order in which the styles first appear, as reStructuredText's do. A line
    closed like a sentence over a rule is a sentence above a rule, not a heading.
    """
    def one_line(i: int) -> bool:
        return 0 <= i < len(spans) and not _BREAK.search(text, spans[i][0], spans[i][1])

    def titled(line: str) -> bool:  # a heading's words: not a sentence closed by "." or ";"
        n = len(words(line))
        return 0 < n <= 20 and not (n >= 6 and line.rstrip().endswith((".", ";")))

    def rule(i: int) -> str | None:
        return text[spans[i][0]] if one_line(i) and _RULE.fullmatch(text, *spans[i]) else None

    def next_line(i: int) -> bool:  # span i + 1 starts on the line right after span i
        gap = text[spans[i][1]:spans[i + 1][0]]
        return len(_BREAK.findall(gap)) == 1 and not gap.strip()

    out: dict[int, list[Block]] = {}
    styles: list[str] = []

    def level(style: str) -> int:
        if style not in styles:
            styles.append(style)
        return min(6, styles.index(style) + 1)

    for i in range(len(spans)):
        s, e = spans[i]
        rows = _BREAK.split(text[s:e])
        if len(rows) == 2 and _RULE.fullmatch(rows[1].strip()) and not _RULE.fullmatch(rows[0].strip()) \
                and titled(rows[0]) and len(rows[1].strip()) >= 0.6 * len(rows[0].strip()):
            # A title long enough to fill the wrap width is joined with its rule into one paragraph.
            rule_start = e - len(rows[1].lstrip())
            out[s] = [Block("heading", s, s + len(rows[0].rstrip()), level=level(rows[1].strip()[0])),
                      Block("metadata", rule_start, e, rule="heading underline")]
            continue
        if i + 1 >= len(spans) or not one_line(i) or rule(i) or s in out:
            continue
        if titled(text[s:e]) and rule(i + 1) and next_line(i) and spans[i + 1][1] - spans[i + 1][0] >= 0.6 * (e - s):
            over = i > 0 and rule(i - 1) == rule(i + 1) and next_line(i - 1) and spans[i - 1][0] not in out
            out[s] = [Block("heading", s, e, level=level(("over" if over else "") + rule(i + 1)))]
            out[spans[i + 1][0]] = [Block("metadata", *spans[i + 1], rule="heading underline")]
            if over:
                out[spans[i - 1][0]] = [Block("metadata", *spans[i - 1], rule="heading overline")]
    return out


def _directive(text: str, start: int, end: int) -> list[Block]:
    """A reStructuredText directive's marker (".. note::") set aside as markup, and its text kept:
    ".. warning:: Do not run it as root." says something. Directives that only place or
    format something (``code-block``, ``image``, ``toctree``, ...) and link targets
    (".. _Python: https://...") are markup as a whole line."""
    out: list[Block] = []
    for line in _LINE.finditer(text, start, end):
        a = line.start() + len(line.group()) - len(line.group().lstrip())
        b = line.start() + len(line.group().rstrip())
        if b <= a:
            continue
        m = _DIRECTIVE.match(text, a, b)
        if m is None:  # an option (":maxdepth: 2") or the directive's text, on the lines after it
            if out and out[-1].kind == "paragraph":
                out[-1] = Block("paragraph", out[-1].start, b)
            else:
                out.append(Block("paragraph", a, b))
            continue
        name = m.group().strip(". :")
        whole = name.startswith(("_", "|")) or name in _MARKUP_DIRECTIVES
        body = m.end() + len(text[m.end():b]) - len(text[m.end():b].lstrip())
        out.append(Block("metadata", a, b if whole or body >= b else m.end(), rule="directive"))
        if not whole and body < b:
            out.append(Block("paragraph", body, b))
    return [paragraph_block(text, x.start, x.end) if x.kind == "paragraph" else x for x in out]


# Directives that only place, include or format something: their arguments are not text.
_MARKUP_DIRECTIVES = frozenset("code-block code sourcecode literalinclude include image figure toctree contents "
                               "raw highlight index only tabularcolumns csv-table list-table table math "
                               "automodule autoclass autofunction currentmodule module".split())
