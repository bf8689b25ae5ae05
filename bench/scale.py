"""Scaling the dense index: exact (Flat) against HNSW and IVF on clustered synthetic vectors,
and the BM25 side at a million passages built from SQuAD sentences.

Vectors are normalized 384-d, drawn around 2,000 random centres (real
embeddings cluster by topic; uniform noise would flatter no index and mislead
about IVF). Recall@10 is measured against exact search on the same data.

    python bench/scale.py [--sizes 100000 1000000] [--bm25-passages 1000000]
    python bench/scale.py --real [--real-sizes 50000 100000 200000]

``--real`` measures on real MiniLM vectors instead: every passage and sentence
vector of the product's own indexes of the bundled data (the interview and the
SQuAD v1.1 dev articles), queried with real SQuAD and development questions.
Sizes above the real count are reached by adding copies of the real vectors with
small Gaussian noise (each copy keeps a cosine of about 0.9 with its original,
closer than real neighbours usually are). These figures choose
``FLAT_MAX_VECTORS`` and ``IVF_NPROBE`` in qa/store.py.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import time
from pathlib import Path

import numpy as np

from common import CACHE, QUESTIONS, cached_encode, interview_index, load_squad, pct, squad_corpus, built_index

DIM = 384


def clustered(n: int, seed: int, centres: int = 2000, spread: float = 1.0) -> np.ndarray:
    """Points around fixed centres (the same for every seed), so queries fall among the data."""
    c = np.random.default_rng(0).standard_normal((centres, DIM)).astype(np.float32)
    rng = np.random.default_rng(seed)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    out = np.empty((n, DIM), dtype=np.float32)
    step = 100_000
    for i in range(0, n, step):
        m = min(step, n - i)
        x = c[rng.integers(0, centres, m)] + spread * rng.standard_normal((m, DIM)).astype(np.float32) / np.sqrt(DIM)
        out[i : i + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def time_queries(index, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, list[float]]:
    ids, times = [], []
    for q in queries:
        t = time.perf_counter()
        _, i = index.search(q[None, :], k)
        times.append(time.perf_counter() - t)
        ids.append(i[0])
    return np.stack(ids), times


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def dense(sizes: list[int], n_queries: int) -> list[dict]:
    import faiss

    rows = []
    for n in sizes:
        data = clustered(n, seed=1)
        queries = clustered(n_queries, seed=2)  # same centres, fresh points
        flat = faiss.IndexFlatIP(DIM)
        t = time.perf_counter(); flat.add(data); flat_build = time.perf_counter() - t
        truth, flat_t = time_queries(flat, queries)
        rows.append({"n": n, "index": "Flat (exact)", "build_s": round(flat_build, 2), "recall@10": 1.0,
                     "p50_ms": round(pct(flat_t, 50) * 1e3, 3), "p95_ms": round(pct(flat_t, 95) * 1e3, 3),
                     "memory_mb": round(n * DIM * 4 / 2**20, 1)})
        print(rows[-1], flush=True)
        configs = []
        nlist = int(4 * np.sqrt(n))
        configs.append(("IVF%d,Flat" % nlist, lambda: faiss.index_factory(DIM, f"IVF{nlist},Flat", faiss.METRIC_INNER_PRODUCT),
                        [("nprobe", p) for p in (8, 16, 32, 64)]))
        configs.append(("HNSW32,Flat", lambda: faiss.index_factory(DIM, "HNSW32,Flat", faiss.METRIC_INNER_PRODUCT),
                        [("efSearch", e) for e in (32, 64, 128)]))
        for name, make, params in configs:
            index = make()
            if name.startswith("HNSW"):
                faiss.downcast_index(index).hnsw.efConstruction = 80
            t = time.perf_counter()
            if not index.is_trained:
                train = data[np.random.default_rng(3).choice(n, min(n, nlist * 50), replace=False)]
                index.train(train)
            index.add(data)
            build = time.perf_counter() - t
            size_mb = len(faiss.serialize_index(index)) / 2**20
            for pname, pval in params:
                faiss.ParameterSpace().set_index_parameter(index, pname, pval)
                found, times = time_queries(index, queries)
                rows.append({"n": n, "index": f"{name} {pname}={pval}", "build_s": round(build, 1),
                             "recall@10": round(recall(found, truth), 4), "p50_ms": round(pct(times, 50) * 1e3, 3),
                             "p95_ms": round(pct(times, 95) * 1e3, 3), "memory_mb": round(size_mb, 1)})
                print(rows[-1], flush=True)
            del index
    return rows


def bm25(n_passages: int, n_queries: int) -> dict:

    from qa.lexical import Lexical, tokenize

    data = load_squad()
    sentences = [s for a in data for p in a["paragraphs"] for s in re.split(r"(?<=[.!?])\s+", p["context"]) if len(s) > 20]
    questions = [q["question"] for a in data for p in a["paragraphs"] for q in p["qas"]]
    rng = random.Random(7)
    import gc

    gc.collect()
    before = rss_mb()
    t = time.perf_counter()
    passages = [" ".join(rng.sample(sentences, 3)) for _ in range(n_passages)]
    lex = Lexical.build(passages)
    build = time.perf_counter() - t
    del passages
    gc.collect()
    index_mb = rss_mb() - before
    qs = rng.sample(questions, n_queries)
    times = []
    for q in qs:
        t = time.perf_counter()
        scores = lex.scores(tokenize(q), n_passages)
        np.argpartition(-scores, 50)[:50]
        times.append(time.perf_counter() - t)
    return {"passages": n_passages, "distinct sentences": len(sentences), "build_s": round(build, 1),
            "p50_ms": round(pct(times, 50) * 1e3, 2), "p95_ms": round(pct(times, 95) * 1e3, 2),
            "index_memory_mb": round(index_mb)}


NPROBES = (4, 8, 16, 32, 64)
NOISE_COS = 0.9  # cosine between a noisy copy and its original


def real_vectors(articles: int | None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Every passage and sentence vector of the interview and SQuAD indexes, and real question vectors."""
    from qa.embedding import Embedder
    from qa.store import load_generation, reconstruct

    corpus, questions, _ = squad_corpus(articles)
    parts, counts = [], {}
    for name, index in (("interview", interview_index()), ("squad", built_index(corpus, f"squad_index_{articles or 'all'}"))):
        gen = load_generation(index)
        p = reconstruct(gen.passage_index, np.arange(gen.passage_index.ntotal))
        s = reconstruct(gen.sentence_index, np.arange(gen.sentence_index.ntotal))
        counts[name] = {"passages": int(len(p)), "sentences": int(len(s))}
        parts += [p, s]
    base = np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)
    embedder = Embedder()
    qtexts = [" ".join(q.text.split()) for q in questions]
    qvecs = cached_encode(embedder, qtexts, "squad-q")
    dev = [json.loads(x)["question"] for x in QUESTIONS.read_text().splitlines() if x.strip()]
    dvecs = cached_encode(embedder, dev, "dev-q")
    return base, np.concatenate([qvecs, dvecs]).astype(np.float32), counts


