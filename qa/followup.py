"""Follow-up questions: rewrite a question that leans on earlier turns into one that stands alone.

There is no language model offline (only sentence embeddings), so this works
by rules over the shape of the question:

* a question is a follow-up only when it shows it: a pronoun or "there" with
  nothing in the question it could refer to, a leading "and ...", "what
  about ...", a bare noun phrase, or almost no content words at all;
* the referent comes from the previous turn: the entity the previous question
  was about (a run of capitalized words), or, after a "who" question, the
  entity its answer named; else the previous question's focus noun phrase;
* "what about X" / "and X?" put X in place of the previous question's focus
  (or of its entity, when X is itself a name).

A question without those signs is returned untouched: rewriting a question
that stands alone would only make it worse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

_WH = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how"}
_AUX = {"is", "are", "was", "were", "do", "does", "did", "has", "have", "had", "will", "would", "can",
        "could", "should", "shall", "may", "might", "must"}
_BE = {"is", "are", "was", "were", "be", "been"}
_PREP = {"of", "in", "at", "for", "from", "about", "by", "on", "to", "with", "within", "into", "between",
         "behind", "besides", "around", "among", "during", "after", "before", "under", "over"}
_DET = {"the", "a", "an", "this", "that", "these", "those", "its", "their", "his", "her", "our", "your",
        "my", "some", "any", "each", "every", "all"}
_STOP = _WH | _AUX | _BE | _PREP | _DET | {
    "and", "or", "but", "so", "also", "else", "not", "no", "it", "they", "them", "he", "she", "him", "there",
    "i", "you", "we", "us", "me", "one", "ones", "much", "many", "more", "most", "other", "than", "then",
    "as", "if", "do", "there", "here", "kind", "type", "sort", "name", "tell", "say", "give", "list"}
# Pronouns that refer back to something said before.
_SUBJECT = {"it", "they", "them", "he", "she", "him"}
_POSSESSIVE = {"its", "their", "his"}
_CONNECTORS = {"of", "de", "for", "the", "and", "von", "van", "la", "du", "del"}
_LEADS = ("and what about", "and how about", "what about", "how about", "what of", "and also", "and", "also")
# Greetings and thanks are not about anything: "hi" after a question about a lighthouse's
# keeper became "Who was the hi of the ... lighthouse?". A message is one when it holds a
# greeting or thanks and nothing but such words ("Nice?" after Lyon may still be a follow-up).
_GREETINGS = {"hi", "hello", "hey", "hiya", "thanks", "thank", "thx", "bye", "goodbye", "cheers", "ok", "okay"}
_SOCIAL = _GREETINGS | {"you", "there", "good", "great", "morning", "afternoon", "evening", "very", "much",
                        "so", "lol", "yes", "no", "please", "cool", "nice", "fine", "sure", "alright", "yeah"}
_TOKEN = re.compile(r"[\w][\w'’\-]*|[^\w\s]")


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of the conversation.

    Attributes:
        question: The question as it was understood (after resolving it).
        answer: The answering sentence shown for it ("" if none).
    """

    question: str
    answer: str = ""


@dataclass(frozen=True)
class Resolution:
    """A question and the stand-alone question searched for it.

    Attributes:
        question: As the user typed it.
        searched: The question searched for; equal to ``question`` when it stands alone.
        reason: Why it was rewritten ("" when it was not).
    """

    question: str
    searched: str
    reason: str = ""

    @property
    def rewritten(self) -> bool:
        return self.searched != self.question


def turns(history: Iterable[Any] | None) -> list[Turn]:
    """Read a history as the API accepts it: questions, or ``{question, answer}`` pairs.

    Args:
        history: Strings, dicts with ``question`` (and optionally ``answer``),
            ``[question, answer]`` pairs or :class:`Turn` objects; anything else is skipped.

    Returns:
        The turns, oldest first.
    """
    out: list[Turn] = []
    for item in history or []:
        if isinstance(item, Turn):
            out.append(item)
        elif isinstance(item, str) and item.strip():
            out.append(Turn(item.strip()))
        elif isinstance(item, dict) and isinstance(item.get("question"), str) and item["question"].strip():
            ans = item.get("answer")
            out.append(Turn(item["question"].strip(), ans if isinstance(ans, str) else ""))
        elif isinstance(item, (list, tuple)) and item and isinstance(item[0], str) and item[0].strip():
            ans = item[1] if len(item) > 1 and isinstance(item[1], str) else ""
            out.append(Turn(item[0].strip(), ans))
    return out


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _low(tok: str) -> str:
    return tok.lower().replace("’", "'")


