"""Evidence features, and the small learned models that rank and calibrate with them.

Three linear models read these features, each stored as JSON in ``qa/models/``
and fitted by ``bench/tune.py`` (scikit-learn at training time only; here they
are a dot product in numpy, and nothing is ever unpickled):

* the **ranker** reorders the best candidates of the fused first stage;
* the **sentence model** picks the sentence to highlight;
* the **confidence model** turns the top passages' evidence into a calibrated
  probability that the passage answers the question.

The features beyond similarity are what a small embedding model misses: the
answer type a question expects ("how many" wants a number) against what the
text holds, IDF-weighted coverage of the question's terms (rare terms weigh
most), whether the rarest terms meet in one sentence, and mismatches of
negation and names between the question and the passage.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from .lexical import tokenize
from .readers.labels import find_label

MODELS = Path(__file__).resolve().parent / "models"

# ----------------------------------------------------------- answer types

# What a question asks for, by its wording. Order matters: the first match wins.
_EXPECT = [
    ("percent", re.compile(r"\b(what|which) (percentage|percent|proportion|share|fraction)\b|\bhow much of\b", re.I)),
    ("money", re.compile(r"\bhow much (money|did .* cost|does .* cost|is .* worth)|\b(cost|price|revenue|budget|worth|paid|salary|income|profit)\b.*\bhow much\b|\bhow much\b.*\b(cost|pay|paid|spend|spent|worth|earn|raise|invest)", re.I)),
    ("date", re.compile(r"\b(when|what (year|date|day|month|decade|century|time period|period|era)|which (year|date|day|month|decade|century)|in what (year|decade|century|month))\b", re.I)),
    ("number", re.compile(r"\bhow (many|much|long|old|far|big|large|often|tall|high|fast|heavy|wide|deep)\b|\bwhat (number|amount|size|length|age|population|temperature|distance)\b", re.I)),
    ("person", re.compile(r"\b(who|whom|whose)\b|\bwhat (person|man|woman|king|queen|president|leader|emperor|scientist|author|name)\b", re.I)),
    ("place", re.compile(r"\bwhere\b|\b(what|which) (city|country|state|place|region|location|town|continent|island|river|province|area)\b", re.I)),
    ("organization", re.compile(r"\b(what|which) (company|companies|organization|organisation|group|team|party|university|institution|agency|firm|enterprise|club|school|band)\b", re.I)),
]
TYPES = ("number", "date", "money", "percent", "person", "place", "organization")
_TYPE_BIT = {t: 1 << i for i, t in enumerate(TYPES)}

_NUM_WORDS = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
              r"hundred|thousand|million|billion|trillion|dozen|several|half")
_HOLDS = {
    # A digit inside a name ("V8", "x86", "MP3") is not a number: "For how long has Node been
    # tested in V8's CI?" was answered by the sentence naming V8, not the one saying "1-2 years".
    "number": re.compile(rf"\b\d|\b({_NUM_WORDS})\b", re.I),
    "date": re.compile(r"\b(1\d{3}|20\d{2})s?\b|\b(January|February|March|April|May|June|July|August|September|"
                       r"October|November|December|century|centuries|decade|BC|AD|BCE)\b|\d+(st|nd|rd|th) century", re.I),
    "money": re.compile(r"[$€£¥]\s?\d|\b\d[\d,.]*\s?(dollars?|yuan|euros?|pounds?|yen|rmb|usd)\b|\b(million|billion) (dollars|yuan|euros|pounds)\b", re.I),
    "percent": re.compile(r"\d\s?(%|percent\b|per cent\b)|\bpercent", re.I),
    # Proper names: two capitalized words in a row, not at a sentence start only.
    "person": re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s+(?:de|van|von|of|the)?\s?[A-Z][a-z]+)+"),
    "place": re.compile(r"\b(in|at|from|to|near|across|into) (the )?[A-Z][a-z]+"),
    "organization": re.compile(r"\b[A-Z][A-Za-z]+ (Company|Corporation|Inc|Ltd|University|Group|Party|Institute|Association|Council|Bank|Agency|Society)\b|\b[A-Z]{2,}\b"),
}
_NEGATION = re.compile(r"\b(not|no|never|none|neither|nor|without|n't|cannot|fail(ed|s)? to|unable)\b|n't\b", re.I)
_CAPITAL = re.compile(r"\b[A-Z][\w'-]*")


def expected_type(question: str) -> str | None:
    """The answer type a question asks for, by pattern, or None."""
    for name, pat in _EXPECT:
        if pat.search(question):
            return name
    return None


def type_mask(text: str) -> int:
    """Bit mask of the answer types that ``text`` holds (see :data:`TYPES`)."""
    m = 0
    for name, pat in _HOLDS.items():
        if pat.search(text):
            m |= _TYPE_BIT[name]
    return m


# --------------------------------------------------- per-generation tables


@dataclass
class TextTables:
    """What the features need from every passage and sentence, computed once per index generation."""

    sent_tokens: list[frozenset[str]]  # stemmed terms of each sentence row
    sent_seq: list[tuple[str, ...]]  # the same terms in order
    sent_types: np.ndarray  # type mask of each sentence row
    sent_is_question: np.ndarray  # bool: the sentence ends with a question mark
    sent_negation: np.ndarray  # bool
    pass_tokens: list[frozenset[str]]
    pass_caps: list[frozenset[str]]  # lower-cased capitalized words of each passage, its title and section
    question_row: np.ndarray  # sentence row holding the passage's interviewer question, or -1
    question_span: np.ndarray  # (start, end) offsets of the interviewer's turn inside the passage text
    df: Counter
    n_docs: int
    sent_speaker: list[str | None]  # lower-cased label of who says each sentence row (transcripts, interviews)
    sent_len: np.ndarray  # characters of each sentence row
    context_tokens: list[frozenset[str]]  # stemmed terms of each passage's title, section and question
    doc_speakers: dict[str, tuple[str, ...]]  # the speaker labels of each document (by source), sorted

    def idf(self, term: str) -> float:
        return math.log((self.n_docs + 1) / (self.df.get(term, 0) + 0.5))


def build_tables(records: Sequence, sentence_first: np.ndarray) -> TextTables:
    """Tokenize every sentence once; ``records`` are :class:`qa.store.Record`."""
    sent_tokens: list[frozenset[str]] = []
    sent_seq: list[tuple[str, ...]] = []
    types, isq, neg = [], [], []
    pass_tokens, pass_caps = [], []
    q_row = np.full(len(records), -1, dtype=np.int64)
    q_span = np.zeros((len(records), 2), dtype=np.int64)
    df: Counter = Counter()
    speakers: list[str | None] = []
    lengths: list[int] = []
    context: list[frozenset[str]] = []
    by_doc: dict[str, set[str]] = {}
    for r in records:
        toks: set[str] = set()
        context.append(frozenset(tokenize(" ".join(x for x in (r.title, r.section, r.question) if x))))
        speaker = r.speaker.lower() if r.speaker and len(r.speaker) >= 3 else None
        prev = r.start
        qnorm = " ".join(r.question.split()) if r.question else None
        if r.question:
            pos = r.text.find(r.question)
            if pos >= 0:
                q_span[r.id] = (pos, pos + len(r.question))
        for j, (s, e, _h) in enumerate(r.sentences):
            sent = r.text[s - r.start : e - r.start]
            # A label in the gap before a sentence ("Marketing:", "**Rob Pike:**") hands the
            # turn to its speaker: a passage of a transcript holds several turns.
            gap = r.text[prev - r.start : s - r.start].strip()
            label = find_label(gap + " x") if gap and len(gap) < 80 else None
            if label is not None and label.role == "speaker":
                # "A:" or "CC:" matches too many questions' words to say who is named.
                speaker = label.name.lower() if len(label.name) >= 3 else None
            prev = e
            speakers.append(speaker)
            if speaker is not None:
                by_doc.setdefault(r.source, set()).add(speaker)
            lengths.append(e - s)
            seq = tuple(tokenize(sent))
            st = frozenset(seq)
            sent_seq.append(seq)
            sent_tokens.append(st)
            toks |= st
            types.append(type_mask(sent))
            isq.append(sent.rstrip().endswith(("?", "？")))
            neg.append(bool(_NEGATION.search(sent)))
            if qnorm and q_row[r.id] < 0 and " ".join(sent.split()) in qnorm:
                q_row[r.id] = int(sentence_first[r.id]) + j
        pass_tokens.append(frozenset(toks))
        heads = " ".join(x for x in (r.title, r.section) if x)
        pass_caps.append(frozenset(w.lower() for w in _CAPITAL.findall(f"{r.text} {heads}")))
        df.update(toks)
    return TextTables(sent_tokens, sent_seq, np.asarray(types, np.int64), np.asarray(isq, bool), np.asarray(neg, bool),
                      pass_tokens, pass_caps, q_row, q_span, df, len(records), speakers,
                      np.asarray(lengths, np.int64), context,
                      {doc: tuple(sorted(labels)) for doc, labels in by_doc.items()})


# --------------------------------------------------------------- features

RANK_FEATURES = (
    "z_bm25", "z_dense", "z_sentence", "z_sentence_bm25", "fused",
    "dense", "best_cos", "window_cos", "question_cos", "has_question",
    "cov_passage", "cov_sentence", "cov_window", "type_in_passage", "type_in_best", "no_type_asked",
    "speaker_named", "speaker_any", "cov_context", "maxsim", "maxsim_sentence",
)

SENTENCE_FEATURES = ("cos", "cos_rank0", "cov", "type", "neighbour_cos", "first", "len", "late", "late_rank0")

CONF_FEATURES = (
    "score", "margin", "best_cos", "dense", "question_cos", "cov_passage", "cov_sentence", "cov_window",
    "rare_missing", "rare_together", "type_asked_missing", "negation_mismatch", "names_missing", "q_terms",
    "terms_missing", "numbers_missing", "unknown_terms", "max_missing_idf", "pairs_together",
)


@dataclass
class QueryTerms:
    """The question's terms with their weights, computed once per query."""

    tokens: frozenset[str]
    idf: dict[str, float]
    total: float
    rare: tuple[str, ...]  # the (up to) three rarest terms
    pairs: tuple[tuple[str, str], ...]  # neighbouring terms of the question, in order
    unknown: float  # share of the terms that no passage holds
    expected: str | None
    negated: bool
    caps: frozenset[str]  # lower-cased capitalized words past the first word
    numbers: frozenset[str]  # digit strings of the question ("1973", "12")
    lowered: str  # the question in lower case, for matching speaker labels
    speaker_match: dict[str, float]  # cache of :func:`_speaker_match` per label


