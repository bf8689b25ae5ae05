"""Recognising the shapes of a line: speaker labels, Q/A labels, list markers, headings, tables.

Shared by every reader, so that ``Q:`` in a text file, ``**Q.**`` in Markdown
and a DOCX paragraph starting ``Name:`` are all read the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A clock time: 12:03, 00:12:03, 02:07:55:35, optionally in (escaped) brackets.
_CLOCK = r"\\?[\[(]?\d{1,2}(?::\d{2}){1,3}(?:[.,]\d+)?\\?[\])]?"
TIMESTAMP_LINE = re.compile(rf"^{_CLOCK}$")
CLOCK = re.compile(_CLOCK)
# Titles whose full stop belongs to a name: "MS. PSAKI:", "Dr. Li:", "Hon. Bill Morneau:",
# and parliaments' "Right Hon. Justin Trudeau:" and "Rt. Hon. X:".
_TITLES = r"(?:(?:right|rt\.|the)\s+)?(?:mr|ms|mrs|dr|prof|sen|rep|gov|gen|sec|hon|rev|st)"
_LABEL = re.compile(
    rf"^(?:(?P<ts>{_CLOCK})\s+)?"  # "[00:12:03] Name:" and "00:12:03 Name:"
    r"(?P<open>\*\*|__)?"  # "**Name**:" and "**Name:**"
    rf"(?P<label>(?:(?i:{_TITLES})\.\s+)?[^\W\d_][^:：\n*_]{{0,48}}?)"
    r"(?P<close1>\*\*|__)?"
    rf"(?:[ \t]+{_CLOCK})?"  # "Lenny Rachitsky (00:02):", the export of many transcription tools
    # "Mr. John Nater (Perth—Wellington, CPC):", "Hon. Patty Hajdu (Minister of Health):":
    # parliaments' riding or office, left out of the name so that later turns match it.
    r"(?:[ \t]+\((?:[^()\n:]|\([^()\n:]{1,60}\)){1,80}\))?"  # "The Chair (Hon. A. Rota (Nipissing, Lib.)):"
    r"\s*(?P<sep>[:：]|\.(?=[\s*]))(?P<close2>\*\*|__)?"
    rf"(?:\s*{_CLOCK})?"  # "**Name:** \[04:22\]": a time after the label
    r"\s*(?=\S)",
)
# "[Speaker 3] [00:24] I had a question": a bracketed name, then a clock; no colon.
_BRACKET_LABEL = re.compile(rf"^\\?\[(?P<label>[^\W\d_][^\]\[\n]{{0,48}}?)\\?\][ \t]*{_CLOCK}[ \t]+(?=\S)")
# "0:00:13.8 **Adam Garrett-Harris** Welcome to the show": a clock, then a name in bold, no colon
# (the clock is what makes the bold a label and not emphasis: "**Important** steps").
_STAMPED_BOLD = re.compile(rf"^{_CLOCK}[ \t]+(?P<open>\*\*|__)(?P<label>[^\W\d_][^*_\n:]{{0,48}}?)(?P=open)[ \t]+(?=\S)")
# "[2018-03-26 11:00:33] <endogenic> o/ hyc", "[12:01] <nick> text", "<nick> text": a chat log
# (IRC, Matrix bridges). The angle brackets mark the name, which may be in lower case.
# A log line's time, with its date or not: "2018-03-26 11:00:33", "12:01".
_STAMP = r"(?:\d{4}-\d{2}-\d{2}[ T])?\d{1,2}(?::\d{2}){1,2}"
_CHAT_LABEL = re.compile(
    rf"^(?:\[?{_STAMP}\]?[ \t]+)?"
    # A nick is IRC's letters, digits and []\\`_^{|}- (not an address: "<https://...>", "<ann@example.org>").
    r"<(?P<label>[@+%&~]?[A-Za-z\[\]\\`_^{|}][\w\[\]\\`^{|}-]{0,31})>[ \t]+(?=\S)")
# "<div> text" in a text file is markup, not a nick (a chat line with a time before it is a nick).
_HTML_TAGS = frozenset("a b i u p br hr em li ol ul dl dt dd tr td th div span code pre img table strong small "
                       "html head body script style h1 h2 h3 h4 h5 h6 title option select label input button form "
                       "section nav header footer main article aside".split())
_HONORIFIC = re.compile(rf"^(?:{_TITLES})\.\s", re.IGNORECASE)
# "Q    Thanks, Jen.": a reporter's question in official transcripts, with no colon after the Q.
_BARE_Q = re.compile(r"^Q(?:[ \t\u00a0]{2,}|\u00a0[ \t\u00a0]*)(?=\S)")
QUESTION_LABELS = re.compile(r"^(q|question|q\d{1,3})$", re.IGNORECASE)
ANSWER_LABELS = re.compile(r"^(a|answer|a\d{1,3})$", re.IGNORECASE)
NUMBERED = r"\(?\d{1,3}[.)]"  # "1.", "2)", "(3)": a numbered list item's marker
# "o  All dates are ...": plain-text specifications (RFCs) mark items with an "o" and two spaces.
LIST_ITEM = re.compile(rf"^([-*+•·‣▪–]|{NUMBERED}|\(?[a-z][.)])\s+|^o[ \t]{{2,}}(?=\S)")
# A Markdown image; group 1 is its alt text, which may hold escaped brackets
# ("![\[QGIS main interface\]](/img.png)").
MARKDOWN_IMAGE = re.compile(r"!\[((?:\\.|[^\]\\\n])*)\]\([^)\n]*\)")
# A whole line in bold, one span: "**How do I write a driver?**", "__Tell us about yourself.__".
BOLD_LINE = re.compile(r"(\*\*|__)(?![*_\s])(?:(?!\1)[^\n])*?\S\1[ \t]*")
MD_HEADING = re.compile(r"^(#{1,6})\s+")
TABLE_ROW = re.compile(r"^\|.*\|$")
TABLE_RULE = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")
WORD = re.compile(r"\w+", re.UNICODE)
TERMINAL = ".!?。！？…;；:\"”’)）"


@dataclass(frozen=True)
class Label:
    """A label at the start of a paragraph.

    Attributes:
        name: The label as written, without markup (``"Li Bing"``, ``"Q"``).
        role: ``"question"`` for Q labels, ``"answer"`` for A labels,
            ``"speaker"`` for a name.
        body: Offset, relative to the paragraph, where the content begins.
    """

    name: str
    role: str
    body: int


def _chat(paragraph: str) -> re.Match | None:
    """The chat-log label that opens ``paragraph`` ("[12:01] <nick> hi"), if any."""
    c = _CHAT_LABEL.match(paragraph)
    return c if c and (c.group("label").lower() not in _HTML_TAGS or c.start("label") > 1) else None


def is_chat_line(paragraph: str) -> bool:
    """Whether ``paragraph`` opens like a line of a chat log ("[12:01] <nick> hi")."""
    return _chat(paragraph) is not None


# "Emma  0:22" and then what she said, on the next line: the export of transcription tools
# (Otter.ai), a name, two spaces or a tab, and a clock closing the label's line ("Meeting at
# 10:30" above a paragraph is a line of text).
_NAME_CLOCK_LINE = re.compile(
    rf"^(?P<label>[^\W\d_][^\W_]*\.?(?:[ '’-][^\W_]+\.?){{0,4}})(?:[ \t]{{2,}}|\t){_CLOCK}[ \t]*\r?\n[ \t]*(?=\S)")

# "[2018-03-26 11:25:18] ⇐ nick quit", "[12:01] * nick waves": a log line stamped with its time.
STAMPED = re.compile(rf"^\[{_STAMP}\]")


def find_label(paragraph: str) -> Label | None:
    """The speaker or Q/A label that opens ``paragraph``, if any.

    A name label has one to six words and no sentence punctuation but a
    title's full stop ("MS. PSAKI:", "Dr. Li:"); a ``.`` separator is accepted
    only after Q/A labels (``Q.``), so "Dr. Li said" is not a label.
    """
    if (b := _BRACKET_LABEL.match(paragraph)) and _is_name(name := b.group("label").strip()):
        return Label(name, _role(name), b.end())
    if (b := _STAMPED_BOLD.match(paragraph)) and _is_name(name := b.group("label").strip()):
        return Label(name, _role(name), b.end())
    if c := _chat(paragraph):
        return Label(c.group("label").lstrip("@+%&~"), "speaker", c.end())
    if q := _BARE_Q.match(paragraph):
        return Label("Q", "question", q.end())
    if (t := _NAME_CLOCK_LINE.match(paragraph)) and t.group("label")[0].isupper():
        return Label(t.group("label"), _role(t.group("label")), t.end())
    m = _LABEL.match(paragraph)
    if not m:
        return None
    if paragraph.startswith("//", m.end("sep")):
        return None  # "Downloads are at https://...": the colon of an address, not of a label
    if bool(m.group("open")) != bool(m.group("close1") or m.group("close2")) and not (
            m.group("open") and paragraph.split("\n", 1)[0].rstrip().endswith(m.group("open"))):
        return None  # "**Note: this** is ..." is emphasis; "**Q: a whole bold question?**" is a label
    name = m.group("label").strip()
    words = name.split()
    if not 1 <= len(words) <= 6 or any(c in _HONORIFIC.sub("", name) for c in ".!?,;\"“”()[]{}<>/\\|=#`"):
        return None
    role = _role(name)
    if m.group("sep") == "." and role == "speaker":
        return None
    if role == "speaker" and name[0].islower():
        return None  # "in progress:" is not a speaker: names are capitalised (or in a script without case)
    return Label(name, role, m.end())


def _is_name(name: str) -> bool:
    """One to six words with no punctuation a name does not have (a label found without a colon)."""
    return 1 <= len(name.split()) <= 6 and not any(c in name for c in ".!?,;:\"“”(){}<>/\\|=#`*_")


def _role(name: str) -> str:
    return "question" if QUESTION_LABELS.match(name) else "answer" if ANSWER_LABELS.match(name) else "speaker"


def words(text: str) -> list[str]:
    return WORD.findall(text)


# Citation marks after a sentence's full stop, as copies of encyclopedia pages and wiki markup
# keep them: "founded in 1602.[1]", "[citation needed]", "<ref>Smith 2001</ref>", "<ref name="a"/>".
_CITATIONS = re.compile(r"(?:\s*(?:\[(?:\d{1,4}|[a-z]|citation needed|note \d{1,4}|nb \d{1,4})\]|<ref\b[^>]*/>|"
                        r"<ref\b[^>]*>[^<]*</ref>))+$", re.I)


def ends_open(line: str) -> bool:
    """True when a line has no closing punctuation (headings, menu items); citation marks after
    its last word do not count ("It was founded in 1602.[1]" is closed)."""
    s = line.rstrip().rstrip("*_").rstrip()
    s = _CITATIONS.sub("", s) or s  # a line that is only "[1]" stays as it is
    return bool(s) and s[-1] not in TERMINAL


def is_question(text: str) -> bool:
    return text.rstrip().rstrip("*_").rstrip().endswith(("?", "？"))
