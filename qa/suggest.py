"""Suggested questions: ones that stand alone and that the corpus answers well, from every document.

Interview questions copied word for word often mean nothing alone ("What help
is provided in the process and what role has it played?"), so a candidate must
pass the follow-up detector's test of standing alone (no pronoun or "this" that
points outside it, no "you") and, asked for real, get a confident answer.
"""

from __future__ import annotations

import re

from .errors import QAError
from .followup import content_words, stands_alone
from .search import Retriever

MAX_CANDIDATES_PER_DOCUMENT = 8  # each is asked once per index generation, so keep this small


def _questions(text: str) -> list[str]:
    """The questions in a text, one per sentence ending in "?"."""
    out = []
    for sentence in re.split(r"(?<=[.?!])\s*|\n+", text):
        q = " ".join(sentence.split())
        if not (12 <= len(q) <= 110 and q.endswith("?")):
            continue
        q = re.sub(r"^(so|and|but|then|now|okay|ok|well)[, ]+", "", q, flags=re.IGNORECASE)
        if q and q[0].isalpha():
            out.append(q[0].upper() + q[1:])
    return out


def candidates(retriever: Retriever) -> dict[str, list[str]]:
    """Stand-alone candidate questions per document, in document order."""
    per_doc: dict[str, list[str]] = {}
    seen: set[str] = set()
    for r in retriever._gen.records:
        found = _questions(r.question) if r.question else []
        if r.section and r.section.rstrip().endswith("?"):
            found += _questions(r.section)
        elif r.section and 2 <= len(r.section.split()) <= 8 and ":" not in r.section:
            found.append(f"What is said about {r.section.strip().rstrip('.')}?")
        for q in found:
            key = q.lower()
            # Three content words at least: "What are the larger companies?" needs its context.
            if key not in seen and stands_alone(q) and len(content_words(q)) >= 3:
                seen.add(key)
                per_doc.setdefault(r.source, []).append(q)
    return per_doc


def pick_suggestions(retriever: Retriever, n: int = 4) -> list[str]:
    """Up to ``n`` questions the corpus answers confidently, taken from each document in turn.

    Args:
        retriever: The loaded index.
        n: How many to return.

    Returns:
        Questions, spread over the documents (round robin).
    """
    good: dict[str, list[str]] = {}
    asked = [(doc, q) for doc, qs in candidates(retriever).items() for q in qs[:MAX_CANDIDATES_PER_DOCUMENT]]
    if not asked:
        return []
    try:
        vectors = retriever.encode([q for _, q in asked])  # one batch: fast even with many documents
    except QAError:
        return []
    for (doc, q), vec in zip(asked, vectors):
        try:
            hits = retriever.search(q, k=1, vector=vec)
        except QAError:
            continue
        # The same test answer() applies, on the same confidence.
        if hits and retriever.tiers.of(hits[0].confidence) == "answer" and hits[0].source == doc:
            good.setdefault(doc, []).append(q)
    out: list[str] = []
    lists = [_spread(x, n) for x in good.values()]
    i = 0
    while len(out) < n and any(i < len(x) for x in lists):
        out.extend(x[i] for x in lists if i < len(x) and len(out) < n)
        i += 1
    return out


def _spread(items: list[str], n: int) -> list[str]:
    """``items`` reordered so that the first ``n`` are spread over the document, not its first few."""
    if len(items) <= n:
        return items
    first = [items[int(i * len(items) / n)] for i in range(n)]
    return first + [x for x in items if x not in first]
