"""Hybrid retrieval: BM25 + passage vectors + sentence vectors, fused; and abstention.

For each question a pool of candidate passages is gathered from four
searches (BM25 over passages and over sentences, passage vectors, sentence
vectors). Each candidate gets four scores: its BM25 score, the cosine of its
passage vector, and the best cosine and best BM25 score of any one of its
sentences (sentence-level evidence catches the one line that answers, even in
a long passage). Each score is z-normalized over the pool and they are
combined with fixed weights: measured on both the interview and SQuAD, this
beat reciprocal rank fusion clearly (see bench/RESULTS.md).

Abstention uses an absolute signal instead, the best sentence cosine of the
top hit, because z-scores say which passage is best, not whether any is good.
"""

from __future__ import annotations

import json
import logging
import os
import re
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .embedding import Embedder
from .errors import BadQuestion, DocumentNotFound, IndexMismatch, IndexNotFound, QAError
from .late import dequantize, late_scores, query_matrix, token_sentences
from .lexical import query_tokens
from .onnx_model import TokenVectors
from .readers.labels import MARKDOWN_IMAGE
from .confidence import (CONF_FEATURES, MODELS, RANK_FEATURES, SENTENCE_FEATURES, Evidence, QueryTerms,
                         TextTables, build_tables, candidate_evidence, confidence_features, load_model,
                         named_speakers, put_to, query_terms, sentence_features, without_names)
from .indexing import body_offset, embedding_text
from .store import (MANIFEST, Generation, Record, SourceDocument, build_command, load_generation, nearest,
                    read_manifest, reconstruct)

MAX_QUESTION_CHARS = 1000
MAX_K = 50  # passages per search; the CLI's -k has the same range
# The learned ranker reorders this many distinct first-stage candidates: on
# SQuAD the right passage is among the first 30 for over 99% of questions.
RERANK_DEPTH = 30
# Token vectors (int8 on disk) are kept in memory as float32 up to this size: about 250
# passages of SQuAD's 176 tokens (270 KB each). Larger indexes convert only each query's
# candidate rows.
TOKENS_IN_MEMORY = 64 * 2**20


@dataclass(frozen=True)
class Candidate:
    """A first-stage candidate with its evidence (internal to ranking, and read by bench/tune.py)."""

    record: Record
    score: float
    dense: float
    sent_cos: np.ndarray
    evidence: Evidence
    spoken_cos: np.ndarray  # sent_cos, with the question put to a speaker it names for their sentences
    sent_late: np.ndarray | None = None  # MaxSim of each sentence (qa.late.late_scores)


log = logging.getLogger("qa.search")

# Passages whose token-to-sentence map is kept in memory (about 0.5 KB each).
OWNERS_KEPT = 100_000


@dataclass(frozen=True)
class Fusion:
    """How the three scores are combined, and when to abstain.

    Attributes:
        bm25: Weight of the z-normalized BM25 score.
        dense: Weight of the z-normalized passage cosine.
        sentence: Weight of the z-normalized best-sentence cosine.
        sentence_bm25: Weight of the z-normalized best single-sentence BM25 score.
        pool: Candidates taken from each of the four searches.
        number_bonus: Added to the cosine of sentences that contain a number
            when the question asks for one ("how many", "what year", "when"):
            the expected answer type, which a small embedding model misses.
        rerank: Reorder the best candidates with the learned ranker and
            calibrate confidence with the learned model (``qa/models``); off,
            the first-stage fusion alone ranks (a baseline for bench/tune.py).
    """

    bm25: float = 0.2
    dense: float = 0.2
    sentence: float = 0.4
    sentence_bm25: float = 0.2
    pool: int = 50
    number_bonus: float = 0.1
    rerank: bool = True


@dataclass(frozen=True)
class Hit:
    """One retrieved passage.

    Attributes:
        text: The passage, exactly ``source_text[start:end]``.
        score: Fused ranking score (comparable within one query only).
        relevance: Absolute relevance in [0, 1]: the best cosine between the
            question and the passage or one of its sentences.
        source: Document name, relative to the corpus folder.
        start: Start offset in the source text.
        end: End offset in the source text.
        section: Heading the passage sits under, if any.
        question: The interviewer's question this passage answers, if any.
        answer_sentence: The sentence of ``text`` that best answers the query (with the
            sentence after it when it ends in a colon, as "It may fail if:" does).
        answer_start: Offset of ``answer_sentence`` in the source text.
        answer_end: End offset of ``answer_sentence`` in the source text.
        kind: ``"answer"``, ``"turn"``, ``"text"``, ``"background"`` or ``"table"``.
        title: The document's title; for a document with none, the words of its file name
            when they read as a title (:func:`qa.corpus.name_title`).
        confidence: Probability in [0, 1] that this passage answers the question
            (see :class:`Tiers`); never higher than that of a hit ranked above it.
        speaker: The label of the speaker who answers, if any.
        page: The page the passage starts on, for formats with pages.
    """

    text: str
    score: float
    relevance: float
    source: str
    start: int
    end: int
    section: str | None
    question: str | None
    answer_sentence: str
    answer_start: int
    answer_end: int
    kind: str = "text"
    title: str | None = None
    confidence: float = 0.0
    speaker: str | None = None
    page: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fitted_tier(name: str) -> float:
    # The thresholds are chosen by bench/tune.py on the SQuAD 2.0 calibration
    # articles and stored beside the confidence model they belong to, each with
    # the precision it was chosen for; without a fitted model, the old cosine cut.
    model = MODELS / "confidence.json"
    try:
        return float(json.loads(model.read_text(encoding="utf-8"))["tiers"][name]["threshold"])
    except (OSError, ValueError, KeyError, TypeError):
        return {"answer": 0.45, "closest": 0.35}[name]


