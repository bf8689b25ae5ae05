"""Passes over blocks that every reader shares: what a paragraph is, dialogues, page chrome.

Page chrome (menus, breadcrumbs, sign-in and newsletter boxes, "related"
link lists, copyright lines) is recognised by its *shape* and only at the
edges of a page: above the first and below the last paragraph of prose.
Between paragraphs of prose, short lines and lists are content.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import replace
from typing import NamedTuple

from .blocks import CONTENT_KINDS, Block
from .labels import (
    BOLD_LINE,
    CLOCK,
    LIST_ITEM,
    MD_HEADING,
    NUMBERED,
    STAMPED,
    TABLE_ROW,
    TABLE_RULE,
    TIMESTAMP_LINE,
    ends_open,
    find_label,
    is_chat_line,
    is_question,
    words,
)

# The vocabulary of site furniture in any web page: navigation, accounts,
# sharing, comments, newsletters, consent banners. A short line made mostly
# of these words, above or below the prose, is a menu or widget.
UI_WORDS = frozenset("""
home menu mobile app apps open login logon logout log in on out sign up signup register share comment
comments reply replies responses response top print subscribe subscription unsubscribe follow us back
next previous prev more search news related recommended recommendation recommendations download
downloads contact about privacy policy terms cookie cookies consent accept settings preferences skip to
content main navigation nav close like likes tweet email e mail rss feed page view newsletter categories
category tags tag archives archive recent posts popular trending account donate cart help twitter facebook
instagram linkedin youtube legal notice advertise careers sitemap toggle english language edit
""".split())
_STOPWORDS = frozenset("""
a an the and or but if of to in on at by for with from as is are was were be been being it its this that
these those there here we you he she they i me my our your his her their them us not no so than then too
very can will would should could may might must do does did have has had which who whom whose what when
where why how all any both each few more most other some such only own same just also into over under
again further once about against between through during before after above below up down out off
""".split())
_BREADCRUMB_SEP = re.compile(r"\s*[>»›|/]\s*")
_COPYRIGHT = re.compile(r"(©|\(c\)\s*\d{4}|\bcopyright\b\s*(©|\d{4})|all rights reserved)", re.IGNORECASE)
# "ebb ℠ is a service mark of Bradley M. Kuhn.", "Linux® is the registered trademark of Linus Torvalds".
_TRADEMARK = re.compile(r"\b(?:registered\s+)?(?:trademark|trade\s+mark|service\s+mark)s?\s+of\b", re.IGNORECASE)
# Who wrote a page and when: searchable, as a small passage of its own (see qa.chunking.pack).
_BYLINE = re.compile(
    r"^(posted|published|written|updated|last\s+updated)\s+(by|on)\b|^by\s+[A-Z][\w.'-]+(\s+[A-Z][\w.'-]+){0,3}"
    r"\s*([|,·•–-]|\bon\b)",
    re.IGNORECASE,
)
# Editors', sources' and photographers' credits: metadata, not indexed.
_CREDIT = re.compile(
    r"^(editor(\s+in\s+charge)?|responsible\s+editor|edited\s+by|author|source|reporter|"
    r"photo(graph)?s?(\s+by)?)\s*[:：]",
    re.IGNORECASE,
)
# Lines after which a page lists other pages: what follows is links until prose resumes.
_LINK_LIST_MARKER = re.compile(
    r"^(related|recommended|you\s+may\s+also\s+like|read\s+more|more\s+(news|stories|articles|from)|"
    r"further\s+reading|popular(\s+in)?|trending|latest(\s+news)?|recent\s+(posts|articles|comments)|"
    r"most\s+(read|popular|viewed))\b",
    re.IGNORECASE,
)
# Words that only site widgets use about themselves: newsletters, consent, comment forms.
_BOILERPLATE = re.compile(
    r"\b(newsletters?|cookies?|e-?mail\s+address|subscribe|sign\s+(up|in)|log\s+in|leave\s+a\s+(reply|comment)|"
    r"post\s+a\s+comment|cancel\s+reply|required\s+fields|privacy\s+(policy|notice))\b",
    re.IGNORECASE,
)
_LINKS = re.compile(r"!?\[[^\]\n]*\](\([^)\n]*\)|\[[^\]\n]*\])|https?://\S+|www\.\S+")
_COMMENTS = re.compile(r"^(\d+\s+)?(comments?|responses?|replies)(\s+(on|to)\b.*)?$|^(leave|post|add)\s+a\s+(comment|reply)\b",
                       re.IGNORECASE)
_COUNT_WIDGET = re.compile(r"^\d[\d,.]*\s*(comments?|responses?|replies|shares?|likes?|views?)$", re.IGNORECASE)
# A blog's links to the posts before and after this one ("Previous article <title> <date>", "« Older posts").
_POST_NAV = re.compile(r"^([«‹←<]\s*)?(previous|next|older|newer)\s+(article|post|story|entry|posts|entries|stories)\b",
                       re.IGNORECASE)
# A form's field label with its required-field star ("Name *", "Email *").
_FORM_FIELD = re.compile(r"^[A-Za-z][\w' -]{0,30}\s?\*$")
_PRINTED_FROM = re.compile(r"^(this\s+(page|article)\s+was\s+printed\s+from|printed\s+from)\b", re.IGNORECASE)
_DATE_ONLY = re.compile(
    r"^[\s\d:/\-.,年月日时分秒T]*\d[\s\d:/\-.,年月日时分秒T]*$|^((mon|tue|wed|thu|fri|sat|sun)\w*,?\s+)?"
    r"(\d{1,2}\s+)?(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w*\.?\s+(\d{1,2},?\s+)?\d{4}$",
    re.IGNORECASE,
)


# Words that cannot end a heading: a line that ends on one ("It can be converted into", "Run
# the") goes on in an example below it. Prepositions can ("Things to watch out for"), and so can
# "who" ("Doctor Who") and "is" ("What it is").
_NEEDS_MORE = frozenset("""
a an the and or but nor that if because than into onto your my our their its whose
""".split())


_VERSION = re.compile(r"v?\d+(\.\d+){1,3}")
_DOTTED_DATE = re.compile(r"\d{1,2}\.\d{1,2}\.(\d{2}|\d{4})")  # "03.03.2024": a date, not a version


def paragraph_block(text: str, start: int, end: int, *, labels: bool = True, headings: bool = True) -> Block:
    """The block for one paragraph ``text[start:end]``, by its shape.

    Labels are read here but settled by :func:`settle_dialogue`, which knows
    the whole document: "Note:" is a speaker only in a dialogue. With
    ``headings=False`` (Markdown, which marks its headings) a short open line
    is a paragraph, not a heading inferred from its shape.
    """
    para = text[start:end]
    first = para.split("\n", 1)[0].strip()
    if m := MD_HEADING.match(para):
        return Block("heading", start, end, body_start=start + m.end(), level=len(m.group(1)))
    if TABLE_RULE.match(first) and "\n" not in para.strip():
        return Block("metadata", start, end, rule="table rule")
    if TABLE_ROW.match(first):
        return Block("table_row", start, end)
    if TIMESTAMP_LINE.match(para.strip()):
        return Block("metadata", start, end, rule="timestamp")
    if m := LIST_ITEM.match(para):
        return Block("list_item", start, end, body_start=start + m.end())
    if labels and (label := find_label(para)):
        if label.role == "speaker" and CLOCK.search(para) and not any(
                c.isalnum() for c in para[label.body:]):
            # "**Break:** \[24:27\]": a marker in the recording, with nothing said; as a turn it
            # is demoted to a short open line, which would read as the section of all that follows.
            return Block("metadata", start, end, rule="timestamp")
        if label.role == "speaker" and para[label.body:].startswith(f"{label.name} ") and is_chat_line(para):
            # "<dka> dka has joined #tagmem": the chat client speaking of the nick, not the nick speaking.
            return Block("metadata", start, end, rule="chat log event")
        kind = {"question": "question", "answer": "answer", "speaker": "turn"}[label.role]
        return Block(kind, start, end, body_start=start + label.body, label=label.name)
    if _DATE_ONLY.match(para.strip()):
        return Block("paragraph", start, end)  # a dateline is content, not a section
    # "The latest FAQ is at http://zlib.net/zlib_faq.html" and "It can be converted into" (above an
    # example) end open too, but a heading has no address in it and does not end on a word like "the".
    if headings and "\n" not in para and ends_open(para) and 0 < len(said := words(para)) <= 20 and len(para) <= 160 \
            and "://" not in para and said[-1].lower() not in _NEEDS_MORE and not STAMPED.match(para) \
            and not para.startswith(">") and not para.rstrip().endswith(","):
        # "> Alice" is a quoted mail's signature and "Hi Peter," a greeting, not sections.
        return Block("heading", start, end, level=0)  # level 0: inferred from its shape, not marked
    return Block("paragraph", start, end)


def settle_dialogue(blocks: list[Block], text: str | None = None, *, infer_headings: bool = True) -> list[Block]:
    """Keep speaker labels only where the document is a dialogue.

    A document is a dialogue when some speaker label opens two or more
    paragraphs, and either another label is spoken too or that one opens two
    thirds of the paragraphs or more. Then every label counts, including one-off ones ("Li B:"),
    up to four words; otherwise "Note:" and "Reminder:" are just text. Q/A
    labels always count when a Q label is present.

    A demoted label is read again by its shape; ``infer_headings=False`` (Markdown,
    which marks its headings) keeps a short open line such as "**Note:** see below"
    a paragraph rather than a section that every later passage would carry.
    """
    def spoken(b: Block) -> bool:  # the body reads as something said, not as a headline
        body = text[b.body:b.end] if text is not None else "."
        # In a chat log, "<nick> hi" is said, however short.
        return not ends_open(body) or len(words(body)) >= 10 or (text is not None and is_chat_line(text[b.start:b.end]))

    said = Counter(b.label for b in blocks if b.kind == "turn" and spoken(b))
    dialogue = any(n >= 2 for n in said.values())
    if dialogue and len(said) == 1:
        # One voice: a talk transcribed turn by turn opens most paragraphs with it, while "Note:"
        # three times in a manual's steps opens a few of them, and speaks to no one.
        prose = sum(b.kind in ("paragraph", "turn") for b in blocks)
        dialogue = 3 * sum(b.kind == "turn" for b in blocks) >= 2 * prose
    has_q = any(b.kind == "question" for b in blocks)
    out = []
    for b in blocks:
        if b.kind == "turn" and not (dialogue and (said[b.label] >= 2 or (
                said[b.label] == 1 and len(b.label.split()) <= 4 and spoken(b)))):
            # "Note: ..." outside a dialogue, or "Ten years: the stack of ..." once: not a speaker.
            b = paragraph_block(text, b.start, b.end, labels=False, headings=infer_headings) if text is not None \
                else replace(b, kind="paragraph", body_start=None, label=None)
        elif b.kind == "answer" and not has_q:
            b = replace(b, kind="paragraph", body_start=None, label=None)
        out.append(b)
    return out


class _Entry(NamedTuple):
    lead_end: int  # end of the question line(s)
    answer: int | None  # start of an answer inside the item, if any
    asks: bool
    marked: bool  # numbered, or a lead all in bold


# Where a list item's lead ends: at a blank line, or where a tight sub-list begins.
_LEAD_END = re.compile(rf"\r?\n[ \t]*\r?\n\s*|\r?\n(?=[ \t]*(?:[-*+•]|{NUMBERED})[ \t])")


def faq_list_items(text: str, blocks: list[Block]) -> list[Block]:
    """Numbered or bulleted FAQ entries, which a reader first takes for list items.

    Two shapes: "1. Is zlib Y2K-compliant?" alone, with its answer in the blocks below
    (plain-text FAQs); and "1. __How did you get involved?__" with the answer indented
    inside the same item (Markdown interviews and FAQs), which is split in two. An entry
    that asks and has an answer becomes a ``question`` block, which the packer pairs with
    the text below it. Where two or more entries of a section (the blocks between two
    headings) do so, the section is a FAQ, and its numbered or bold entries that do not ask
    ("4. compress() returns Z_BUF_ERROR.", "__Tell us about yourself.__") or have no answer
    are questions too. Numbered steps in other sections, and a list of questions with
    nothing between them, stay lists.
    """
    entries: dict[int, _Entry] = {}
    section: dict[int, int] = {}  # block index -> its section (count of headings above)
    n_heads = 0
    for i, b in enumerate(blocks):
        if b.kind == "heading":
            n_heads += 1
        section[i] = n_heads
        if b.kind != "list_item":
            continue
        body = text[b.body:b.end]
        brk = _LEAD_END.search(body)
        lead = (body[:brk.start()] if brk else body).rstrip()
        if not lead or len(lead) > 300:  # a question is a line or two, not a paragraph
            continue
        marked = bool(BOLD_LINE.fullmatch(lead)) or _numbered(text, b)
        answered = bool(brk) or (i + 1 < len(blocks) and _answers(text, b, blocks[i + 1]))
        answer = None
        if brk:  # the answer's first character: a tight sub-list's marker, past its indentation
            answer = b.body + brk.end()
            answer += len(text[answer:b.end]) - len(text[answer:b.end].lstrip())
        entries[i] = _Entry(b.body + len(lead), answer, is_question(lead) and answered, marked)
    faq = Counter(section[i] for i, e in entries.items() if e.asks)
    out: list[Block] = []
    for i, b in enumerate(blocks):
        e = entries.get(i)
        in_faq = e is not None and faq[section[i]] >= 2
        if e is None or not (e.asks or (in_faq and (e.marked or is_question(text[b.body:e.lead_end])))):
            out.append(b)
            continue
        if e.answer is None and i and blocks[i - 1].kind == "list_item" and not in_faq \
                and is_question(text[blocks[i - 1].body:blocks[i - 1].end]):
            out.append(b)  # the last of a list of questions, with the text after the list below it
            continue
        out.append(Block("question", b.start, e.lead_end, body_start=b.body))
        if e.answer is not None and e.answer < b.end:
            out.append(Block("paragraph", e.answer, b.end))
    return out


def _answers(text: str, entry: Block, b: Block) -> bool:
    """Whether block ``b``, right after the list item ``entry``, can begin that item's answer: prose,
    a table, a line known only by its shape, or a list of the other kind ("1. Which platforms?"
    over "- Linux")."""
    if b.kind == "list_item":
        return _numbered(text, entry) != _numbered(text, b)
    return b.kind in ("paragraph", "table_row") or (b.kind == "heading" and not b.level)


def _numbered(text: str, item: Block) -> bool:
    """Whether a list item's marker is a number ("1.", "2)") rather than a bullet."""
    return bool(re.match(NUMBERED, text[item.start:item.body]))


