"""A quick regression check on QMSum meeting transcripts (report only, never fitted on).

Indexes the first ``--meetings`` validation meetings (``sets.qmsum``) and prints
hit@1 / hit@3 of their queries (a passage is right when it overlaps a gold
span of turns). For comparing two versions of the code on the same queries;
the published figure comes from ``bench/quality.py``.

    python bench/qmsum_check.py [--meetings 6]
"""
from __future__ import annotations

import argparse

import sets
from quality import rank_metrics, run_set


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--meetings", type=int, default=6)
    args = ap.parse_args()

    from qa import Retriever

    qs = sets.qmsum(args.meetings)
    r = Retriever.load(sets.index_for(qs))
    m = rank_metrics([row["ok"] for row in run_set(r, qs.questions, "qmsum-check", k=3)["rows"]])
    print(f"QMSum, first {args.meetings} meetings: {m['n']} queries, hit@1 {m['hit@1']:.3f}, hit@3 {m['hit@3']:.3f}")


if __name__ == "__main__":
    main()
