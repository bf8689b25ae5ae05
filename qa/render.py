"""Turning answers and documents into HTML for the chat: everything from the corpus is escaped.

Text from documents and questions is displayed, never interpreted: HTML is
escaped, and so are the characters that Markdown would act on, because the
chat renders Markdown around our HTML.

Display-only repairs (offsets are never changed): the interviewer's question
turn is shown once, above the passage, instead of again inside it; speaker
labels are shown as styled names; and sentences that the source glued together
("respectivelyRenfu", "development.Our") get a space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from .search import Answer, Hit
from .store import SourceDocument

# One pass over the text: every character that HTML or Markdown would act on
# becomes a numeric entity, so no tag, entity or Markdown syntax survives.
_ESCAPES = {ord(c): f"&#{ord(c)};" for c in "&<>\"'*_`[]#$|~\\!"}

# Where a space is missing between two sentences or words: a long lowercase run
# glued to a capitalized word ("respectivelyRenfu"; short runs are names like
# "JavaScript"), a sentence end or comma glued to the next word ("development.Our",
# "Have,Donghu"), a label's colon glued to its text ("Brigade:The").
_GLUE = re.compile(r"(?<=[a-z]{5})(?=[A-Z][a-z]{2})|(?<=[a-z]{3}[.!?])(?=[A-Z][a-z])|(?<=[A-Za-z][,;:])(?=[A-Z][a-z])")
_LABEL = re.compile(r"(?P<label>[^\W\d_][^:：\n]{0,48}?)\s*[:：]\s*")
_SENT = re.compile(r"[^.!?。！？]+(?:[.!?。！？]+[\"”’)]*|$)")


def esc(text: str) -> str:
    """Escape text for display inside the chat's HTML-in-Markdown."""
    return text.translate(_ESCAPES)


def _is_label(label: str) -> bool:
    words = label.split()
    return 1 <= len(words) <= 6 and not any(c in label for c in ".!?,;\"“”()")


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    open: str
    close: str


def spans_html(text: str, base: int, spans: list[_Span], inserts: dict[int, str] | None = None) -> str:
    """Escape ``text`` (which starts at source offset ``base``), wrapping the given source spans in tags.

    Glued words get a space; spans may nest but not cross; ``inserts`` puts
    markup at source offsets.
    """
    inserts = {k - base: v for k, v in (inserts or {}).items() if 0 <= k - base < len(text)}
    cuts: dict[int, list[str]] = {}
    for s in spans:
        a, b = max(s.start - base, 0), min(s.end - base, len(text))
        if a < b:
            cuts.setdefault(a, []).append(s.open)
            cuts.setdefault(b, []).insert(0, s.close)
    glue = {m.start() for m in _GLUE.finditer(text)}
    points = sorted(set(cuts) | glue | set(inserts) | {0, len(text)})
    out: list[str] = []
    for i, p in enumerate(points):
        if p in glue:
            out.append(" ")
        out.extend(t for t in cuts.get(p, []) if t.startswith("</"))
        if p in inserts:
            out.append(inserts[p])
        out.extend(t for t in cuts.get(p, []) if not t.startswith("</"))
        if i + 1 < len(points):
            out.append(esc(text[p:points[i + 1]]))
    return "".join(out).replace("\n", "<br>")


@dataclass(frozen=True)
class Card:
    """How one hit is shown: what to leave out and which sentence leads."""

    body_start: int  # source offset where the shown passage starts (after the question turn)
    interviewer: str | None  # the question turn's speaker label
    headline: tuple[int, int]  # source span of the sentence shown as the headline