def _is_word(tok: str) -> bool:
    return bool(re.match(r"\w", tok))


def _content(toks: Sequence[str]) -> list[str]:
    return [t for t in toks if _is_word(t) and _low(t) not in _STOP]


def _strip_possessive(tok: str) -> str:
    return re.sub(r"['’]s$", "", tok)


def _entities(toks: Sequence[str]) -> list[str]:
    """Runs of capitalized words (or long numbers): the names a question is about."""
    out: list[str] = []
    run: list[str] = []

    def close() -> None:
        while run and _low(run[-1]) in _CONNECTORS:
            run.pop()
        if run:
            out.append(" ".join(run))
        run.clear()

    for i, tok in enumerate(toks):
        low = _low(tok)
        name_like = _is_word(tok) and (tok[0].isupper() or re.fullmatch(r"\d{3,}", tok) is not None)
        if name_like and low in _STOP | {"i"}:
            name_like = False  # "What", "How", "The" are not names
        if name_like and i == 0 and not run and not (
                i + 1 < len(toks) and _is_word(toks[i + 1]) and toks[i + 1][0].isupper()):
            name_like = False  # a lone capital at the start is the sentence's, not a name's ("Recently, ...")
        if name_like:
            run.append(_strip_possessive(tok))
            if _strip_possessive(tok) != tok:
                close()
        elif run and low in _CONNECTORS:
            run.append(tok)
        else:
            close()
    close()
    return out


def _focus(toks: Sequence[str]) -> tuple[int, int] | None:
    """The span of the previous question's focus noun phrase, by the question's shape.

    "What does [front-end prevention] include?", "What is [the total revenue] of X?",
    "How many [enterprises] are ...?", "Which [stock exchanges] does ...?".
    """
    words = [_low(t) for t in toks]
    n = len(words)
    if n < 3 or words[0] not in _WH:
        return None
    i = 1
    if words[0] == "how" and words[1] in {"many", "much"}:
        j = 2
        while j < n and _is_word(toks[j]) and words[j] not in _AUX and words[j] not in _PREP:
            j += 1
        return (2, j) if j > 2 else None
    if words[0] in {"what", "which"} and words[1] not in _AUX and _is_word(toks[1]):
        j = 1
        while j < n and _is_word(toks[j]) and words[j] not in _AUX and words[j] not in _PREP:
            j += 1
        return (1, j)
    if i < n and words[i] in _AUX:
        start = i + 1
        j = start
        while j < n and _is_word(toks[j]) and words[j] not in _PREP and words[j] not in _AUX:
            j += 1
        end = j
        if words[i] not in _BE and end - start >= 2:
            end -= 1  # do-support: the last word of the run is the main verb ("... prevention include")
        while start < end and words[start] in _DET:
            start += 1
        return (start, end) if end > start else None
    return None


def _topic(prev: Turn) -> str | None:
    """What the previous turn was about, for a pronoun to refer to."""
    toks = _tokens(prev.question)
    if toks and _low(toks[0]) == "who" and prev.answer:
        asked = {e.lower() for e in _entities(toks)}
        for ent in _entities(_tokens(prev.answer)):
            if ent.lower() not in asked and not any(ent.lower() in a or a in ent.lower() for a in asked):
                return ent
    ents = _entities(toks)
    if ents:
        return ents[0]
    span = _focus(toks)
    if span:
        return "the " + " ".join(toks[span[0]:span[1]])
    # Last resort: the noun phrase after the last preposition ("... in the park").
    words = [_low(t) for t in toks]
    for k in range(len(toks) - 1, -1, -1):
        if words[k] in _PREP:
            tail = [t for t in toks[k + 1:] if _is_word(t)]
            if tail:
                return " ".join(tail)
    return None


def _plural_focus(prev: Turn) -> str | None:
    toks = _tokens(prev.question)
    span = _focus(toks)
    if not span:
        return None
    phrase = toks[span[0]:span[1]]
    if phrase and _low(phrase[-1]).endswith("s") and not _low(phrase[-1]).endswith("ss"):
        return "the " + " ".join(phrase)
    return None


