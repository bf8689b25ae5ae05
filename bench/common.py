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
CACHE = ROOT / "bench" / "cache"
SQUAD = ROOT.parent / "shared" / "data" / "squad" / "squad-v1.1-dev.json.gz"
sys.path.insert(0, str(ROOT))


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
    if not SQUAD.exists():
        raise SystemExit(f"{SQUAD} is missing: the benchmarks need ../shared/data/squad beside the repo")
    data = json.load(gzip.open(SQUAD))["data"][:articles]
    folder = CACHE / f"squad_corpus_{articles or 'all'}"
    folder.mkdir(parents=True, exist_ok=True)
    questions, paragraphs = [], []
    for art in data:
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in art["title"])[:80] + ".txt"
        text = art["title"].replace("_", " ") + "\n\n"
        for p in art["paragraphs"]:
            s = len(text)
            text += p["context"].strip()
            e = len(text)
            text += "\n\n"
            paragraphs.append((name, s, e, text[s:e]))
            questions.extend(Question(q["question"], name, s, e) for q in p["qas"])
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return folder, questions, paragraphs


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