def card(hit: Hit) -> Card:
    """Work out how to show ``hit``: drop the question turn, pick a headline from the answering turn."""
    text, base = hit.text, hit.start
    body, interviewer = 0, None
    if hit.question:
        probe = hit.question.strip()[:60]
        at = text.find(probe) if probe else -1
        if at >= 0:
            para_start = text.rfind("\n", 0, at) + 1
            m = _LABEL.match(text, para_start)
            if m and _is_label(m.group("label")) and m.end() <= at + 1:
                interviewer = m.group("label").strip()
            nl = text.find("\n", at + len(probe))
            if nl >= 0:
                while nl < len(text) and text[nl].isspace():
                    nl += 1
                body = nl if nl < len(text) else 0
    headline = (hit.answer_start, hit.answer_end)
    if hit.answer_start < base + body:
        # The chosen sentence is in the interviewer's turn: lead with the answer's first sentence instead.
        rest = text[body:]
        m = _LABEL.match(rest)
        skip = m.end() if m and _is_label(m.group("label")) else 0
        s = _SENT.search(rest, skip)
        if s:
            lead = s.start() + len(s.group()) - len(s.group().lstrip())
            headline = (base + body + lead, base + body + s.end())
    return Card(base + body, interviewer, headline)


def _labels(text: str, base: int, hit: Hit, interviewer: str | None) -> list[_Span]:
    """Speaker labels at the start of paragraphs, each with the styled name that replaces it."""
    if hit.speaker is None and interviewer is None:
        return []  # not a conversation: a colon in prose is not a speaker
    spans: list[_Span] = []
    for m in re.finditer(r"(?:^|\n)[ \t]*", text):
        lm = _LABEL.match(text, m.end())
        if not lm or not _is_label(lm.group("label")):
            continue
        label = lm.group("label").strip()
        who = "Interviewer" if interviewer and label.lower() == interviewer.lower() else label
        cls = "qa-interviewer" if who == "Interviewer" else "qa-speaker"
        spans.append(_Span(base + lm.start(), base + lm.end(), f'<span class="{cls}">{esc(who)}</span> ', ""))
    return spans


def passage_html(hit: Hit, c: Card) -> str:
    """The passage as shown: from the answering turn on, labels as styled names, the headline marked."""
    text, base = hit.text[c.body_start - hit.start:], c.body_start
    mark = [_Span(c.headline[0], c.headline[1], "<mark>", "</mark>")]
    pieces: list[str] = []
    pos = 0
    for lab in _labels(text, base, hit, c.interviewer):
        pieces.append(spans_html(text[pos:lab.start - base], base + pos, mark))
        pieces.append(lab.open)
        pos = lab.end - base
    pieces.append(spans_html(text[pos:], base + pos, mark))
    return "".join(pieces)


def source_link(hit: Hit) -> str:
    """The link a source opens with: the chat's sanitizer keeps ``href`` (not data attributes),
    so the document and the spans travel in the fragment, read by the page script."""
    return f"#qa-source:{quote(hit.source, safe='')}:{hit.start}:{hit.end}:{hit.answer_start}:{hit.answer_end}"


def parse_source_link(link: str) -> tuple[str, tuple[int, int, int, int]]:
    """The document name and ``(start, end, answer_start, answer_end)`` of a :func:`source_link`.

    Raises:
        ValueError: It is not one.
    """
    tag, name, *nums = link.lstrip("#").split(":")
    if tag != "qa-source" or len(nums) != 4:
        raise ValueError(link)
    s, e, a, b = (int(x) for x in nums)
    return unquote(name), (s, e, a, b)


def _meta(hit: Hit) -> str:
    parts = [f'<b>Source:</b> <a class="qa-open" href="{esc(source_link(hit))}">{esc(hit.source)}</a>']
    if hit.page is not None:
        parts.append(f"p. {hit.page}")
    if hit.section:
        parts.append(f"<b>Section:</b> {esc(hit.section)}")
    parts.append(f"<b>Confidence:</b> {hit.confidence:.2f}")
    return " · ".join(parts)


