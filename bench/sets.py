"""The evaluation sets of the ranking and confidence work, with their honest splits.

Every set is written as a corpus folder under bench/cache and indexed the way
the product always indexes (``build_index``; rebuilds reuse cached vectors).

Splits (fixed, by article or meeting, never by question):

* SQuAD v1.1 dev, 48 articles. The 8 articles that SQuAD 2.0 half A shares with
  it are kept out of ranking work entirely. Of the other 40, every other one
  (sorted by title) is the *tune* split that fits the ranker; the rest is the
  *report* split, never used for fitting anything.
* SQuAD 2.0 half A, 8 articles (1,529 unanswerable questions), indexed as its
  own corpus. Four articles *calibrate* the confidence model and choose the
  tier thresholds; the other four *report*.
* QMSum validation: 35 meetings, one ``Speaker: words`` paragraph per turn.
  The first 12 meetings *report*; the other 23 may *tune* (the ranker learns
  from their queries, asked of all 35 meetings).
* The interview: development questions and off-topic questions (tests/data).
  Report only. Its blind check questions (bench/data/interview_check) too.
* The fixture questions from the document-shapes work (tests/fixtures), if
  present. The interview aside, the documents sorted by name alternate between
  *tune* and *report* (:func:`fixture_split`).
* More documents of other shapes (bench/data/tune_docs), *tune* only: they add
  to the fixtures' tune part, indexed as a corpus of their own so that the
  fixture report documents are asked of the same corpus as before.
"""
from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

from common import CACHE, ROOT, article_document, article_name

# The shared data sits beside the repository (../shared) or at /work/shared.
SHARED = next((p for p in (ROOT.parent / "shared" / "data", Path("/work/shared/data")) if p.exists()),
              ROOT.parent / "shared" / "data")
SQUAD = SHARED / "squad" / "squad-v1.1-dev.json.gz"
SQUAD2 = SHARED / "squad2" / "squad-v2.0-dev-half-a.json.gz"
QMSUM = SHARED / "qmsum" / "qmsum-val.json.gz"
INTERVIEW = ROOT / "corpus" / "optics_valley_interview.txt"
DATA = ROOT / "tests" / "data"
FIXTURES = ROOT / "tests" / "fixtures"
TUNE_DOCS = ROOT / "bench" / "data" / "tune_docs"
CHECK_DOCS = ROOT / "bench" / "data" / "check_docs"
INTERVIEW_CHECK = ROOT / "bench" / "data" / "interview_check"


@dataclass(frozen=True)
class Q:
    """One question with its gold evidence.

    ``spans`` are (doc, start, end) regions; a passage overlapping one is right.
    ``answers`` are gold strings; a highlighted sentence containing one is right.
    ``answerable`` is False for SQuAD 2.0 impossible and off-topic questions.
    """

    text: str
    spans: tuple[tuple[str, int, int], ...]
    answers: tuple[str, ...]
    answerable: bool = True
    group: str = ""  # article or meeting, for splits


@dataclass
class QSet:
    name: str
    corpus: Path
    questions: list[Q] = field(default_factory=list)


def _write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _squad_like(data: list[dict], folder: Path) -> list[Q]:
    out = []
    for art in data:
        name, text, spans = article_document(art)
        for s, e, p in spans:
            for qa in p["qas"]:
                impossible = bool(qa.get("is_impossible"))
                answers = tuple(a["text"] for a in qa.get("answers", []))
                out.append(Q(" ".join(qa["question"].split()), ((name, s, e),), answers, not impossible, name))
        _write(folder, name, text)
    return out


SQUAD2_TITLES = ("Normans", "Huguenot", "1973_oil_crisis", "Packet_switching", "Yuan_dynasty",
                 "Scottish_Parliament", "Imperialism", "French_and_Indian_War")


def squad_v1() -> tuple[QSet, set[str], set[str]]:
    """All 48 articles as one corpus; returns the set and the tune / report article names."""
    data = json.load(gzip.open(SQUAD))["data"]
    qs = QSet("squad1", CACHE / "sets" / "squad1", _squad_like(data, CACHE / "sets" / "squad1"))
    shared = {article_name(t) for t in SQUAD2_TITLES}
    rest = sorted({article_name(a["title"]) for a in data} - shared)
    return qs, set(rest[0::2]), set(rest[1::2])


def squad_v2() -> tuple[QSet, set[str], set[str]]:
    """The 8 SQuAD 2.0 articles as their own corpus; returns calibrate / report article names."""
    data = json.load(gzip.open(SQUAD2))["data"]
    qs = QSet("squad2", CACHE / "sets" / "squad2", _squad_like(data, CACHE / "sets" / "squad2"))
    names = sorted({article_name(a["title"]) for a in data})
    return qs, set(names[0::2]), set(names[1::2])