def _speaker_match(qt: "QueryTerms", label: str) -> float:
    """How plainly the question names a speaker: 1 for the whole label ("PhD A", "the
    industrial designer"), half the share of its longer words for part of it ("the professor"
    for "Professor B"), else 0."""
    got = qt.speaker_match.get(label)
    if got is None:
        if re.search(rf"(?<!\w){re.escape(label)}(?!\w)", qt.lowered):
            got = 1.0
        else:
            long = [w for w in re.findall(r"\w+", label) if len(w) >= 3]
            q_words = set(re.findall(r"\w+", qt.lowered))
            got = 0.5 * sum(w in q_words for w in long) / len(long) if long else 0.0
        qt.speaker_match[label] = got
    return got


def put_to(qt: "QueryTerms", *labels: str) -> str | None:
    """The question put to the speakers it names, in the second person, or None when it names none.

    "Which languages did Robert Griesemer grow up with?" becomes "which languages did you
    grow up with?": a speaker says "I grew up with Pascal", never their own name, so the
    plain question's cosine with their sentences is low (measured on one such pair:
    0.16, against 0.37 for the question put to them). Of ``labels``, those the question
    names are all put in the second person.
    """
    named = named_speakers(qt, labels)
    if not named:
        return None
    q = qt.lowered
    for label in named:
        whole = _speaker_match(qt, label) == 1.0  # the whole label is in the question, else a part of it
        names = [re.escape(label)] if whole else [re.escape(w) for w in re.findall(r"\w+", label) if len(w) >= 3]
        name = r"(?<!\w)(?:the )?(?:" + "|".join(names) + r")"
        q = re.sub(name + r"(?:'s|’s)(?!\w)", "your", q)
        q = re.sub(name + r"(?!\w)", "you", q)
    return re.sub(r"\byou(?: you)+\b", "you", q)


