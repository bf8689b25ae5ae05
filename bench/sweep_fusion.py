"""Reproduce the choice of the four fusion weights: fit on half of the SQuAD articles, report on the rest.

The weights of :class:`qa.search.Fusion` (passage BM25, passage cosine, best
sentence cosine, best sentence BM25) were chosen by a grid search. This script
is that search, made reproducible and honest:

* the grid covers every weight vector on the simplex in steps of 0.1 (the
  z-normalized scores are summed, so only the proportions matter): 286 settings;
* the SQuAD v1.1 dev articles are split by article (sorted titles, even ones to
  fit, odd ones to report), so no paragraph or topic is on both sides;
* the setting with the best hit@1 on the fit half (MRR@10 breaks ties) is
  reported on the other half and on the development questions of the
  interview, next to the weights the product ships with.

It scores the same candidate pool with the same four signals as
``Retriever._rank`` of this version (pool of 50 from each search, the
number bonus, z-normalization over the pool), computed once per question, so
that the 286 settings cost one matrix product each. It documents the weights
of this version of the ranking; a change to the ranking needs a new sweep.

    python bench/sweep_fusion.py [--articles N] [--step 0.1] [--json OUT]

Needs ../shared/data (SQuAD); encodings and indexes are cached under bench/cache.
"""
from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

from common import CACHE, QUESTIONS, built_index, cached_encode, interview_index, squad_corpus

SIGNALS = ("bm25", "dense", "sentence", "sentence_bm25")


def features(retriever, question: str, qv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The candidate pool of the first stage and its four z-normalized signals (rows: candidates)."""
    from qa.search import clean_question

    gen = retriever._gen
    _, ids_arr, z, *_rest = retriever._signals(gen, clean_question(question),
                                               np.asarray(qv, np.float32).reshape(1, -1), 40)
    return ids_arr, z


def grid(step: float) -> np.ndarray:
    """Every weight vector of four non-negative multiples of ``step`` summing to 1."""
    m = round(1 / step)
    out = [np.array(c) / m for c in itertools.product(range(m + 1), repeat=4) if sum(c) == m]
    return np.array(out, dtype=np.float64)


def score(items: list[tuple[np.ndarray, np.ndarray]], weights: np.ndarray) -> dict[str, np.ndarray]:
    """hit@1 and MRR@10 of every weight vector. ``items``: (z signals, gold mask) per question."""
    hit1 = np.zeros(len(weights))
    mrr = np.zeros(len(weights))
    for z, gold in items:
        if not gold.any():
            continue  # the gold passage is not in the pool: no weight can find it
        s = z @ weights.T  # candidates x settings
        best_gold = s[gold].max(axis=0)
        # Rank of the best gold candidate; ties count against it (stable sort favours neither).
        rank = (s > best_gold).sum(axis=0) + 1
        hit1 += rank == 1
        mrr += np.where(rank <= 10, 1.0 / rank, 0.0)
    n = max(1, len(items))  # an empty split (one article only) scores 0, and says so by its count
    return {"hit@1": hit1 / n, "mrr@10": mrr / n}


def squad_items(articles: int | None) -> tuple[list, list, int]:
    from qa import Retriever
    from qa.embedding import Embedder

    corpus, questions, _ = squad_corpus(articles)
    retriever = Retriever.load(built_index(corpus, f"squad_index_{articles or 'all'}"))
    qvecs = cached_encode(Embedder(), [" ".join(q.text.split()) for q in questions], "squad-q")
    docs = sorted({q.doc for q in questions})
    fit_docs = set(docs[0::2])
    fit, held = [], []
    recs = retriever._gen.records
    for q, v in zip(questions, qvecs):
        ids, z = features(retriever, q.text, v)
        gold = np.array([recs[i].source == q.doc and recs[i].start < q.end and recs[i].end > q.start for i in ids])
        (fit if q.doc in fit_docs else held).append((z, gold))
    return fit, held, len(docs)


def dev_items() -> list:
    from qa import Retriever

    retriever = Retriever.load(interview_index())
    rows = [json.loads(x) for x in QUESTIONS.read_text().splitlines() if x.strip()]
    vecs = retriever.encode([r["question"] for r in rows])
    items = []
    for r, v in zip(rows, vecs):
        ids, z = features(retriever, r["question"], v)
        gold = np.array([any(s in retriever._gen.records[i].text for s in r["answer_contains"]) for i in ids])
        items.append((z, gold))
    return items


def main() -> None:
    from qa.search import Fusion

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=None, help="only the first N SQuAD articles (default: all 48)")
    ap.add_argument("--step", type=float, default=0.1)
    ap.add_argument("--json", default=str(CACHE / "sweep_fusion.json"))
    args = ap.parse_args()
    fit, held, n_docs = squad_items(args.articles)
    dev = dev_items()
    weights = grid(args.step)
    shipped = Fusion()
    current = np.array([getattr(shipped, s) for s in SIGNALS])
    current = current / current.sum()
    weights = np.vstack([weights, current])  # scored alongside, even if off the grid
    on_fit, on_held, on_dev = score(fit, weights), score(held, weights), score(dev, weights)
    order = np.lexsort((-on_fit["mrr@10"], -on_fit["hit@1"]))
    best = int(order[0])
    cur = len(weights) - 1

    def row(i: int) -> dict:
        return {"weights": dict(zip(SIGNALS, [round(float(w), 3) for w in weights[i]])),
                "fit hit@1": round(float(on_fit["hit@1"][i]), 4), "fit mrr@10": round(float(on_fit["mrr@10"][i]), 4),
                "held-out hit@1": round(float(on_held["hit@1"][i]), 4),
                "held-out mrr@10": round(float(on_held["mrr@10"][i]), 4),
                "dev hit@1": round(float(on_dev["hit@1"][i]), 4), "dev mrr@10": round(float(on_dev["mrr@10"][i]), 4)}

    # How flat the optimum is: settings within one grid step of the best one.
    near = [i for i in range(len(weights) - 1) if np.abs(weights[i] - weights[best]).max() <= args.step + 1e-9]
    out = {
        "articles": n_docs, "fit questions": len(fit), "held-out questions": len(held), "dev questions": len(dev),
        "settings": len(weights) - 1, "step": args.step,
        "best on fit": row(best), "shipped (qa.search.Fusion)": row(cur),
        "top 5 on fit": [row(int(i)) for i in order[:5]],
        "neighbours of best, held-out hit@1 range": [round(float(on_held["hit@1"][near].min()), 4),
                                                     round(float(on_held["hit@1"][near].max()), 4)],
        "shipped rank on fit (of settings)": int(np.where(order == cur)[0][0]) + 1,
    }
    print(json.dumps(out, indent=2))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
