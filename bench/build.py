"""Build throughput against a bare ``model.encode`` of the same texts, and incremental cost.

Each phase runs in its own process so that its peak memory is its own.

    python bench/build.py [--articles N]
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import CACHE, peak_rss_mb, squad_corpus


def phase_full(corpus: str, index: str) -> dict:
    from qa import build_index

    shutil.rmtree(index, ignore_errors=True)
    t = time.perf_counter()
    rep = build_index(corpus, index)
    return {"seconds": time.perf_counter() - t, "embed_seconds": rep.embed_seconds,
            "passages": rep.passages, "sentences": rep.sentences,
            "texts": rep.embedded + rep.sentences, "peak_mb": peak_rss_mb()}


def phase_bare(corpus: str, index: str) -> dict:
    """Encode exactly what the build encoded, with the model's own batching."""
    from qa.embedding import Embedder
    from qa.indexing import embedding_text, sentence_texts
    from qa.store import load_generation

    gen = load_generation(index)
    texts = [embedding_text(r) for r in gen.records] + [t for r in gen.records for t in sentence_texts(r)]
    model = Embedder().model
    model.encode(["warm up"])
    t = time.perf_counter()
    model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    return {"seconds": time.perf_counter() - t, "texts": len(texts), "peak_mb": peak_rss_mb()}


def phase_incremental(corpus: str, index: str) -> dict:
    """Index all documents but one, then add that one and time the update."""
    from qa import build_index

    docs = sorted(Path(corpus).glob("*.txt"))
    partial = Path(index + "-partial-corpus")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    for d in docs[:-1]:
        shutil.copy(d, partial / d.name)
    inc_index = index + "-inc"
    shutil.rmtree(inc_index, ignore_errors=True)
    shutil.copytree(index, inc_index)
    build_index(partial, inc_index)  # the index without the last document (reuses every vector)
    shutil.copy(docs[-1], partial / docs[-1].name)
    t = time.perf_counter()
    rep = build_index(partial, inc_index)
    return {"seconds": time.perf_counter() - t, "embedded": rep.embedded, "added_document": docs[-1].name,
            "peak_mb": peak_rss_mb()}


PHASES = {"full": phase_full, "bare": phase_bare, "incremental": phase_incremental}


def run_phase(name: str, corpus: Path, index: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--phase", name, "--corpus", str(corpus), "--index", str(index)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=None)
    ap.add_argument("--phase", choices=sorted(PHASES))
    ap.add_argument("--corpus")
    ap.add_argument("--index")
    ap.add_argument("--json")
    args = ap.parse_args()
    if args.phase:
        print(json.dumps(PHASES[args.phase](args.corpus, args.index)))
        return
    corpus, _, _ = squad_corpus(args.articles)
    index = CACHE / f"build_bench_{args.articles or 'all'}"
    full = run_phase("full", corpus, index)
    bare = run_phase("bare", corpus, index)
    inc = run_phase("incremental", corpus, index)
    out = {
        "full build": full, "bare encode": bare, "incremental": inc,
        "throughput texts/s (build)": round(full["texts"] / full["seconds"], 1),
        "throughput texts/s (bare)": round(bare["texts"] / bare["seconds"], 1),
        "throughput ratio": round((full["texts"] / full["seconds"]) / (bare["texts"] / bare["seconds"]), 3),
        "throughput ratio, encoding stage only": round(bare["seconds"] / full["embed_seconds"], 3),
        "incremental / full time": round(inc["seconds"] / full["seconds"], 3),
    }
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