def _join(toks: Sequence[str]) -> str:
    text = ""
    for t in toks:
        if text and (_is_word(t) or t in {"“", "(", '"'}) and not text.endswith(("(", "“")):
            text += " "
        text += t
    return text


def _existential_there(words: Sequence[str], i: int) -> bool:
    # "Are there any ...", "there are/is/were" are existential; "work there", "are there?" at the end point back.
    after = words[i + 1] if i + 1 < len(words) else ""
    before = words[i - 1] if i else ""
    if after in _BE or after in {"have", "has"}:
        return True
    return before in _BE and after not in {"", "?", "."}


def _pronouns(toks: Sequence[str]) -> list[int]:
    """Positions of words that refer back outside the question."""
    words = [_low(t) for t in toks]
    found = []
    for i, w in enumerate(words):
        if w in _SUBJECT or w in _POSSESSIVE:
            found.append(i)
        elif w == "her":
            found.append(i)
        elif w == "there" and not _existential_there(words, i):
            found.append(i)
        elif w in {"this", "that", "these", "those"} and i > 0 and (
                i + 1 >= len(words) or not _is_word(toks[i + 1]) or words[i + 1] in _AUX | _PREP):
            found.append(i)  # "this" standing alone, not "this company"
    if not found:
        return []
    # A pronoun after a name or noun in the same question refers to it ("... Warsaw when it had ..."):
    # only pronouns with nothing before them to refer to are follow-up signs.
    first = found[0]
    if words[0] == "who" and all(words[i] in _POSSESSIVE | {"her"} for i in found):
        return []  # "Who moved his court ...?": "his" is the person asked about
    if _entities(toks[:first]):
        return []
    if words[first] in _POSSESSIVE | {"her"} and _entities(toks[first + 1:]):
        return []  # "Which of his laptops does Stuart like best?": the name comes after its pronoun
    last_word = max(i for i, t in enumerate(toks) if _is_word(t))
    if len(_content(toks[:first])) >= 2 and not (words[first - 1] in _AUX or first == last_word):
        return []  # a noun earlier in the question is what it refers to
    return found


def _substitute(toks: list[str], positions: list[int], prev: Turn) -> list[str] | None:
    topic = _topic(prev)
    if not topic:
        return None
    plural = _plural_focus(prev)
    out = list(toks)
    words = [_low(t) for t in toks]
    for i in reversed(positions):
        w = words[i]
        ref = plural if w in {"they", "them", "their", "these", "those"} and plural and not _entities(
            _tokens(prev.question)) else topic
        if w == "there":
            prep = "to" if i and words[i - 1] in {"go", "went", "come", "came", "returned", "return", "moved"} else "in"
            out[i:i + 1] = [prep, *ref.split()]
        elif w in _POSSESSIVE or (w == "her" and i + 1 < len(toks) and _is_word(toks[i + 1])
                                  and words[i + 1] not in _PREP):
            out[i:i + 1] = [*ref.split()[:-1], ref.split()[-1] + "'s"]
        else:
            out[i:i + 1] = ref.split()
    if out and out[0][0].islower() and out[0] != toks[0]:
        out[0] = out[0][0].upper() + out[0][1:]
    return out


def _swap(x: list[str], prev: Turn) -> list[str] | None:
    """Put the noun phrase ``x`` in place of what the previous question asked about."""
    ptoks = _tokens(prev.question)
    x_ents = _entities(x)
    p_ents = _entities(ptoks)
    if x_ents and p_ents:
        target = p_ents[0].split()
        for i in range(len(ptoks)):
            if [_strip_possessive(t) for t in ptoks[i:i + len(target)]] == target:
                keep_s = ptoks[i + len(target) - 1] != target[-1]
                a = i
                if a > 0 and _low(ptoks[a - 1]) in _DET and _low(x[0]) in _DET:
                    x = x[1:]
                rep = list(x)
                if keep_s:
                    rep = [*x[:-1], x[-1] + "'s"]
                return [*ptoks[:i], *rep, *ptoks[i + len(target):]]
    span = _focus(ptoks)
    if span:
        a, b = span
        while a > 0 and _low(ptoks[a - 1]) in _DET and _low(x[0]) in _DET:
            a -= 1
        out = [*ptoks[:a], *x, *ptoks[b:]]
        return out
    topic = _topic(prev)
    if topic:
        return [*x, "in", *topic.split()]
    return None


