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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--meetings", type=int, default=6)
    args = ap.parse_args()

    from qa import Retriever

    qs = sets.qmsum(args.meetings)
    r = Retriever.load(sets.index_for(qs))
    vecs = r.encode([q.text for q in qs.questions])
    first = []
    for q, v in zip(qs.questions, vecs):
        hits = r.search(q.text, k=3, vector=v)
        ok = [any(h.source == d and h.start < e and h.end > s for d, s, e in q.spans) for h in hits]
        first.append(next((i for i, x in enumerate(ok) if x), None))
    n = len(first)
    print(f"QMSum, first {args.meetings} meetings: {n} queries, hit@1 {sum(f == 0 for f in first) / n:.3f}, "
          f"hit@3 {sum(f is not None for f in first) / n:.3f}")


if __name__ == "__main__":
    main()