def named_speakers(qt: "QueryTerms", labels: Sequence[str]) -> tuple[str, ...]:
    """Of a document's speaker ``labels``, those the question names: half their words or more
    ("financial" does not name "Practice 101 in the financial world")."""
    return tuple(label for label in labels if _speaker_match(qt, label) >= 0.25)


def without_names(qt: "QueryTerms", labels: Sequence[str]) -> "QueryTerms":
    """The question's terms without the words of the speakers ``labels`` it names.

    In a document where they speak, their names say who answers, not what: a host's
    introduction that names every guest covers them and answers nothing.
    """
    drop = set(tokenize(" ".join(labels)))
    if not drop & qt.tokens:
        return qt
    idf = {t: w for t, w in qt.idf.items() if t not in drop}
    return replace(qt, tokens=qt.tokens - drop, idf=idf, total=sum(idf.values()) or 1.0,
                   rare=tuple(t for t in qt.rare if t not in drop),
                   pairs=tuple(p for p in qt.pairs if not drop & set(p)))


def query_terms(question: str, q_tokens: Sequence[str], tables: TextTables) -> QueryTerms:
    toks = frozenset(q_tokens)
    idf = {t: tables.idf(t) for t in sorted(toks)}  # sorted: sums over it add up the same in every process
    # Ties broken by the term itself: a set's order differs between processes (hash randomization).
    rare = tuple(sorted(toks, key=lambda t: (-idf[t], t))[:3])
    words = question.split()
    caps = frozenset(w.lower() for w in _CAPITAL.findall(" ".join(words[1:]))) - {"i"}
    seq = list(dict.fromkeys(q_tokens))
    pairs = tuple(zip(seq, seq[1:]))
    unknown = sum(tables.df.get(t, 0) == 0 for t in toks) / max(1, len(toks))
    return QueryTerms(toks, idf, sum(idf.values()) or 1.0, rare, pairs, unknown, expected_type(question),
                      bool(_NEGATION.search(question)), caps, frozenset(re.findall(r"\d+", question)),
                      " ".join(question.lower().split()), {})