def _bare_noun_phrase(toks: Sequence[str]) -> bool:
    words = [_low(t) for t in toks if _is_word(t)]
    return bool(words) and len(words) <= 6 and words[0] not in _WH and words[0] not in _AUX


def resolve(question: str, history: Iterable[Any] | None) -> Resolution:
    """Rewrite ``question`` so that it stands alone, using the previous turn.

    Args:
        question: The question as typed.
        history: Earlier turns, oldest first (see :func:`turns`); the last one
            is the previous question and answer, already resolved.

    Returns:
        The resolution; ``searched == question`` when it stands alone or there is no history.
    """
    past = turns(history)
    q = " ".join(question.split())
    if not past or not q:
        return Resolution(question, question)
    prev = past[-1]
    toks = _tokens(q.rstrip(" ?.!"))
    words = [_low(t) for t in toks]
    reason = ""
    greets = any(w in _GREETINGS for w in words) or any(
        words[i:i + 2] == ["good", t] for i in range(len(words)) for t in ("morning", "afternoon", "evening"))
    if greets and all(w in _SOCIAL or not _is_word(w) for w in words):
        return Resolution(question, question)

    lead = next((ld for ld in _LEADS if words[:len(ld.split())] == ld.split()), None)
    rest = toks[len(lead.split()):] if lead else toks
    while rest and not _is_word(rest[0]):
        rest = rest[1:]
    if not rest:
        return Resolution(question, question)
    if lead and lead.endswith("about") or lead == "what of" or (
            lead in {"and", "also", "and also"} and _bare_noun_phrase(rest)) or (
            not lead and _bare_noun_phrase(rest) and len(_content(rest)) <= 3 and not _pronouns(rest)
            and len([t for t in rest if _is_word(t)]) <= 4):
        swapped = _swap(rest, prev)
        if swapped:
            return Resolution(question, _finish(swapped), "follows on from the previous question")
        return Resolution(question, question)

    positions = _pronouns(rest)
    if positions:
        sub = _substitute(list(rest), positions, prev)
        if sub:
            return Resolution(question, _finish(sub), "refers to the previous question")
    elif lead or len(_content(rest)) <= 1:
        # "And when was it built?" is caught above; "Which are the most prestigious?" has
        # almost nothing of its own: say what it is about.
        if len(_content(rest)) <= 1 and not _entities(rest):
            focus = _plural_focus(prev)
            topic = _topic(prev)
            extra = ([*focus.split()[1:]] if focus else []) + (
                ["in", *topic.split()] if topic and (not focus or topic.split()[-1] not in focus) else [])
            if extra:
                return Resolution(question, _finish([*rest, *extra]), "completed from the previous question")
        if lead:
            reason = "follows on from the previous question"
            return Resolution(question, _finish(rest), reason)
    return Resolution(question, question)


def _finish(toks: Sequence[str]) -> str:
    text = _join(toks).strip()
    text = re.sub(r"\s+'s\b", "'s", text)
    if text and text[0].islower():
        text = text[0].upper() + text[1:]
    return text.rstrip(" ?.!") + "?"


def resolve_history(history: Iterable[Any] | None) -> list[Turn]:
    """Resolve each earlier question against the turns before it (for an API history of raw questions).

    Args:
        history: As for :func:`turns`, oldest first.

    Returns:
        The turns with their questions as understood.
    """
    out: list[Turn] = []
    for t in turns(history):
        out.append(Turn(resolve(t.question, out).searched, t.answer))
    return out


_DEICTIC = {"this", "these", "those", "here", "above", "aforementioned", "such", "you", "your", "yours", "we", "our",
            "us", "it", "its", "they", "them", "their", "he", "she", "him", "his", "her"}


def content_words(question: str) -> list[str]:
    """The words of a question that carry content (not question words, pronouns or particles)."""
    return _content(_tokens(question))


def stands_alone(question: str) -> bool:
    """Whether a question means something without the conversation around it (for suggestions).

    Stricter than the follow-up test: any pronoun, "this"/"these", "here" or
    "you" (a question addressed to someone in a document) counts as context.
    """
    toks = _tokens(question)
    words = {_low(t) for t in toks}
    return bool(_content(toks)) and not (words & _DEICTIC) and not (
        "that" in words and any(_low(t) == "that" and (i + 1 >= len(toks) or not _is_word(toks[i + 1]))
                                for i, t in enumerate(toks)))
