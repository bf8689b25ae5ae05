"""Shared helpers for the benchmarks: SQuAD as a corpus, caches, timing, machine facts."""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import platform
import resource
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# The full data sets live beside the repo, never in it; the environment can point elsewhere
# (the smoke test points at the small copies in tests/data and at a temporary cache).
DATA = Path(os.environ.get("QA_BENCH_DATA", ROOT.parent / "shared" / "data"))
SQUAD = Path(os.environ.get("QA_BENCH_SQUAD", DATA / "squad" / "squad-v1.1-dev.json.gz"))
CACHE = Path(os.environ.get("QA_BENCH_CACHE", ROOT / "bench" / "cache"))
# The development questions are small and also in the repo (tests/data); prefer the shared copy.
QUESTIONS = next((p for p in (DATA / "dev_questions.jsonl", ROOT / "tests" / "data" / "dev_questions.jsonl")
                  if p.exists()), ROOT / "tests" / "data" / "dev_questions.jsonl")
sys.path.insert(0, str(ROOT))


def require_data() -> None:
    """Stop with one clear line when the benchmark data is not there."""
    if not SQUAD.exists():
        raise SystemExit(f"error: {SQUAD} is missing. The full benchmarks need the shared data beside the "
                         f"repository (../shared/data/squad/squad-v1.1-dev.json.gz), or QA_BENCH_DATA=<folder>.")


def load_squad() -> list[dict]:
    """The SQuAD articles (``data`` list) from a ``.json`` or ``.json.gz`` file."""
    require_data()
    opener = gzip.open if SQUAD.suffix == ".gz" else open
    with opener(SQUAD, "rt", encoding="utf-8") as fh:
        return json.load(fh)["data"]


@dataclass(frozen=True)
class Question:
    text: str
    doc: str  # document name in the generated corpus
    start: int  # gold paragraph span in that document
    end: int


def squad_corpus(articles: int | None = None) -> tuple[Path, list[Question], list[tuple[str, int, int, str]]]:
    """Write each SQuAD article as one document (title line, then its paragraphs).

    Returns:
        The corpus folder, the questions with their gold spans, and the paragraphs
        as ``(doc, start, end, text)``.
    """
    data = load_squad()[:articles]
    folder = CACHE / f"squad_corpus_{articles or 'all'}"
    folder.mkdir(parents=True, exist_ok=True)
    questions, paragraphs = [], []
    for art in data:
        name, text, spans = article_document(art)
        for s, e, p in spans:
            paragraphs.append((name, s, e, text[s:e]))
            questions.extend(Question(q["question"], name, s, e) for q in p["qas"])
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return folder, questions, paragraphs


def article_name(title: str) -> str:
    """The document name of a SQuAD article: its title made safe for a file name."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in title)[:80] + ".txt"


def article_document(art: dict) -> tuple[str, str, list[tuple[int, int, dict]]]:
    """One SQuAD article as one document: its name, its text (title line, then each paragraph)
    and each paragraph's ``(start, end, paragraph)`` span in that text."""
    text = art["title"].replace("_", " ") + "\n\n"
    spans = []
    for p in art["paragraphs"]:
        s = len(text)
        text += p["context"].strip()
        spans.append((s, len(text), p))
        text += "\n\n"
    return article_name(art["title"]), text, spans


def cached_encode(embedder, texts: list[str], tag: str) -> np.ndarray:
    """Encode texts once per (model, texts); later runs read the .npy file."""
    key = hashlib.sha256((embedder.name + "\0" + "\0".join(texts)).encode()).hexdigest()[:16]
    path = CACHE / f"emb-{tag}-{key}.npy"
    if path.exists():
        return np.load(path, allow_pickle=False)
    vecs = embedder.encode(texts)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs, allow_pickle=False)
    return vecs


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    cpus = os.cpu_count()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.machine()}, {cpus} cores, {mem:.0f} GiB RAM, Python {platform.python_version()}"


def parse_result(body: str) -> dict | None:
    """Gradio streams ``event: complete`` then ``data: [result]``; anything else is a failure."""
    event = None
    for line in body.splitlines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event == "complete":
            return json.loads(line.split(":", 1)[1])[0]
    return None


def built_index(corpus: Path, name: str) -> Path:
    """The product's index of ``corpus`` under the cache (built once, then reused incrementally)."""
    from qa import build_index

    index = CACHE / name
    build_index(corpus, index)  # embeds nothing when the cache is current
    return index


def interview_index() -> Path:
    return built_index(ROOT / "corpus", "interview_index")