def _cov(qt: QueryTerms, toks: frozenset[str] | set[str]) -> float:
    return sum(w for t, w in qt.idf.items() if t in toks) / qt.total


@dataclass
class Evidence:
    """The evidence of one candidate passage, kept for the answer sentence and confidence."""

    rank_x: np.ndarray
    best_row: int  # sentence row (global) with the best cosine
    cov_best: float  # coverage of the best-covering sentence
    cov_window: float
    rare_together: float


def candidate_evidence(qt: QueryTerms, tables: TextTables, rec_id: int, first_row: int, sent_cos: np.ndarray,
                       base: Sequence[float], dense: float, question_cos: float, late: float = 0.0,
                       spoken_cos: np.ndarray | None = None, late_sentence: float | None = None) -> Evidence:
    """Ranking features of one candidate (see :data:`RANK_FEATURES`).

    Args:
        qt: The question's terms.
        tables: The generation's text tables.
        rec_id: The passage id.
        first_row: Its first sentence row.
        sent_cos: Cosine of the question with each of its sentences.
        base: The four z-normalized first-stage scores and the fused score.
        dense: Passage cosine.
        question_cos: Cosine with the passage's interviewer question (0 when none).
        late: MaxSim of the question's tokens against the passage's (:mod:`qa.late`).
        spoken_cos: ``sent_cos``, but for the sentences of a speaker the question names, the
            cosine of the question put to that speaker (:func:`put_to`). ``best_cos`` is its
            maximum: bench/tune.py's cross-validation preferred that to the plain cosine, and
            to a feature of its own beside it (README, "Ranking").
        late_sentence: The best MaxSim of the question against one sentence (``late`` when
            not given): the question's words met in one place, not spread over the passage.
    """
    n = len(sent_cos)
    rows = range(first_row, first_row + n)
    if spoken_cos is not None:
        sent_cos = spoken_cos  # the cosines the question's names do not inflate (see spoken_cos)
    covs = [_cov(qt, tables.sent_tokens[r]) for r in rows] if n else [0.0]
    win_cov, win_cos = 0.0, -1.0
    for i in range(n):
        a, b = max(0, i - 1), min(n, i + 2)
        toks = set().union(*(tables.sent_tokens[first_row + j] for j in range(a, b)))
        win_cov = max(win_cov, _cov(qt, toks))
        win_cos = max(win_cos, float(sent_cos[i]) + 0.25 * float(sent_cos[a:b].sum() - sent_cos[i]))
    best_i = int(np.argmax(sent_cos)) if n else 0
    bit = _TYPE_BIT.get(qt.expected or "", 0)
    type_best = float(bool(bit and n and tables.sent_types[first_row + best_i] & bit))
    type_pass = float(bool(bit and n and np.bitwise_or.reduce(tables.sent_types[first_row : first_row + n]) & bit))
    rare_together = max((sum(t in tables.sent_tokens[r] for t in qt.rare) / max(1, len(qt.rare)) for r in rows),
                        default=0.0)
    # "What did the marketing expert bring?": the turns of the speaker a question names.
    named = [_speaker_match(qt, sp) if sp else 0.0 for sp in (tables.sent_speaker[r] for r in rows)]
    lens = tables.sent_len[first_row : first_row + n]
    speaker_named = float(np.dot(named, lens) / lens.sum()) if n and lens.sum() else 0.0
    best = float((sent_cos if spoken_cos is None else spoken_cos).max()) if n else dense
    x = np.array([
        *base, dense, best, win_cos if n else dense, question_cos,
        float(question_cos != 0.0), _cov(qt, tables.pass_tokens[rec_id]), max(covs), win_cov,
        type_pass, type_best, float(bit == 0),
        speaker_named, max(named, default=0.0), _cov(qt, tables.context_tokens[rec_id]), late,
        late if late_sentence is None else late_sentence,
    ], dtype=np.float64)
    return Evidence(x, first_row + best_i, max(covs), win_cov, rare_together)