# --------------------------------------------------------------------------
# Chrome at the edges of a page


def _text(text: str, b: Block) -> str:
    return text[b.start:b.end]


def stopword_share(s: str) -> float:
    ws = [w.lower() for w in words(s)]
    return sum(w in _STOPWORDS for w in ws) / len(ws) if ws else 0.0


def _ui_share(s: str) -> float:
    ws = [w.lower() for w in words(s)]
    return sum(w in UI_WORDS for w in ws) / len(ws) if ws else 0.0


def _is_prose(s: str) -> bool:
    """Running text: it cannot be site furniture."""
    n = len(words(s))
    return len(s) >= 120 or (n >= 10 and not ends_open(s) and stopword_share(s) >= 0.2)


def _breadcrumb(s: str) -> bool:
    # Every part names a page: "Home > News", not "Last updated: 2022/09/21".
    parts = [p for p in _BREADCRUMB_SEP.split(s) if p.strip()]
    return len(parts) >= 2 and bool(_BREADCRUMB_SEP.search(s)) and ends_open(s) and all(
        len(words(p)) <= 3 and any(c.isalpha() for c in p) for p in parts)


def _short(s: str) -> bool:
    return "\n" not in s.strip() and len(words(s)) <= 6 and ends_open(s)


def chrome_rule(s: str) -> str | None:
    """The chrome shape of one short block at the edge of a page, if it has one."""
    n = len(words(s))
    if _COPYRIGHT.search(s) and n <= 40:
        return "copyright line"
    if _TRADEMARK.search(s) and n <= 40:
        return "trademark notice"
    if _PRINTED_FROM.match(s):
        return "print footer"
    if _COUNT_WIDGET.match(s.strip()):
        return "counter widget"
    if n <= 20 and _POST_NAV.match(s.strip()):
        return "post navigation"
    if n <= 4 and _FORM_FIELD.match(s.strip()):
        return "form field"
    if n <= 12 and _breadcrumb(s):
        return "breadcrumb"
    if 0 < n <= 8 and ends_open(s) and _ui_share(s) >= 0.5:
        return "menu or widget words"
    if 0 < n <= 30 and _BOILERPLATE.search(s):
        return "sign-up, consent or comment box"
    if n <= 40 and _link_line(s):
        return "link line"
    return None


