"""Fit the ranker's weight on the passage's own question, which SQuAD cannot teach.

SQuAD paragraphs carry no interviewer or FAQ question, so ``bench/tune.py``
leaves the ranker's ``question_cos`` weight (the cosine between the user's
question and the question a passage answers) at 0, and the learned ranker
ignores the very structure that interviews and FAQs have. This script fits
that one weight on documents that have it: the fixture documents
(tests/fixtures), split by document into halves A (even positions in name
order) and B (odd). The weight is chosen by hit@1 on half A (ties: the smaller
weight) and reported on half B, which it never saw, and on the interview's
development questions. Passages without a question have a cosine of 0, so
SQuAD and QMSum results do not move.

    python bench/tune_question.py [--write]   # --write: store the weight in qa/models/ranker.json

Run it after ``bench/tune.py``, which rewrites ranker.json with the weight at 0.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

import sets
from quality import rank_metrics, run_set

MODELS = Path(__file__).resolve().parents[1] / "qa" / "models"
GRID = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)


def with_weight(w: float):
    """The ranker on disk, with ``w`` as its question_cos weight (the feature is not standardized)."""
    from qa.confidence import RANK_FEATURES, LinearModel

    data = json.loads((MODELS / "ranker.json").read_text())
    base = LinearModel.from_json(data, RANK_FEATURES)
    i = RANK_FEATURES.index("question_cos")
    assert base.mean[i] == 0.0 and base.scale[i] == 1.0, "question_cos must enter unscaled"
    coef = base.coef.copy()
    coef[i] = w
    return replace(base, coef=coef), data


def evaluate(retriever, qs: list[sets.Q], w: float) -> dict:
    import qa.search

    model, _ = with_weight(w)
    real = qa.search.load_model
    qa.search.load_model = lambda name, feats: model if name == "ranker" else real(name, feats)
    try:
        return rank_metrics([row["ok"] for row in run_set(retriever, qs, f"fx-qcos-{w}", k=5)["rows"]])
    finally:
        qa.search.load_model = real


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="store the chosen weight in qa/models/ranker.json")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    from qa import Retriever

    fx = sets.fixtures()
    r = Retriever.load(sets.index_for(fx))
    docs = sorted({q.group for q in fx.questions})
    half_a, half_b = set(docs[0::2]), set(docs[1::2])
    qa_ = [q for q in fx.questions if q.group in half_a]
    qb = [q for q in fx.questions if q.group in half_b]
    iv, _ = sets.interview()
    r_iv = Retriever.load(sets.index_for(iv))
    rows = []
    for w in GRID:
        a, b, i = evaluate(r, qa_, w), evaluate(r, qb, w), evaluate(r_iv, iv.questions, w)
        rows.append({"w": w, "A": a, "B": b, "interview": i})
        print(f"w={w:<5} fit half A hit@1 {a['hit@1']:.3f} hit@3 {a['hit@3']:.3f} | report half B hit@1 "
              f"{b['hit@1']:.3f} hit@3 {b['hit@3']:.3f} | interview hit@1 {i['hit@1']:.3f} hit@3 {i['hit@3']:.3f}",
              flush=True)
    best = max(rows, key=lambda x: (round(x["A"]["hit@1"], 6), round(x["A"]["hit@3"], 6), -x["w"]))
    print(f"chosen on half A: w={best['w']} (half A: {sorted(half_a)})")
    out = {"grid": rows, "chosen": best["w"], "half A": sorted(half_a), "half B": sorted(half_b)}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    if args.write:
        model, data = with_weight(best["w"])
        data["coef"] = model.coef.tolist()
        data["question_cos"] = (f"weight {best['w']} chosen by bench/tune_question.py on fixture half A "
                                f"({len(qa_)} questions), reported on half B ({len(qb)} questions)")
        (MODELS / "ranker.json").write_text(json.dumps(data, indent=1) + "\n")
        print("wrote", MODELS / "ranker.json")


if __name__ == "__main__":
    main()