def sentence_features(qt: QueryTerms, tables: TextTables, first_row: int, sent_cos: np.ndarray,
                      lengths: Sequence[int], late: np.ndarray | None = None) -> np.ndarray:
    """Features of each sentence of one passage (see :data:`SENTENCE_FEATURES`).

    ``late`` is each sentence's MaxSim (:func:`qa.late.late_scores`; NaN where the model's
    length limit cut the sentence off, which then takes the passage's lowest).
    """
    n = len(sent_cos)
    late = np.full(n, np.nan) if late is None else np.asarray(late, dtype=np.float64)
    known = ~np.isnan(late)
    late = np.where(known, late, late[known].min() if known.any() else 0.0)
    late_top = float(late.max()) if n else 0.0
    bit = _TYPE_BIT.get(qt.expected or "", 0)
    top = float(sent_cos.max()) if n else 0.0
    out = np.zeros((n, len(SENTENCE_FEATURES)))
    for i in range(n):
        r = first_row + i
        nb = [float(sent_cos[j]) for j in (i - 1, i + 1) if 0 <= j < n]
        out[i] = (sent_cos[i], sent_cos[i] - top, _cov(qt, tables.sent_tokens[r]),
                  float(bool(bit and tables.sent_types[r] & bit)), max(nb) if nb else 0.0, float(i == 0),
                  min(1.0, lengths[i] / 300), late[i], late[i] - late_top)
    return out


def _pairs_together(qt: QueryTerms, seq: tuple[str, ...]) -> float:
    """Share of the question's neighbouring term pairs that also stand close (within 3 terms) in ``seq``.

    A question that swaps a name or a word for its opposite keeps most terms
    of the passage but breaks their local pairs.
    """
    if not qt.pairs:
        return 0.0
    pos: dict[str, list[int]] = {}
    for i, t in enumerate(seq):
        pos.setdefault(t, []).append(i)
    hit = 0
    for a, b in qt.pairs:
        if a in pos and b in pos and any(abs(i - j) <= 3 for i in pos[a] for j in pos[b]):
            hit += 1
    return hit / len(qt.pairs)


