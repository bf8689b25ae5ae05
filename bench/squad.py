"""Retrieval quality on SQuAD v1.1 dev: the product against three baselines, in one run.

Each of the 48 articles becomes one corpus document, indexed the way the
product always indexes. A hit is a returned passage from the gold article that
overlaps the gold paragraph. Baselines search the plain paragraphs.

    python bench/squad.py [--articles N] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import time


from common import CACHE, cached_encode, squad_corpus


def metrics(ranked_hits: list[list[bool]]) -> dict[str, float]:
    n = len(ranked_hits)
    h1 = sum(r[0] for r in ranked_hits if r) / n
    h5 = sum(any(r[:5]) for r in ranked_hits) / n
    mrr = sum(next((1 / (i + 1) for i, ok in enumerate(r[:10]) if ok), 0.0) for r in ranked_hits) / n
    return {"hit@1": round(h1, 3), "hit@5": round(h5, 3), "mrr@10": round(mrr, 3)}


def run(articles: int | None = None) -> dict:
    import bm25s
    import faiss
    import Stemmer

    from qa import Retriever, build_index
    from qa.embedding import Embedder

    corpus, questions, paragraphs = squad_corpus(articles)
    index = CACHE / f"squad_index_{articles or 'all'}"
    t = time.perf_counter()
    report = build_index(corpus, index)
    build_s = time.perf_counter() - t
    retriever = Retriever.load(index)
    embedder = Embedder()
    qtexts = [q.text for q in questions]
    qvecs = cached_encode(embedder, [" ".join(q.split()) for q in qtexts], "squad-q")

    results: dict[str, dict] = {}
    # The product, exactly as users get it.
    ranked = []
    for q, v in zip(questions, qvecs):
        hits = retriever.search(q.text, k=10, vector=v)
        ranked.append([h.source == q.doc and h.start < q.end and h.end > q.start for h in hits])
    results["qa (this product)"] = metrics(ranked)

    # Baselines over plain paragraphs.
    gold = {(d, s): i for i, (d, s, _e, _t) in enumerate(paragraphs)}
    gold_ids = [gold[(q.doc, q.start)] for q in questions]
    ptexts = [p[3] for p in paragraphs]
    stemmer = Stemmer.Stemmer("english")
    bm = bm25s.BM25()
    bm.index(bm25s.tokenize(ptexts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    qtok = bm25s.tokenize(qtexts, stopwords="en", stemmer=stemmer, show_progress=False)
    depth = min(100, len(ptexts))
    bm_ids, _ = bm.retrieve(qtok, k=depth, show_progress=False, n_threads=2)
    pvecs = cached_encode(embedder, ptexts, "squad-p")
    flat = faiss.IndexFlatIP(pvecs.shape[1])
    flat.add(pvecs)
    _, dn_ids = flat.search(qvecs, depth)
    results["bm25s"] = metrics([[int(i) == g for i in row] for row, g in zip(bm_ids, gold_ids)])
    results["dense (MiniLM + FAISS)"] = metrics([[int(i) == g for i in row] for row, g in zip(dn_ids, gold_ids)])
    rrf_rows = []
    for b, d, g in zip(bm_ids, dn_ids, gold_ids):
        score: dict[int, float] = {}
        for rank, i in enumerate(b):
            score[int(i)] = score.get(int(i), 0) + 1 / (60 + rank + 1)
        for rank, i in enumerate(d):
            score[int(i)] = score.get(int(i), 0) + 1 / (60 + rank + 1)
        top = sorted(score, key=score.get, reverse=True)[:10]
        rrf_rows.append([i == g for i in top])
    results["RRF (bm25s + dense)"] = metrics(rrf_rows)
    return {
        "articles": articles or 48, "paragraphs": len(paragraphs), "questions": len(questions),
        "passages": report.passages, "build_seconds": round(build_s, 1), "embedded": report.embedded,
        "results": results,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=None, help="only the first N articles (default: all 48)")
    ap.add_argument("--json", help="write the results here as JSON")
    args = ap.parse_args()
    out = run(args.articles)
    print(f"SQuAD v1.1 dev: {out['articles']} articles, {out['paragraphs']} paragraphs, {out['questions']} questions; "
          f"{out['passages']} passages; build {out['build_seconds']} s ({out['embedded']} embedded)")
    print(f"{'method':28s} {'hit@1':>6s} {'hit@5':>6s} {'MRR@10':>7s}")
    for name, m in out["results"].items():
        print(f"{name:28s} {m['hit@1']:6.3f} {m['hit@5']:6.3f} {m['mrr@10']:7.3f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()
