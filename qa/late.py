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

from collections.abc import Sequence
from dataclasses import dataclass

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
    keep = kept_pieces(tv.tokens, names)
    rows = tv.vectors[keep] if keep else tv.vectors
    return np.asarray(rows, dtype=np.float32)


def kept_pieces(tokens: Sequence[str], names: tuple[str, ...] = ()) -> list[int]:
    """Positions of the pieces :func:`query_matrix` keeps (empty when it keeps them all)."""
    stop = stopwords()
    words = [w for n in names for w in n.lower().split()]
    return [i for i, t in enumerate(tokens) if t.isalnum() and t.lower() not in stop
            and not any(w.startswith(t.lower()) for w in words)]


def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Token vectors as int8 rows and a float32 scale per row (symmetric, per token)."""
    v = np.asarray(vectors, dtype=np.float32)
    scales = np.maximum(np.abs(v).max(axis=1), 1e-12) / 127.0 if len(v) else np.zeros(0, np.float32)
    q = np.rint(v / scales[:, None]).astype(np.int8) if len(v) else np.zeros(v.shape, np.int8)
    return q, scales.astype(np.float32)


def dequantize(tokens: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """The float32 token vectors back from :func:`quantize`'s output."""
    return np.asarray(tokens, dtype=np.float32) * np.asarray(scales, dtype=np.float32)[:, None]


@dataclass(frozen=True)
class LateScores:
    """MaxSim of one question against some passages, and against each of their sentences."""

    passages: np.ndarray  # one score per passage (0 for a passage without tokens)
    sentences: list[np.ndarray]  # per passage, one score per sentence (NaN for one without rows)


def late_scores(query: np.ndarray, tokens: np.ndarray, scales: np.ndarray | None, first: np.ndarray,
                ids: np.ndarray, owners: Sequence[np.ndarray] | None = None,
                counts: Sequence[int] | None = None) -> LateScores:
    """MaxSim of the question against each of the passages ``ids`` and each of their sentences.

    One product of the question's rows with the candidates' token rows gives both: the
    passage score takes each question token's best cosine over the whole passage, a
    sentence's over its own rows only, so each sentence is read in its passage's context
    and a word the question asks about must be matched inside it.

    Args:
        query: ``(q, d)`` question token rows (:func:`query_matrix`).
        tokens: ``(t, d)`` token vectors of every passage: int8 (the generation's memory map)
            with ``scales``, or float32 already dequantized with ``scales`` None.
        scales: Each token row's scale (:func:`quantize`), or None.
        first: First token row of each passage (len = passages + 1).
        ids: The passages to score.
        owners: For each passage of ``ids``, the sentence of each of its token rows, or -1
            (:func:`token_sentences`); None scores passages only.
        counts: For each passage of ``ids``, its number of sentences (with ``owners``).

    Returns:
        A :class:`LateScores`. A score is the mean over question tokens of the best cosine
        with a token of the passage (or sentence).
    """
    ids = np.asarray(ids, dtype=np.int64)
    counts = list(counts) if owners is not None and counts is not None else [0] * len(ids)
    passages = np.zeros(len(ids), dtype=np.float64)
    sentences = [np.full(n, np.nan) for n in counts]
    starts, ends = first[ids], first[ids + 1]
    have = ends > starts
    if not len(ids) or not len(query) or not have.any():
        return LateScores(passages, sentences)
    cols = np.concatenate([np.arange(a, b) for a, b in zip(starts[have], ends[have])])
    if scales is None:
        # Already in memory as float32 (a small index, see search.py): one product with every
        # token costs less than gathering the candidates' rows (1.2 against 3.5 ms on the interview).
        sims = (query @ tokens.T)[:, cols]
    else:
        sims = (query @ np.asarray(tokens[cols], dtype=np.float32).T) * scales[cols]  # (q, cols)
    lengths = (ends - starts)[have]
    passages[have] = np.maximum.reduceat(sims, np.concatenate([[0], np.cumsum(lengths)[:-1]]), axis=1).mean(axis=0)
    if owners is None:
        return LateScores(passages, sentences)
    # Every column's sentence as one number across the passages; the ones without a sentence go.
    base = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    label = np.concatenate([np.where(np.asarray(owners[i]) >= 0, base[i] + np.asarray(owners[i], dtype=np.int64), -1)
                            for i in np.flatnonzero(have)])
    keep = np.flatnonzero(label >= 0)
    if len(keep):
        keep = keep[np.argsort(label[keep], kind="stable")]  # already in order unless a tokenizer surprises
        lab = label[keep]
        cuts = np.flatnonzero(np.concatenate([[True], lab[1:] != lab[:-1]]))
        flat = np.full(int(sum(counts)), np.nan)
        flat[lab[cuts]] = np.maximum.reduceat(sims[:, keep], cuts, axis=1).mean(axis=0)
        sentences = [flat[b : b + n] for b, n in zip(base.tolist(), counts)]
    return LateScores(passages, sentences)


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