def hit_html(hit: Hit, *, lead: bool) -> str:
    """One passage as a card; the lead card carries the headline."""
    c = card(hit)
    headline = ""
    if lead:
        sentence = spans_html(hit.text[c.headline[0] - hit.start:c.headline[1] - hit.start], c.headline[0], [])
        headline = f'<div class="qa-headline">{sentence}</div>'
    q = ""
    if hit.question:
        m = _LABEL.match(hit.text, c.body_start - hit.start)
        talk = c.interviewer or hit.speaker or (m is not None and _is_label(m.group("label")))
        who = "Interviewer" if talk else "Question"  # an FAQ's question has no interviewer
        q = f'<div class="qa-question"><span class="qa-interviewer">{who}</span> {esc(hit.question.strip())}</div>'
    return (f'<div class="qa-hit">{headline}{q}'
            f'<blockquote class="qa-passage">{passage_html(hit, c)}</blockquote>'
            f'<div class="qa-meta">{_meta(hit)}</div></div>')


def suggestions_html(suggestions: list[str]) -> str:
    """Clickable questions (a click asks them; see the page script in :mod:`qa.web`)."""
    items = "".join(f'<li><a class="qa-suggest" href="#qa-input">{esc(s)}</a></li>' for s in suggestions)
    return f'<div class="qa-suggestions">You could ask, for example:<ul>{items}</ul></div>' if items else ""


def answer_html(answer: Answer, suggestions: list[str] | None = None, searched: str | None = None) -> str:
    """The chat reply: a labelled tier, the best passage first, the rest folded away.

    Args:
        answer: The answer.
        suggestions: Questions to offer when nothing was found.
        searched: The question as understood, when it was rewritten from a follow-up.
    """
    top = f'<div class="qa-searched">Searched for: <i>{esc(searched)}</i></div>' if searched else ""
    if not answer.found or not answer.hits:
        return (f'<div class="qa-card qa-tier-none">{top}<div class="qa-badge qa-badge-none">Not in the documents'
                f'</div><div>{esc(answer.message)}</div>'
                f'{suggestions_html(suggestions or [])}</div>')
    first, rest = answer.hits[0], answer.hits[1:]
    if answer.tier == "closest":
        badge = '<div class="qa-badge qa-badge-closest">⚠️ Closest passage, may not answer</div>'
    else:
        badge = '<div class="qa-badge qa-badge-answer">Answer</div>'
    out = hit_html(first, lead=True)
    if rest:
        inner = "".join(hit_html(h, lead=False) for h in rest)
        out += f'<details class="qa-more"><summary>More passages ({len(rest)})</summary>{inner}</details>'
    return f'<div class="qa-card qa-tier-{esc(answer.tier)}">{top}{badge}{out}</div>'


def source_html(doc: SourceDocument, span: tuple[int, int, int, int] | None = None) -> str:
    """The whole document, with the passage and its answer sentence highlighted.

    Args:
        doc: The indexed document (extracted text for HTML, PDF and DOCX).
        span: ``(start, end, answer_start, answer_end)`` source offsets, if a passage is to be shown.
    """
    # With no title, the file name alone (not "notes.txt notes.txt").
    head = f'<div class="qa-doc-head">' + (f'<b>{esc(doc.title)}</b> ' if doc.title else "") \
        + f'<code>{esc(doc.name)}</code>'
    spans: list[_Span] = []
    if span:
        s, e, a, b = span
        s, e = max(0, min(s, len(doc.text))), max(0, min(e, len(doc.text)))
        a, b = max(s, min(a, e)), max(s, min(b, e))
        page = doc.page_at(s) if doc.pages else None
        if page is not None:
            head += f' · <span class="qa-page">p. {page}</span>'
        spans = [_Span(s, e, '<span class="qa-hl" id="qa-hl">', "</span>"),
                 _Span(a, b, '<mark class="qa-hl-answer">', "</mark>")]
    head += "</div>"
    # Page starts are marked, so that a reader of a PDF's text sees where each page begins.
    pages = {p_start: f'<span class="qa-pagebreak">p. {n}</span>' for p_start, _, n in doc.pages}
    body = spans_html(doc.text, 0, spans, pages)
    return f'{head}<div class="qa-doc">{body}</div>'


def error_html(message: str) -> str:
    return f'<div class="qa-error">⚠️ {esc(message)}</div>'
