"""Late interaction: how well each word of the question is matched somewhere in a passage.

A passage's single vector averages all its tokens, so a passage that shares the
question's topic but not its particulars ("how many enterprises" against "the
enterprises are growing") can score as high as the one that answers. MaxSim,
the score of ColBERT, keeps the tokens apart: each content token of the question
takes its best cosine with any token of the passage, and the score is their
mean. The token vectors are MiniLM's own contextual outputs (the ones it pools),
stored by the build, so no other model is needed. MiniLM was not
trained for this, so MaxSim is one feature of the learned ranker, not a
ranking of its own (bench/tune.py fits its weight; bench/RESULTS.md reports it).

The same rows, split by the sentence each came from, give every sentence its own
MaxSim: where the question's words meet, which the answer sentence and the best
passage share, rather than how widely a passage spreads them.

The vectors are stored as int8 with one scale per token: half the size of
float16, and a query's candidate rows convert to float32 six times faster
(1.3 against 7.7 ms for 5,000 rows here), for a cosine error under 0.001.
"""

from __future__ import annotations

import numpy as np

from .lexical import stopwords
from .onnx_model import TokenVectors


def query_matrix(tv: TokenVectors, names: tuple[str, ...] = ()) -> np.ndarray:
    """The question's token vectors worth matching, as float32 rows.

    Word-initial pieces that are words and not stop words: "how", "the" and "?"
    match something in every passage and would only add noise, and a word's
    continuation pieces ("##ing") repeat its first piece's context.
    All tokens when that leaves none. The pieces that begin a word of ``names``
    (speakers the question names, see ``qa.confidence.without_names``) are left out too.
    """
    stop = stopwords()
    words = [w for n in names for w in n.lower().split()]
    keep = [i for i, t in enumerate(tv.tokens) if t.isalnum() and t.lower() not in stop
            and not any(w.startswith(t.lower()) for w in words)]
    rows = tv.vectors[keep] if keep else tv.vectors
    return np.asarray(rows, dtype=np.float32)


def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Token vectors as int8 rows and a float32 scale per row (symmetric, per token)."""
    v = np.asarray(vectors, dtype=np.float32)
    scales = np.maximum(np.abs(v).max(axis=1), 1e-12) / 127.0 if len(v) else np.zeros(0, np.float32)
    q = np.rint(v / scales[:, None]).astype(np.int8) if len(v) else np.zeros(v.shape, np.int8)
    return q, scales.astype(np.float32)


def dequantize(tokens: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """The float32 token vectors back from :func:`quantize`'s output."""
    return np.asarray(tokens, dtype=np.float32) * np.asarray(scales, dtype=np.float32)[:, None]


def maxsim(query: np.ndarray, tokens: np.ndarray, scales: np.ndarray | None, first: np.ndarray,
           ids: np.ndarray) -> np.ndarray:
    """MaxSim of the question against each of the passages ``ids``.

    Args:
        query: ``(q, d)`` question token rows (:func:`query_matrix`).
        tokens: ``(t, d)`` token vectors of every passage: int8 (the generation's memory map)
            with ``scales``, or float32 already dequantized with ``scales`` None.
        scales: Each token row's scale (:func:`quantize`), or None.
        first: First token row of each passage (len = passages + 1).
        ids: The passages to score.

    Returns:
        One score per passage in ``ids``: the mean over question tokens of the best
        cosine with a token of the passage (0 for a passage without tokens).
    """
    out = np.zeros(len(ids), dtype=np.float64)
    if not len(ids) or not len(query):
        return out
    starts, ends = first[ids], first[ids + 1]
    have = ends > starts
    if not have.any():
        return out
    if scales is None:
        # Already in memory as float32 (a small index, see search.py): one product with every
        # token costs less than gathering the candidates' rows (1.2 against 3.5 ms on the interview).
        sims = query @ tokens.T
        for i in np.flatnonzero(have):
            out[i] = sims[:, starts[i] : ends[i]].max(axis=1).mean()
        return out
    rows = np.concatenate([np.arange(a, b) for a, b in zip(starts[have], ends[have])])
    sims = (query @ np.asarray(tokens[rows], dtype=np.float32).T) * scales[rows]  # (q, rows)
    offsets = np.concatenate([[0], np.cumsum((ends - starts)[have])[:-1]])
    out[have] = np.maximum.reduceat(sims, offsets, axis=1).mean(axis=0)
    return out


def token_sentences(offsets: list[tuple[int, int]], body_start: int, sentence_lengths: list[int]) -> np.ndarray:
    """The sentence each token row of a passage came from, or -1 (its heading or question).

    Args:
        offsets: Character spans of the passage's token rows in the text that was embedded.
        body_start: Where its sentences begin in that text (after the context lines).
        sentence_lengths: Each sentence's length; the sentences are joined by one space.
    """
    ends = body_start + np.cumsum([n + 1 for n in sentence_lengths]) - 1  # the space after each one
    starts = np.fromiter((s for s, _ in offsets), dtype=np.int64, count=len(offsets))
    which = np.searchsorted(ends, starts, side="right")
    which[(starts < body_start) | (which >= len(sentence_lengths))] = -1
    return which


def sentence_maxsim(query: np.ndarray, rows: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """MaxSim of the question against each of a passage's ``n`` sentences, from the passage's token rows.

    The rows are the passage's own contextual vectors, so each sentence is read in its
    passage's context; a word the question asks about must be matched inside the sentence.
    A sentence without rows (cut off by the model's length limit) gets NaN.
    """
    out = np.full(n, np.nan)
    if not len(query) or not len(rows):
        return out
    sims = query @ np.asarray(rows, dtype=np.float32).T
    for i in range(n):
        cols = owner == i
        if cols.any():
            out[i] = sims[:, cols].max(axis=1).mean()
    return out