def grow(base: np.ndarray, n: int, seed: int = 5) -> np.ndarray:
    """``base`` followed by noisy copies of it, ``n`` vectors in all, normalized."""
    if n <= len(base):
        return base[:n]
    rng = np.random.default_rng(seed)
    # Noise of norm s on a unit vector gives cosine 1/sqrt(1+s^2): s for NOISE_COS.
    s = float(np.sqrt(1 / NOISE_COS**2 - 1))
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    out[: len(base)] = base
    for i in range(len(base), n, 50_000):
        m = min(50_000, n - i)
        x = base[rng.integers(0, len(base), m)] + s * rng.standard_normal((m, base.shape[1])).astype(np.float32) / np.sqrt(base.shape[1])
        out[i : i + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def per_query_recall(found: np.ndarray, truth: np.ndarray) -> np.ndarray:
    return np.array([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)])


def dist(values: np.ndarray) -> dict:
    return {"mean": round(float(values.mean()), 4), "p5": round(float(np.percentile(values, 5)), 4),
            "min": round(float(values.min()), 4), "share_1.0": round(float((values >= 1.0).mean()), 4)}


def real(articles: int | None, sizes: list[int], n_queries: int) -> dict:
    """IVF (as qa/store.py builds it) against exact search on real MiniLM vectors."""
    import faiss

    from qa.store import _nlist

    base, all_q, counts = real_vectors(articles)
    rng = np.random.default_rng(11)
    queries = all_q[rng.choice(len(all_q), min(n_queries, len(all_q)), replace=False)]
    rows = []
    for n in [len(base)] + [s for s in sizes if s > len(base)]:
        data = grow(base, n)
        dim = data.shape[1]
        flat = faiss.IndexFlatIP(dim)
        flat.add(data)
        _, truth10 = flat.search(queries, 10)
        _, truth100 = flat.search(queries, 100)
        _, flat_t = time_queries(flat, queries)
        rows.append({"n": n, "index": "Flat (exact)", "build_s": 0.0, "p50_ms": round(pct(flat_t, 50) * 1e3, 3),
                     "p95_ms": round(pct(flat_t, 95) * 1e3, 3), "recall@10": dist(np.ones(1)), "recall@100": dist(np.ones(1))})
        print(rows[-1], flush=True)
        nlist = _nlist(n)
        t = time.perf_counter()
        quantizer = faiss.IndexFlatIP(dim)
        ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = data[np.random.default_rng(0).choice(n, min(n, nlist * 64), replace=False)]
        ivf.train(sample)
        ivf.add(data)
        build = time.perf_counter() - t
        for nprobe in NPROBES:
            ivf.nprobe = nprobe
            _, found10 = ivf.search(queries, 10)
            _, found100 = ivf.search(queries, 100)
            _, times = time_queries(ivf, queries)
            rows.append({"n": n, "index": f"IVF{nlist},Flat nprobe={nprobe}", "build_s": round(build, 1),
                         "p50_ms": round(pct(times, 50) * 1e3, 3), "p95_ms": round(pct(times, 95) * 1e3, 3),
                         "recall@10": dist(per_query_recall(found10, truth10)),
                         "recall@100": dist(per_query_recall(found100, truth100))})
            print(rows[-1], flush=True)
        del ivf, flat
    return {"real vectors": int(len(base)), "from": counts, "queries": int(len(queries)),
            "noise cosine": NOISE_COS, "rows": rows}


def rss_mb() -> float:
    """Resident memory now (not the peak), from /proc."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--bm25-passages", type=int, default=1_000_000)
    ap.add_argument("--json", default=str(CACHE / "scale.json"))
    ap.add_argument("--real", action="store_true", help="real MiniLM vectors of the bundled data (see above)")
    ap.add_argument("--real-sizes", type=int, nargs="+", default=[20_000, 50_000, 100_000, 200_000])
    ap.add_argument("--articles", type=int, default=None, help="with --real: only the first N SQuAD articles")
    args = ap.parse_args()
    if args.real:
        out = real(args.articles, args.real_sizes, args.queries)
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2))
        return
    out = {"dense": dense(args.sizes, args.queries)}
    if args.bm25_passages:
        out["bm25"] = bm25(args.bm25_passages, 100)
        print(out["bm25"], flush=True)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
