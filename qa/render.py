"""Turning answers into HTML for the chat: everything from the corpus is escaped.

Text from documents and questions is displayed, never interpreted: HTML is
escaped, and so are the characters that Markdown would act on, because the
chat renders Markdown around our HTML.
"""

from __future__ import annotations

from .search import Answer, Hit

# One pass over the text: every character that HTML or Markdown would act on
# becomes a numeric entity, so no tag, entity or Markdown syntax survives.
_ESCAPES = {ord(c): f"&#{ord(c)};" for c in "&<>\"'*_`[]#$|~\\!"}


def esc(text: str) -> str:
    """Escape text for display inside the chat's HTML-in-Markdown."""
    return text.translate(_ESCAPES)


def relevance_label(relevance: float) -> str:
    if relevance >= 0.55:
        return "high"
    if relevance >= 0.45:
        return "medium"
    return "low"


def _passage(hit: Hit) -> str:
    a, b = hit.answer_start - hit.start, hit.answer_end - hit.start
    body = esc(hit.text[:a]) + "<mark>" + esc(hit.text[a:b]) + "</mark>" + esc(hit.text[b:])
    return body.replace("\n", "<br>")


def _meta(hit: Hit) -> str:
    parts = [f"<b>Source:</b> <code>{esc(hit.source)}</code>"]
    if hit.section:
        parts.append(f"<b>Section:</b> {esc(hit.section)}")
    parts.append(f"<b>Relevance:</b> {relevance_label(hit.relevance)} ({hit.relevance:.2f})")
    return " · ".join(parts)


def hit_html(hit: Hit, *, lead: bool) -> str:
    q = (f'<div class="qa-question"><b>Interviewer asked:</b> <i>{esc(hit.question)}</i></div>'
         if hit.question else "")
    headline = f'<div class="qa-sentence"><b>{esc(hit.answer_sentence)}</b></div>' if lead else ""
    return (f'<div class="qa-hit">{headline}{q}'
            f'<blockquote class="qa-passage">{_passage(hit)}</blockquote>'
            f'<div class="qa-meta">{_meta(hit)}</div></div>')


def answer_html(answer: Answer, suggestions: list[str] | None = None) -> str:
    """The chat reply for an answer: best passage first, the rest folded away."""
    if not answer.found:
        tips = "".join(f"<li>{esc(s)}</li>" for s in suggestions or [])
        more = f"<div>You could ask, for example:</div><ul>{tips}</ul>" if tips else ""
        return (f'<div class="qa-none"><b>I found no answer to that in the documents.</b> '
                f"The question may be outside what they cover.{more}</div>")
    first, rest = answer.hits[0], answer.hits[1:]
    out = hit_html(first, lead=True)
    if rest:
        inner = "".join(hit_html(h, lead=False) for h in rest)
        out += f'<details class="qa-more"><summary>More passages ({len(rest)})</summary>{inner}</details>'
    return out


def error_html(message: str) -> str:
    return f'<div class="qa-error">⚠️ {esc(message)}</div>'
