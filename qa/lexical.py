"""The lexical side of hybrid search: tokenizing and BM25 (via ``bm25s``)."""

from __future__ import annotations

import functools
import logging
import re
from pathlib import Path
from typing import Sequence

import numpy as np

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
# A number with dots or commas inside ("0.14.3", "3.8", "1,200") is also a term of its own.
# Its parts alone are weak evidence: "0.14.0" shares "0" and "14" with "0.14.3", and the
# changelog section of one release beat the release asked about.
_DOTTED = re.compile(r"(?<![\d.,])\d+(?:[.,]\d+)+")
# bm25s sets its own logger to DEBUG, which prints a line per build once the
# root logger has a handler (as in the web app).
logging.getLogger("bm25s").setLevel(logging.WARNING)


@functools.lru_cache(maxsize=1)
def _stemmer():
    import Stemmer  # PyStemmer: a C snowball stemmer, fast enough for queries

    return Stemmer.Stemmer("english")


@functools.lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """English stop words and question words: terms that carry no topic."""
    from bm25s.stopwords import STOPWORDS_EN

    # Question words carry no topic: "what", "which", "how" match everything.
    return frozenset(STOPWORDS_EN) | {
        "what", "which", "who", "whom", "whose", "when", "where", "why", "how",
        "do", "does", "did", "can", "could", "would", "should", "about", "s",
    }


# "How many enterprises are in the park?": "many" asks for a count, and a passage that gives the
# count writes a number ("more than 1,200 enterprises"), never "many". Kept as a term, it made
# "there are many enterprises in the park", the sentence that gives no count, the best match.
_ASKED_AMOUNT = re.compile(r"\bhow\s+(?:many|much)\b", re.I)


def query_tokens(question: str) -> list[str]:
    """:func:`tokenize` for a question: the amount word of "how many" and "how much" is left out."""
    return tokenize(_ASKED_AMOUNT.sub("how", question))


def tokenize(text: str) -> list[str]:
    """Lower-case, drop stop words, stem. Used for documents and queries alike."""
    stop = stopwords()
    lower = text.lower()
    words = [w for w in _TOKEN.findall(lower) if w not in stop]
    words += [m.replace(",", "") for m in _DOTTED.findall(lower)]
    return _stemmer().stemWords(words) if words else []


class Inconsistent(ValueError):
    """Index files that read well but disagree with each other (the message says how)."""


class Lexical:
    """A BM25 index over passage texts, saved as plain ``bm25s`` files."""

    def __init__(self, bm25) -> None:  # bm25s.BM25, or None for an empty corpus
        self._bm25 = bm25

    @classmethod
    def build(cls, texts: Sequence[str]) -> "Lexical":
        import bm25s

        tokens = [tokenize(t) or [""] for t in texts]
        if not tokens:
            return cls(None)
        bm25 = bm25s.BM25()
        bm25.index(tokens, show_progress=False)
        return cls(bm25)

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self._bm25 is not None:
            self._bm25.save(str(path), allow_pickle=False, show_progress=False)

    @classmethod
    def load(cls, path: Path, expected_docs: int) -> "Lexical":
        """Load a saved BM25 index; :class:`Inconsistent` when it counts other documents than expected."""
        import bm25s

        if expected_docs == 0:
            return cls(None)
        bm25 = bm25s.BM25.load(str(path), allow_pickle=False, show_progress=False)
        if int(bm25.scores["num_docs"]) != expected_docs:
            raise Inconsistent(f"{path.name} has {bm25.scores['num_docs']} documents, expected {expected_docs}")
        return cls(bm25)

    def scores(self, query_tokens: list[str], n_docs: int) -> np.ndarray:
        """BM25 score of every passage for the query (zeros when nothing matches)."""
        if self._bm25 is None:
            return np.zeros(n_docs, dtype=np.float32)
        ids = self._bm25.get_tokens_ids(query_tokens)
        if not ids:
            return np.zeros(n_docs, dtype=np.float32)
        return np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)