def _link_share(s: str) -> float:
    """Share of a line's characters that are Markdown links or bare URLs."""
    linked = sum(len(m.group()) for m in _LINKS.finditer(s))
    return linked / max(1, len(s.strip()))


def _link_line(s: str) -> bool:
    """Mostly links, and not a sentence that has a few links in it.

    Long addresses make a sentence mostly link characters ("Today, we release
    [2.0.0-alpha.71](https://github.com/...)."), so a line that closes like a
    sentence is a link line only if its links, each counted once, are as many as
    its other words.
    """
    if _link_share(s) < 0.5:
        return False
    links = len(_LINKS.findall(s))
    return ends_open(s) or links >= len(words(_LINKS.sub(" ", s)))


def mark_chrome(text: str, blocks: list[Block], *, authored: bool = False) -> list[Block]:
    """Set aside page chrome above the first and below the last paragraph of prose.

    ``authored`` is for formats whose structure the author marked (Markdown, and HTML through
    its extractor): there a run of short lines is a menu only if it is links, since a heading
    and a one-line list item ("## Agenda", "* Marco released 20.16.0") are the author's. A
    table row is never a breadcrumb, in any format.

    Returns the blocks with chrome (and bylines) re-kinded; nothing between
    the first and last prose paragraph changes, except "headline, time" link
    lists and copyright lines, which are never content.
    """
    out = list(blocks)
    runs = functools.partial(_drop_runs, linked=authored)

    def drop(i: int, rule: str, kind: str = "chrome") -> None:
        if out[i].kind not in ("metadata", "chrome"):
            out[i] = replace(out[i], kind=kind, rule=rule, label=None)

    if not any(_is_prose(_text(text, b)) for b in out if b.kind in CONTENT_KINDS):
        return out  # a short note: all content
    # Link lists first: their headlines can read like prose, so they must not mark the edges.
    listed: dict[int, str] = {}
    _drop_link_lists(text, out, lambda i, rule: listed.setdefault(i, rule))
    content = [i for i, b in enumerate(out) if b.kind in CONTENT_KINDS | {"heading"}]
    # Cookie banners and newsletter boxes are written as sentences: they do not mark the story's edges.
    prose = [i for i in content if i not in listed and _is_prose(_text(text, out[i]))
             and not chrome_rule(_text(text, out[i]).strip())]
    if not prose:
        return out
    first, last = prose[0], prose[-1]
    # Readers' comments are not the story: the page's content ends where they begin.
    opened = next((i for i in content if first < i <= last and _COMMENTS.match(_text(text, out[i]).strip())
                   and len(_text(text, out[i])) <= 100), None)
    if opened is not None:
        last = max([i for i in prose if i < opened], default=first)
    # The page's edges are past the outermost blocks that say something: a sentence's worth of
    # words that is not chrome-shaped ("... in two long halls.\nOpening hours" does not read as
    # prose, but a "Related news" line between it and the prose is not at the page's edge). (Not
    # past readers' comments: there the page's content has already ended.)
    def says(i: int) -> bool:
        return i not in listed and len(words(_text(text, out[i]))) >= 10 and not chrome_rule(_text(text, out[i]).strip())

    said = [i for i in content if i > last and says(i)] if opened is None else []
    bottom = said[-1] if said else last
    top = next((i for i in content if i < first and says(i)), first)
    for i, rule in listed.items():
        if i < top or i > bottom:
            drop(i, rule)

    # Above the prose: a copied page starts with the window title ("Story – Site"),
    # then the site's menus, then the story's own headline. Everything before the
    # headline's second appearance is chrome.
    lead = [i for i in content if i < first]
    titled = False
    if lead:
        head = _text(text, out[lead[0]]).strip()
        for i in lead[1:]:
            s = _text(text, out[i]).strip()
            if len(words(s)) >= 3 and s != head and head.startswith(s) and re.match(
                    r"\s*[–—|:-]", head[len(s):]) or (s == head and len(words(s)) >= 3):
                for j in lead:
                    if j < i:
                        drop(j, "above the headline")
                titled = True
                break
    opens = next((i for i in lead if says(i) and out[i].kind not in ("chrome", "metadata")), first)
    if not titled:
        # A run of three or more short link-like lines at the top edge is a menu;
        # the heading right above the prose is the story's, not the menu's. Below a block that
        # says something, short lines are the text's own, not the page's edge.
        menu = [i for i in lead if out[i].kind not in ("chrome", "metadata") and i < opens]
        runs(text, out, menu[:-1] if menu and out[menu[-1]].kind == "heading" else menu, 3, drop)
    # Past the prose, chrome is what lies beyond the outermost block that says something (above).
    # Above the prose this bounds only the shape rules below: the window title and menus are found
    # above as before.
    tail = [i for i in content if i > bottom]
    runs(text, out, tail, 5, drop)
    for i in [i for i in lead if i < opens] + tail:
        if (rule := chrome_rule(_text(text, out[i]).strip())) and not (
                rule == "breadcrumb" and out[i].kind == "table_row"):
            drop(i, rule)
        elif is_byline(_text(text, out[i]).strip()):
            drop(i, "byline", kind="metadata")
        elif _CREDIT.match(_text(text, out[i]).strip()) and len(_text(text, out[i])) <= 160:
            drop(i, "credit line", kind="metadata")
    return out