def qmsum(meetings: int | None = None) -> QSet:
    """Each meeting one document, one ``Speaker: words`` paragraph per turn (the first ``meetings`` only)."""
    data = json.load(gzip.open(QMSUM))["meetings"][:meetings]
    folder = CACHE / "sets" / f"qmsum{meetings or ''}"
    out = []
    for m in data:
        name = article_name(m["name"])
        text, offsets = "", []
        for speaker, words in m["turns"]:
            s = len(text)
            text += f"{speaker.strip() or 'Speaker'}: {' '.join(words.split())}"
            offsets.append((s, len(text)))
            text += "\n\n"
        _write(folder, name, text)
        for q in m["queries"]:
            spans = tuple((name, offsets[a][0], offsets[min(b, len(offsets) - 1)][1]) for a, b in q["spans"])
            out.append(Q(" ".join(q["q"].split()), spans, (), True, name))
    return QSet(f"qmsum{meetings or ''}", folder, out)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def interview() -> tuple[QSet, list[Q]]:
    """The interview with its development questions, and the off-topic questions."""
    folder = CACHE / "sets" / "interview"
    _write(folder, INTERVIEW.name, INTERVIEW.read_text(encoding="utf-8"))
    dev = [Q(r["question"], (), tuple(r["answer_contains"]), True, INTERVIEW.name)
           for r in _jsonl(DATA / "dev_questions.jsonl")]
    off = [Q(r["question"], (), (), False, "off-topic") for r in _jsonl(DATA / "off_topic_questions.jsonl")]
    return QSet("interview", folder, dev), off


def interview_check() -> QSet | None:
    """Blind questions about the interview (bench/data/interview_check): a paraphrase of each
    development question and 20 new ones, written by a helper that saw neither the system nor
    its results. A check set: nothing is fitted or chosen on it."""
    path = INTERVIEW_CHECK / "questions.jsonl"
    if not path.exists():
        return None
    iv, _ = interview()
    return QSet("interview", iv.corpus, [Q(r["question"], (), tuple(r["answer_contains"]), True, INTERVIEW.name)
                                          for r in _jsonl(path)])


def fixtures() -> QSet | None:
    """The document-shapes fixtures and their questions (``doc``, ``question``, ``answer_contains``)."""
    path = FIXTURES / "questions.jsonl"
    if not path.exists():
        return None
    folder = CACHE / "sets" / "fixtures"
    rows = _jsonl(path)
    for doc in sorted({r["doc"] for r in rows}):
        src = FIXTURES / doc
        if src.exists():
            folder.mkdir(parents=True, exist_ok=True)
            dst = folder / Path(doc).name
            if not dst.exists() or dst.read_bytes() != src.read_bytes():
                dst.write_bytes(src.read_bytes())
    qs = [Q(r["question"], (), tuple(r["answer_contains"]), True, Path(r["doc"]).name) for r in rows]
    return QSet("fixtures", folder, qs)


def tune_documents() -> QSet | None:
    """The tune-only documents of other shapes and their questions (each folder's questions.jsonl)."""
    return _documents_with_questions("tune_docs", TUNE_DOCS)


def check_documents() -> QSet | None:
    """Documents gathered to fit on that did not help the cross-validation: a check set that no
    model has seen (bench/data/check_docs, each folder's questions.jsonl)."""
    return _documents_with_questions("check_docs", CHECK_DOCS)


def _documents_with_questions(name: str, root: Path) -> QSet | None:
    folder = CACHE / "sets" / name
    qs: list[Q] = []
    sources: dict[str, Path] = {}
    for path in sorted(root.glob("*/questions.jsonl")):
        for r in _jsonl(path):
            src = path.parent / r["doc"]
            if not src.exists():
                raise SystemExit(f"{path}: {r['doc']} is not beside it")
            if sources.setdefault(src.name, src) != src:
                raise SystemExit(f"{src.name} is in two folders of {root}; rename one")
            qs.append(Q(r["question"], (), tuple(r["answer_contains"]), True, src.name))
    if not qs:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    for name, src in sources.items():
        dst = folder / name
        if not dst.exists() or dst.read_bytes() != src.read_bytes():
            dst.write_bytes(src.read_bytes())
    for stale in {p.name for p in folder.iterdir()} - set(sources):  # taken out of the set
        (folder / stale).unlink()
    return QSet(name, folder, qs)


QMSUM_REPORT_MEETINGS = 12


def qmsum_split(qset: QSet) -> tuple[set[str], set[str]]:
    """Tune / report meeting names of the full QMSum set: the first 12 meetings report."""
    names = list(dict.fromkeys(q.group for q in qset.questions))
    return set(names[QMSUM_REPORT_MEETINGS:]), set(names[:QMSUM_REPORT_MEETINGS])


def fixture_split(qset: QSet) -> tuple[set[str], set[str]]:
    """Tune / report documents of the fixtures: every other one by name, the interview in neither."""
    docs = sorted({q.group for q in qset.questions} - {INTERVIEW.name})
    return set(docs[0::2]), set(docs[1::2])


def index_for(qset: QSet) -> Path:
    """Build (incrementally) and return the index of a set's corpus."""
    from qa import build_index

    index = qset.corpus.parent / (qset.corpus.name + "-index")
    build_index(qset.corpus, index)
    return index


def fixture_unanswerable() -> list[Q]:
    """Questions about the fixture documents that they do not answer."""
    path = FIXTURES / "unanswerable.jsonl"
    return [Q(r["question"], (), (), False, "unanswerable") for r in _jsonl(path)] if path.exists() else []