def confidence_features(qt: QueryTerms, tables: TextTables, rec_id: int, ev: Evidence, score: float,
                        next_score: float, passage_negated: bool, first_row: int, n_rows: int) -> np.ndarray:
    """Features of one returned passage for the confidence model (see :data:`CONF_FEATURES`)."""
    x = ev.rank_x
    f = dict(zip(RANK_FEATURES, x))
    # A term the passage's heading, title or interviewer question holds is not missing: in a
    # changelog or a FAQ the version or the subject asked about is written only there.
    ptoks = tables.pass_tokens[rec_id] | tables.context_tokens[rec_id]
    rare_missing = sum(qt.idf[t] for t in qt.rare if t not in ptoks) / max(1e-6, sum(qt.idf[t] for t in qt.rare) or 1.0)
    bit = _TYPE_BIT.get(qt.expected or "", 0)
    names = qt.caps
    names_missing = (sum(1 for w in names if w not in tables.pass_caps[rec_id]) / len(names)) if names else 0.0
    return np.array([
        score, score - next_score, f["best_cos"], f["dense"], f["question_cos"], f["cov_passage"], f["cov_sentence"],
        f["cov_window"], rare_missing, ev.rare_together, float(bool(bit) and not f["type_in_passage"]),
        float(qt.negated and not passage_negated), names_missing, min(1.0, len(qt.tokens) / 10),
        min(3, sum(t not in ptoks for t in qt.tokens)) / 3, float(any(n not in ptoks for n in qt.numbers)),
        qt.unknown, max((qt.idf[t] for t in qt.tokens if t not in ptoks), default=0.0) / 10,
        max((_pairs_together(qt, tables.sent_seq[r]) for r in range(first_row, first_row + n_rows)), default=0.0),
    ], dtype=np.float64)


# ------------------------------------------------------------------ models


@dataclass(frozen=True)
class LinearModel:
    """A standardized linear model: ``coef · (x - mean) / scale + intercept``.

    ``kind`` "logistic" squashes the result through a sigmoid (a probability);
    "linear" returns the raw score (for ranking).
    """

    name: str
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    kind: str = "linear"

    def decision(self, x: np.ndarray) -> np.ndarray:
        return ((np.atleast_2d(x) - self.mean) / self.scale) @ self.coef + self.intercept

    def predict(self, x: np.ndarray) -> np.ndarray:
        z = self.decision(x)
        return 1.0 / (1.0 + np.exp(-z)) if self.kind == "logistic" else z

    def to_json(self, **extra) -> dict:
        return {"name": self.name, "kind": self.kind, "features": list(self.features),
                "mean": self.mean.tolist(), "scale": self.scale.tolist(), "coef": self.coef.tolist(),
                "intercept": float(self.intercept), **extra}

    @classmethod
    def from_json(cls, data: dict, expected: Sequence[str]) -> "LinearModel":
        feats = tuple(data["features"])
        if feats != tuple(expected):
            raise ValueError(f"model {data.get('name')} was trained on other features; re-run bench/tune.py")
        arr = [np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "coef")]
        if any(a.shape != (len(feats),) for a in arr):
            raise ValueError(f"model {data.get('name')} has mismatched shapes")
        return cls(data["name"], feats, arr[0], np.where(arr[1] > 0, arr[1], 1.0), arr[2],
                   float(data["intercept"]), data.get("kind", "linear"))


@functools.lru_cache(maxsize=8)
def load_model(name: str, expected: tuple[str, ...]) -> LinearModel | None:
    """Load ``qa/models/<name>.json`` (plain JSON), or None when it is not there."""
    path = MODELS / f"{name}.json"
    if not path.exists():
        return None
    return LinearModel.from_json(json.loads(path.read_text(encoding="utf-8")), expected)