@dataclass(frozen=True)
class Tiers:
    """Where confidence turns into what the user is told: the one place for these thresholds.

    The values come from ``qa/models/confidence.json`` (``tiers``), where
    bench/tune.py writes each with the precision it was chosen for.

    Attributes:
        answer: At or above this confidence the top hit is shown as the answer
            (chosen so that the top passage answers in >= 75% of such questions).
        closest: At or above this (and below ``answer``) it is shown as the
            closest passage, which may not answer; below it, "not in the
            documents" (chosen to keep >= 92% of answerable questions answered).
    """

    answer: float = field(default_factory=lambda: _fitted_tier("answer"))
    closest: float = field(default_factory=lambda: _fitted_tier("closest"))

    def of(self, confidence: float) -> str:
        """``"answer"``, ``"closest"`` or ``"none"`` for a top hit's confidence."""
        if confidence >= self.answer:
            return "answer"
        if confidence >= self.closest:
            return "closest"
        return "none"


@dataclass(frozen=True)
class Answer:
    """The reply to a question: the passages that answer it, or an honest "not found".

    Attributes:
        question: The question as searched (cleaned of control characters).
        found: False when nothing in the corpus is relevant enough.
        hits: Best first; empty when ``found`` is False.
        message: A one-line, human-readable summary.
        tier: ``"answer"`` (confident), ``"closest"`` (the closest passage, which
            may not answer) or ``"none"`` (not in the documents); see :class:`Tiers`.
    """

    question: str
    found: bool
    hits: list[Hit] = field(default_factory=list)
    message: str = ""
    tier: str = "none"

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "found": self.found, "tier": self.tier, "message": self.message,
                "hits": [h.to_dict() for h in self.hits]}


# Lone surrogates too: they come from bytes that were not UTF-8 (a shell's argv decodes them
# with surrogateescape; JSON may carry "\ud800") and the tokenizer refuses such a string.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff\ud800-\udfff]")


def clean_question(question: str, max_chars: int = MAX_QUESTION_CHARS) -> str:
    """Normalize a question, or raise :class:`BadQuestion` saying what is wrong.

    Control characters and lone surrogates become spaces and runs of white space collapse.
    """
    if not isinstance(question, str):
        raise BadQuestion("the question must be text")
    if len(question) > max_chars * 4:
        # Refuse before any per-character work: a 1 MB paste must stay cheap.
        raise BadQuestion(f"the question is {len(question):,} characters; the limit is {max_chars:,}. Ask something shorter.")
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", question))
    text = " ".join(text.split())
    if not text:
        raise BadQuestion("the question is empty: type a question about the documents")
    if len(text) > max_chars:
        raise BadQuestion(f"the question is {len(text):,} characters; the limit is {max_chars:,}. Ask something shorter.")
    return text


def _source_names(sources: Sequence[str] | str | None) -> list[str]:
    """``sources`` as sorted distinct names; a single string is one name, and None or empty is none."""
    if sources is None:
        return []
    if isinstance(sources, str):
        return [sources]
    try:
        names = set(sources)
    except TypeError:
        names = {None}
    if not all(isinstance(n, str) for n in names):
        raise BadQuestion("sources must be document names (strings, as each hit's source gives them), "
                          f"not {sources!r:.80}")
    return sorted(names)