def is_byline(line: str) -> bool:
    """A short line naming who wrote a page or when: "Posted by ... on ...", "By Jane Doe | ..."."""
    return bool(_BYLINE.match(line)) and len(line) <= 160


def _drop_runs(text: str, out: list[Block], idx: list[int], min_run: int, drop, *, linked: bool = False) -> None:
    """Runs of ``min_run`` or more short, unpunctuated, consecutive lines: menus and link lists
    (with ``linked``, only lines that are mostly links count)."""
    run: list[int] = []

    def member(s: str) -> bool:
        return _short(s) and (not linked or _link_share(s) >= 0.5)

    def flush() -> None:
        if len(run) >= min_run and sum(stopword_share(_text(text, out[i])) for i in run) / len(run) < 0.25:
            for i in run:
                drop(i, "menu or link list")
        run.clear()

    prev = None
    for i in idx:
        s = _text(text, out[i]).strip()
        if member(s) and (prev is None or i == prev + 1 or all(
                out[j].kind in ("chrome", "metadata") for j in range(prev + 1, i))):
            run.append(i)
        else:
            flush()
            if member(s):
                run.append(i)
        prev = i
    flush()


def _drop_link_lists(text: str, out: list[Block], drop) -> None:
    """A "related news" marker and the short lines after it; and "headline, time" pairs."""
    in_list = False
    for i, b in enumerate(out):
        s = _text(text, b).strip()
        if b.kind in ("metadata", "chrome") and not in_list:
            continue
        if _LINK_LIST_MARKER.match(s) and len(s) <= 60 and ends_open(s):
            drop(i, "related-links list")
            in_list = True
        elif in_list and len(s) <= 200 and b.kind != "turn":
            drop(i, "related-links list")
        else:
            in_list = False

    def is_time(b: Block) -> bool:
        s = _text(text, b).strip()
        # "04-16 11:30", "2024/03/03", "March 3, 2024", but not a version number ("1.0.3"): a
        # release-notes page alternates versions and changes, and that is its content.
        return bool(_DATE_ONLY.match(s)) and len(s) <= 40 and not (_VERSION.fullmatch(s) and not _DOTTED_DATE.fullmatch(s))

    i = 0
    while i < len(out) - 1:
        j = i
        while j + 1 < len(out) and not is_time(out[j]) and is_time(out[j + 1]) and len(_text(text, out[j])) <= 200:
            j += 2
        if (j - i) // 2 >= 2:
            for k in range(i, j):
                drop(k, "headline-and-time list")
            i = j
        else:
            i += 1


def question_heading(text: str, b: Block) -> bool:
    """A heading that asks: in a FAQ, the text below it is its answer."""
    return b.kind == "heading" and is_question(text[b.body:b.end])