def check_k(k: Any) -> int:
    """``k`` as a count of passages, or :class:`BadQuestion` naming the valid range."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_K:
        raise BadQuestion(f"k must be a whole number from 1 to {MAX_K}, not {k!r:.40}")
    return int(k)


def _rows_of(gen: Generation, ids: np.ndarray) -> np.ndarray:
    """The sentence rows of passages ``ids``, in order."""
    starts, ends = gen.sentence_first[ids], gen.sentence_first[ids + 1]
    lengths = ends - starts
    if not lengths.sum():
        return np.zeros(0, np.int64)
    # Each passage's rows are its start plus 0, 1, ...: a running count restarted at each passage.
    return np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(lengths.sum())


_ASKS_NUMBER = re.compile(
    r"\b(how (many|much|long|old|far|big|large|often|tall|high)|what (year|percentage|percent|proportion|"
    r"number|amount|date|decade|century)|which year|when)\b", re.IGNORECASE)
_HAS_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|thousand|million|billion|trillion|dozen)\b", re.IGNORECASE)

# A sentence that is an image and nothing else: Markdown's "![alt](path)" or an HTML <img> tag,
# as a Markdown source keeps them. Its alt text repeats a caption, and it answers nothing.
_ONLY_IMAGES = re.compile(rf"\s*(?:(?:{MARKDOWN_IMAGE.pattern}|<img\b[^>]*>)\s*)+", re.IGNORECASE)


def _is_question(sentence: str) -> bool:
    return sentence.rstrip().endswith(("?", "？"))


def _normalized(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


class Retriever:
    """Answers questions from a built index.

    Create it with :meth:`load`. It is safe to share between threads; a
    rebuild made elsewhere is picked up by :meth:`refresh`.
    """

    def __init__(self, index: str | os.PathLike[str], generation: Generation, embedder: Embedder,
                 fusion: Fusion | None = None, tiers: Tiers | None = None) -> None:
        self.index = Path(index)
        self.fusion = fusion or Fusion()
        self.tiers = tiers or Tiers()
        self._gen = generation
        self._embedder = embedder
        self._manifest_stamp: tuple[int, int] | None = None  # of the manifest last checked
        self._text_tables: tuple[Generation, TextTables] | None = None
        # Vectors of passages' interviewer or FAQ questions that are not a sentence of the
        # passage (a FAQ heading, the question of a later part of a long answer), encoded
        # the first time such a passage is a candidate: a corpus of 10,000 FAQ entries
        # should not pay for all of them at load time.
        self._question_vecs: dict[str, np.ndarray] = {}
        self._query_tokens: dict[str, TokenVectors] = {}  # from encode(), for search(vector=)
        self._failed: dict[str, str] = {}  # generation -> why it could not be loaded

    @classmethod
    def load(cls, index: str | os.PathLike[str] = "index", *, model: str | None = None,
             fusion: Fusion | None = None) -> "Retriever":
        """Load the index at ``index``.

        Args:
            index: The index folder.
            model: Expected embedding model; ``None`` takes the one the index was built with.
            fusion: Ranking and abstention settings.

        Raises:
            IndexNotFound: No index there (run ``qa build``).
            IndexMismatch: Built with another model or format (rebuild it).
            IndexCorrupt: Files are damaged (rebuild it).
        """
        if not isinstance(index, (str, os.PathLike)):
            raise IndexNotFound(f"the index must be a folder's path (a str or a Path), not {index!r:.60}")
        gen, embedder = _load_with_retry(index, model=model)
        return cls(index, gen, embedder, fusion)

    # ------------------------------------------------------------------ state

    @property
    def manifest(self) -> dict[str, Any]:
        return self._gen.manifest

    @property
    def generation(self) -> str:
        return self._gen.manifest["generation"]

    def documents(self) -> list[str]:
        """Names of the indexed documents."""
        return sorted(self._gen.documents)

    def document(self, name: str) -> SourceDocument:
        """The indexed text of one document, which hit offsets refer to.

        Raises:
            DocumentNotFound: No document of that name is in the index.
        """
        doc = self._gen.documents.get(name)
        if doc is None:
            names = ", ".join(sorted(self._gen.documents)[:10]) or "none"
            raise DocumentNotFound(f"no document {name!r} in the index; indexed: {names}")
        return doc

    def refresh(self) -> bool:
        """Switch to a newer generation if a build has made one. Returns True if it did.

        The new generation is loaded first and checked like :meth:`load` does
        (same model, same dimension, consistent files); only then is it swapped
        in, so searches running meanwhile keep using the old one. A generation
        that fails is logged and remembered: it is not loaded again on every
        question, only when a later build names another one. Cheap when nothing
        changed: the manifest is only read when its file was replaced.
        """
        try:
            st = os.stat(self.index / MANIFEST)
        except OSError:
            return False
        stamp = (st.st_ino, st.st_mtime_ns)
        if stamp == self._manifest_stamp:
            return False
        try:
            manifest = read_manifest(self.index)
        except QAError as exc:
            log.error("not switching index generation: %s", exc)
            self._manifest_stamp = stamp
            return False
        name = manifest["generation"]
        if name == self.generation or name in self._failed:
            self._manifest_stamp = stamp
            return False
        try:
            _check_model(self.index, manifest, self._embedder.name, self._embedder)
            gen = load_generation(self.index, manifest)
        except QAError as exc:
            self._failed[name] = str(exc)
            self._manifest_stamp = stamp
            log.error("not switching to index generation %s, still answering from %s: %s",
                      name, self.generation, exc)
            return False
        self._gen = gen  # one reference assignment: a search holds either generation, never half
        self._manifest_stamp = stamp
        log.info("switched to index generation %s", name)
        return True

    @property
    def failed_generations(self) -> dict[str, str]:
        """Generations that failed to load, with the reason (they are not tried again)."""
        return dict(self._failed)

    # ----------------------------------------------------------------- search

    @staticmethod
    def _numeric(gen: Generation) -> np.ndarray:
        """1.0 for each sentence that contains a number, computed once per generation."""
        if gen.numeric_sentences is None:
            gen.numeric_sentences = np.fromiter(
                (bool(_HAS_NUMBER.search(r.text[s - r.start : e - r.start])) for r in gen.records
                 for s, e, _ in r.sentences), dtype=np.float32)
        return gen.numeric_sentences

    @staticmethod
    def _token_vectors(gen: Generation) -> tuple[np.ndarray, np.ndarray | None]:
        """The generation's token vectors and scales for :func:`maxsim`: dequantized in memory
        when that takes at most ``TOKENS_IN_MEMORY`` bytes (then one product with all of them
        is the fastest), else the memory map, of which a query converts only its candidates."""
        if gen.token_vectors32 is not None:
            return gen.token_vectors32, None
        if gen.token_vectors.size * 4 <= TOKENS_IN_MEMORY:
            gen.token_vectors32 = dequantize(gen.token_vectors, gen.token_scales)  # a race converts twice
            return gen.token_vectors32, None
        return gen.token_vectors, gen.token_scales

    def search(self, question: str, k: int = 5, *, vector: np.ndarray | None = None,
               sources: Sequence[str] | None = None) -> list[Hit]:
        """The ``k`` passages that best answer ``question``, best first.

        Args:
            question: The question.
            k: How many passages to return.
            vector: The question's embedding, if already computed (see
                :meth:`encode`); saves the encoding when asking in bulk.
            sources: Search only these documents (names as in :attr:`Hit.source`;
                one name may be given as a string); ``None`` or empty searches them all.

        Raises:
            BadQuestion: The question is empty or over the length limit, ``k`` is not a whole
                number from 1 to :data:`MAX_K`, or ``sources`` holds something other than names.
            DocumentNotFound: A name in ``sources`` is not in the index.
        """
        q = clean_question(question)
        k = check_k(k)
        gen = self._gen  # one generation for the whole query, even if a refresh swaps it
        only = self._only(gen, sources)
        if not gen.records or (only is not None and not len(only)):
            return []
        if vector is None:
            qv, qtok = self._embedder.encode_query_tokens(q)
        else:
            qv, qtok = np.asarray(vector, np.float32).reshape(1, -1), None
        return _monotone(self._rank(gen, q, qv, k, qtok, only))

    @staticmethod
    def _only(gen: Generation, sources: Sequence[str] | None) -> np.ndarray | None:
        """Passage ids of the documents in ``sources`` (sorted), or None for all of them."""
        wanted = _source_names(sources)
        if not wanted:
            return None
        unknown = [name for name in wanted if name not in gen.documents]
        if unknown:
            names = ", ".join(sorted(gen.documents)[:10]) or "none"
            raise DocumentNotFound(f"no document {unknown[0]!r} in the index; indexed: {names}")
        if gen.passages_by_source is None:
            by: dict[str, list[int]] = {}
            for r in gen.records:
                by.setdefault(r.source, []).append(r.id)
            # On the generation, so that it goes with it when a refresh swaps it; a race groups twice.
            gen.passages_by_source = {name: np.asarray(ids, np.int64) for name, ids in by.items()}
        parts = [gen.passages_by_source[name] for name in wanted if name in gen.passages_by_source]
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)

    def encode(self, questions: list[str]) -> np.ndarray:
        """Embed many questions at once, for :meth:`search` with ``vector=``.

        Their token vectors (for late interaction) are kept until those searches
        ask for them, so a bulk search encodes each question once.
        """
        cleaned = [clean_question(q) for q in questions]
        vecs, toks = self._embedder.encode_tokens(cleaned, len(cleaned))
        # About 10 KB each: cleared before it passes 4,096 (one larger call is kept whole,
        # since its searches are about to ask for every one of them).
        if len(self._query_tokens) + len(cleaned) > 4096:
            self._query_tokens = {}
        self._query_tokens.update(zip(cleaned, toks))  # a race only encodes a question twice
        return vecs

    def _tables(self, gen: Generation) -> TextTables:
        """Tokens, answer types and IDF of every sentence, built once per generation."""
        cached = self._text_tables
        if cached is None or cached[0] is not gen:
            cached = (gen, build_tables(gen.records, gen.sentence_first))
            self._text_tables = cached  # a race only builds the same tables twice
        return cached[1]

    def _question_vectors(self, questions: list[str]) -> np.ndarray:
        cache = self._question_vecs
        if len(cache) > 20_000:  # a bound on memory; the vectors depend on the model only
            cache = self._question_vecs = {}
        missing = sorted({q for q in questions if q not in cache})
        if missing:
            cache.update(zip(missing, self._embedder.encode(missing)))  # a race only encodes twice
        return np.stack([cache[q] for q in questions])

    def _signals(self, gen: Generation, q: str, qv: np.ndarray, depth: int, only: np.ndarray | None = None):
        """The first stage's candidate pool and its four z-normalized signals, fused.

        ``only`` (sorted passage ids) keeps the pool inside some documents: their
        passages and sentences are scored exactly instead of through the vector
        indexes, so a small document is not crowded out of the pool by the rest.
        Its signals are normalized by the pool of the whole index, as every model
        was fitted: a passage gets the same evidence whether or not a filter is on.

        Returns:
            ``(query tokens, candidate ids, z (candidates x 4), fused, passage cosine,
            sentence cosines, first sentence row of each candidate, offsets of each
            candidate's sentences in the cosines)``. ``bench/sweep_fusion.py`` reads
            the same pool, so the weights it checks are the ones searched with.
        """
        f = self.fusion
        n = len(gen.records)
        pool = min(n, max(f.pool, depth))
        q_tok = query_tokens(q)
        bm = gen.lexical.scores(q_tok, n)
        n_sent = gen.sentence_index.ntotal
        # Best single-sentence BM25 per passage: a question usually paraphrases one sentence.
        sbm = gen.sentence_lexical.scores(q_tok, n_sent)
        sent_bm = np.maximum.reduceat(sbm, gen.sentence_first[:-1]) if n_sent else np.zeros(n, np.float32)

        ids_arr = self._candidates(gen, qv, bm, sent_bm, pool, None)
        raw, dense, sent_cos, starts, offsets = self._raw_signals(gen, q, qv[0], ids_arr, bm, sent_bm)
        stats = [(float(x.mean()), float(x.std())) for x in raw]
        if only is not None:
            ids_arr = self._candidates(gen, qv, bm, sent_bm, min(pool, len(only)), only)
            raw, dense, sent_cos, starts, offsets = self._raw_signals(gen, q, qv[0], ids_arr, bm, sent_bm)
        z = np.stack([np.zeros_like(x) if sd < 1e-6 else (x - mean) / sd for x, (mean, sd) in zip(raw, stats)], axis=1)
        fused = z @ np.array([f.bm25, f.dense, f.sentence, f.sentence_bm25])
        return q_tok, ids_arr, z, fused, dense, sent_cos, starts, offsets

    @staticmethod
    def _candidates(gen: Generation, qv: np.ndarray, bm: np.ndarray, sent_bm: np.ndarray, pool: int,
                    only: np.ndarray | None) -> np.ndarray:
        """Passage ids of the pool: the best ``pool`` by each of the four signals (inside ``only``)."""
        n, n_sent = len(gen.records), gen.sentence_index.ntotal
        cand: set[int] = set()
        if only is None:
            cand.update(nearest(gen.passage_index, qv[0], pool).tolist())
            cand.update(gen.sentence_owner[nearest(gen.sentence_index, qv[0], min(n_sent, pool * 2))].tolist())
        else:
            outside = np.ones(n, bool)
            outside[only] = False
            bm, sent_bm = np.where(outside, 0, bm), np.where(outside, 0, sent_bm)
            p_cos = reconstruct(gen.passage_index, only) @ qv[0]
            cand.update(int(i) for i in only[np.argsort(-p_cos, kind="stable")[:pool]])
            rows = _rows_of(gen, only)
            if len(rows):
                s_cos = reconstruct(gen.sentence_index, rows) @ qv[0]
                cand.update(int(gen.sentence_owner[i]) for i in rows[np.argsort(-s_cos, kind="stable")[:pool * 2]])
        for lexical_scores in (bm, sent_bm):
            if lexical_scores.any():
                top = np.argpartition(-lexical_scores, min(pool, n) - 1)[:pool]
                cand.update(int(i) for i in top if lexical_scores[i] > 0)
        return np.fromiter(sorted(cand), dtype=np.int64)

    def _raw_signals(self, gen: Generation, q: str, q0: np.ndarray, ids_arr: np.ndarray, bm: np.ndarray,
                     sent_bm: np.ndarray):
        """The four signals of the candidates before normalization (passage BM25, passage cosine, best
        sentence cosine, best sentence BM25), and the cosines and sentence rows they came from."""
        dense = reconstruct(gen.passage_index, ids_arr) @ q0
        starts, ends = gen.sentence_first[ids_arr], gen.sentence_first[ids_arr + 1]
        rows = _rows_of(gen, ids_arr)
        sent_cos = reconstruct(gen.sentence_index, rows) @ q0
        evidence = sent_cos
        if self.fusion.number_bonus and _ASKS_NUMBER.search(q):
            evidence = sent_cos + self.fusion.number_bonus * self._numeric(gen)[rows]
        offsets = np.concatenate([[0], np.cumsum(ends - starts)])
        best_sent = np.maximum.reduceat(evidence, offsets[:-1]) if len(rows) else np.zeros(len(ids_arr))
        raw = (bm[ids_arr], dense, best_sent, sent_bm[ids_arr])
        return raw, dense, sent_cos, starts, offsets

    def _stage(self, gen: Generation, q: str, qv: np.ndarray, depth: int,
               qtok: TokenVectors | None = None, only: np.ndarray | None = None) -> tuple[QueryTerms, list[Candidate]]:
        """First stage and evidence: up to ``depth`` distinct candidates, in fused order.

        Candidates come from BM25 over passages and over sentences and from the
        passage and sentence vectors; each gets four z-normalized scores
        (passage BM25, passage cosine, best sentence cosine, best sentence BM25)
        and their fusion. The best ``depth`` of them, duplicates removed, get
        the evidence features that the learned ranker reads. ``qtok`` is the
        question's token vectors, encoded here when not given.
        """
        q_tok, ids_arr, z, fused, dense, sent_cos, starts, offsets = self._signals(gen, q, qv, depth, only)
        order = np.argsort(-fused, kind="stable")
        q0 = qv[0]

        tables = self._tables(gen)
        qt = query_terms(q, q_tok, tables)
        picked: list[int] = []
        seen: set[int] = set()
        keys = gen.text_keys
        if len(keys) > OWNERS_KEPT:  # the same bound on memory as the sentence maps
            keys.clear()
        for j in order:
            rid = int(ids_arr[j])
            key = keys.get(rid)
            if key is None:  # a hash of the words: a passage's text is normalized once per generation
                key = keys[rid] = hash(_normalized(gen.records[rid].text))
            if key in seen:
                continue  # the same text from two files (or twice in one): show it once
            seen.add(key)
            picked.append(int(j))
            if len(picked) >= depth:
                break
        q_rows = np.array([tables.question_row[ids_arr[j]] for j in picked], dtype=np.int64)
        q_cos = np.zeros(len(picked))
        if (q_rows >= 0).any():
            have = np.flatnonzero(q_rows >= 0)
            q_cos[have] = reconstruct(gen.sentence_index, q_rows[have]) @ q0
        apart = [i for i, j in enumerate(picked) if q_rows[i] < 0 and gen.records[int(ids_arr[j])].question]
        if apart:
            vecs = self._question_vectors([gen.records[int(ids_arr[picked[i]])].question for i in apart])
            q_cos[apart] = vecs @ q0
        if qtok is None:  # a caller that brought only the question's vector (bulk encoding)
            qtok = self._query_tokens.get(q) or self._embedder.encode_query_tokens(q)[1]
        # In a document where the speakers the question names speak, their names say who, not what:
        # they are left out of MaxSim and of the term coverage there (one group per set of names).
        by_source: dict[str, tuple[str, ...]] = {}
        for j in picked:
            src = gen.records[int(ids_arr[j])].source
            if src not in by_source:
                by_source[src] = named_speakers(qt, tables.doc_speakers.get(src, ()))
        named = [by_source[gen.records[int(ids_arr[j])].source] for j in picked]
        terms = {names: without_names(qt, names) if names else qt for names in set(named)}
        recs = [gen.records[int(ids_arr[j])] for j in picked]
        owners = self._token_owners(gen, recs)
        late = np.zeros(len(picked))
        sent_late: list[np.ndarray] = [np.zeros(0)] * len(picked)
        for names in terms:
            at = [i for i, n in enumerate(named) if n == names]
            got = late_scores(query_matrix(qtok, names), *self._token_vectors(gen), gen.token_first,
                              ids_arr[[picked[i] for i in at]], [owners[i] for i in at],
                              [len(recs[i].sentences) for i in at])
            late[at] = got.passages
            for i, sl in zip(at, got.sentences):
                sent_late[i] = sl
        put_cos = self._put_cos(gen, qt, named, [int(starts[j]) for j in picked],
                                [int(offsets[j + 1] - offsets[j]) for j in picked])
        out = []
        for j, qc, ms, names, sl in zip(picked, q_cos, late, named, sent_late):
            rid = int(ids_arr[j])
            a, b = offsets[j], offsets[j + 1]
            first = int(starts[j])
            spoken = sent_cos[a:b]
            if put_cos:
                spoken = np.array([put_cos.get(first + i, float(c)) for i, c in enumerate(spoken)])
            ev = candidate_evidence(terms[names], tables, rid, first, sent_cos[a:b], (*z[j], fused[j]),
                                    float(dense[j]), float(qc), float(ms), spoken,
                                    float(np.nanmax(sl)) if np.isfinite(sl).any() else float(ms))
            out.append(Candidate(gen.records[rid], float(fused[j]), float(dense[j]), sent_cos[a:b], ev, spoken, sl))
        return qt, out

    def _put_cos(self, gen: Generation, qt: QueryTerms, named: list[tuple[str, ...]], firsts: list[int],
                 counts: list[int]) -> dict[int, float]:
        """Cosine of the question put to the speakers it names (:func:`qa.confidence.put_to`)
        with every sentence of the documents they speak in, by sentence row; ``named`` holds
        those speakers for each candidate passage.

        In a transcript a speaker's name in the question says who, not what: the host's
        introduction ("joined today by Rob Pike and Robert Griesemer") matches the names
        and answers nothing, so within such a document no sentence is credited for them.
        """
        by_q: dict[str, list[int]] = {}
        for names, a, n in zip(named, firsts, counts):
            q = put_to(qt, *names)
            if q:
                by_q.setdefault(q, []).extend(range(a, a + n))
        if not by_q:
            return {}
        vecs = dict(zip(by_q, self._question_vectors(list(by_q))))
        out: dict[int, float] = {}
        for q, v in vecs.items():
            rows = np.asarray(by_q[q], dtype=np.int64)
            out.update(zip(rows.tolist(), (reconstruct(gen.sentence_index, rows) @ v).tolist()))
        return out

    def _ranked(self, gen: Generation, q: str, qv: np.ndarray, k: int, qtok: TokenVectors | None = None,
                only: np.ndarray | None = None) -> tuple[QueryTerms, list[Candidate]]:
        """The best ``k`` candidates: the first stage, reordered by the learned ranker."""
        qt, cands = self._stage(gen, q, qv, max(RERANK_DEPTH, k), qtok, only)
        ranker = load_model("ranker", RANK_FEATURES) if self.fusion.rerank else None
        if ranker is not None and cands:
            scores = ranker.decision(np.stack([c.evidence.rank_x for c in cands]))
            order = np.argsort(-scores, kind="stable")
            cands = [replace(cands[i], score=float(scores[i])) for i in order]
        return qt, cands[:k]

    def _confidence_x(self, gen: Generation, qt: QueryTerms, cands: list[Candidate], i: int) -> np.ndarray:
        """Confidence features of the ``i``-th ranked candidate."""
        c = cands[i]
        nxt = cands[i + 1].score if i + 1 < len(cands) else c.score - 1.0
        tables = self._tables(gen)
        a, b = int(gen.sentence_first[c.record.id]), int(gen.sentence_first[c.record.id + 1])
        return confidence_features(qt, tables, c.record.id, c.evidence, c.score, nxt,
                                   bool(tables.sent_negation[a:b].any()), a, b - a)

    def _rank(self, gen: Generation, q: str, qv: np.ndarray, k: int, qtok: TokenVectors | None = None,
              only: np.ndarray | None = None) -> list[Hit]:
        qt, cands = self._ranked(gen, q, qv, k + 1, qtok, only)  # one more: the score gap below the last hit
        model = load_model("confidence", CONF_FEATURES) if self.fusion.rerank else None
        tables = self._tables(gen)
        hits = []
        for i, c in enumerate(cands[:k]):
            if model is not None:
                conf = float(model.predict(self._confidence_x(gen, qt, cands, i))[0])
            else:  # no fitted model: the uncalibrated best cosine
                conf = max(c.dense, float(c.sent_cos.max()) if len(c.sent_cos) else c.dense)
            hits.append(self._hit(gen, tables, qt, c, conf))
        return hits

    def _token_owners(self, gen: Generation, recs: list[Record]) -> list[np.ndarray]:
        """The sentence of each stored token row of each passage, or -1 (see :func:`qa.late.token_sentences`).

        The tokenizer alone maps a passage's rows back to the embedded text: once per passage
        and generation, and the passages not seen yet in one batch.
        """
        cache = gen.token_owners
        # Read into a local map first: another query's thread may clear the shared one meanwhile.
        got = {r.id: cache.get(r.id) for r in recs}
        todo = [r for r in recs if got[r.id] is None]
        if todo:
            if len(cache) + len(todo) > OWNERS_KEPT:  # a bound on memory for a large index; re-tokenizing is cheap
                cache.clear()
            for rec, offsets in zip(todo, self._embedder.token_offsets([embedding_text(r) for r in todo])):
                owner = token_sentences(offsets, body_offset(rec), [e - s for s, e, _ in rec.sentences])
                n = int(gen.token_first[rec.id + 1] - gen.token_first[rec.id])
                if len(owner) != n:  # another tokenizer than the build's: no sentence is known
                    owner = np.full(n, -1)
                got[rec.id] = cache[rec.id] = owner.astype(np.int16)
        return [got[r.id] for r in recs]

    @staticmethod
    def _answer_sentence(gen: Generation, tables: TextTables, qt: QueryTerms, c: Candidate) -> int:
        """Index (within the passage) of the sentence to highlight.

        Never the interviewer's: sentences that are questions or that sit in
        the interviewer's turn are skipped unless nothing else is left, and so
        are sentences that are only an image.
        """
        rec = c.record
        if not rec.sentences:
            return 0
        first = int(gen.sentence_first[rec.id])
        lengths = [e - s for s, e, _ in rec.sentences]
        x = sentence_features(qt, tables, first, c.spoken_cos, lengths, c.sent_late)
        model = load_model("sentence", SENTENCE_FEATURES)
        val = model.decision(x) if model is not None else x[:, 0] + 0.15 * x[:, 2]
        qs, qe = (int(v) + rec.start for v in tables.question_span[rec.id])
        for i, (s, e, _) in enumerate(rec.sentences):
            if tables.sent_is_question[first + i] or (qe > qs and s < qe and e > qs):
                val[i] -= 1e6
            elif _ONLY_IMAGES.fullmatch(rec.text[s - rec.start : e - rec.start]):
                val[i] -= 1e6
        return int(np.argmax(val))

    def _hit(self, gen: Generation, tables: TextTables, qt: QueryTerms, c: Candidate, confidence: float) -> Hit:
        rec = c.record
        best = self._answer_sentence(gen, tables, qt, c)
        s, e, _ = rec.sentences[best] if rec.sentences else (rec.start, rec.end, "")
        if best + 1 < len(rec.sentences) and rec.text[s - rec.start : e - rec.start].rstrip().endswith((":", "：")):
            # "Restarting a controller may fail if:" and "Media Contact:" announce what follows,
            # which is the answer: show the next sentence with them.
            e = rec.sentences[best + 1][1]
        relevance = max(c.dense, float(c.sent_cos.max()) if len(c.sent_cos) else c.dense)
        return Hit(
            text=rec.text, score=c.score, relevance=max(0.0, min(1.0, relevance)), source=rec.source,
            start=rec.start, end=rec.end, section=rec.section, question=rec.question,
            answer_sentence=rec.text[s - rec.start : e - rec.start], answer_start=s, answer_end=e,
            kind=rec.kind, title=rec.title, confidence=max(0.0, min(1.0, confidence)),
            speaker=rec.speaker, page=rec.page,
        )

    def answer(self, question: str, k: int = 3, *, sources: Sequence[str] | None = None) -> Answer:
        """Answer a question, or say that the corpus has no answer.

        Args:
            question: The user's question.
            k: How many passages to return when an answer is found.
            sources: Answer from these documents only (see :meth:`search`).

        Returns:
            An :class:`Answer`; ``found`` is False when the best passage is not
            relevant enough, and then ``hits`` is empty.

        Raises:
            BadQuestion: The question is empty or over the length limit.
            DocumentNotFound: A name in ``sources`` is not in the index.
        """
        capped = self.search(question, k=k, sources=sources)
        q = clean_question(question)
        tier = self.tiers.of(capped[0].confidence) if capped else "none"
        if tier == "none":
            names = _source_names(sources)
            where = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "") if names \
                else "the documents"
            return Answer(q, False, [], f"No passage in {where} answers this question.", tier)
        if tier == "closest":
            return Answer(q, True, capped, f"The closest passage, in {capped[0].source}, may not answer this.", tier)
        return Answer(q, True, capped, f"Found in {capped[0].source}.", tier)


def _monotone(hits: list[Hit]) -> list[Hit]:
    """Cap each hit's confidence at the one above it: labels never contradict rank."""
    out, ceiling = [], 1.0
    for h in hits:
        ceiling = min(ceiling, h.confidence)
        out.append(replace(h, confidence=ceiling) if h.confidence != ceiling else h)
    return out


def _check_model(index: str | os.PathLike[str], manifest: dict[str, Any], model: str | None,
                 embedder: Embedder | None = None) -> Embedder:
    """The embedder for ``manifest``, or :class:`IndexMismatch` if the index cannot be searched with it.

    Args:
        index: The index folder (for the message).
        manifest: The manifest of the generation about to be loaded.
        model: The model the caller searches with; ``None`` takes the index's own.
        embedder: An embedder already in use (a refresh keeps the one it has).
    """
    built_with = manifest["model"]["name"]
    if model is not None and model != built_with:
        raise IndexMismatch(
            f"index at {index}/ was built with model {built_with!r}, not {model!r}: "
            f"run `qa build` with the model you want, or load it without a model (a running app: restart it)"
        )
    embedder = embedder or Embedder(built_with)
    try:
        expected = int(manifest["model"]["dimension"])
    except (KeyError, TypeError, ValueError):
        raise IndexMismatch(f"index at {index}/ does not say its vector dimension: run {build_command(index)} to rebuild it") from None
    if embedder.dimension != expected:
        raise IndexMismatch(
            f"model {built_with!r} makes {embedder.dimension}-d vectors but the index at {index}/ holds "
            f"{expected}-d ones: run {build_command(index)} to rebuild it"
        )
    return embedder


def _load_with_retry(index: str | os.PathLike[str], model: str | None = None) -> tuple[Generation, Embedder]:
    """Check the live manifest against the model, then load its generation.

    Raises:
        IndexNotFound, IndexMismatch, IndexCorrupt: As :meth:`Retriever.load` says.
    """
    from .errors import IndexCorrupt

    manifest = read_manifest(index)
    embedder = _check_model(index, manifest, model)
    try:
        return load_generation(index, manifest), embedder
    except IndexCorrupt:
        # A build that finishes between reading the manifest and opening its
        # files may delete an older generation; reading the manifest again fixes it.
        again = read_manifest(index)
        if again["generation"] == manifest["generation"]:
            raise
        embedder = _check_model(index, again, model, embedder)
        return load_generation(index, again), embedder
