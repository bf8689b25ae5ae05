"""Choose the passage size of packed speaker turns (``qa.chunking.TURN_TARGET_CHARS``).

The fixture documents are split in two halves by name (every other one,
sorted). Each candidate size is indexed and asked the fixture questions; the
size with the best hit@1 on the *fit* half is chosen (ties go to the larger
size, the general packing size), and every size is reported on the *report*
half too, which is never used to choose.

    python bench/turn_size.py [--sizes 300,450,600,900]
"""
from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import sets


def evaluate(size: int) -> dict[str, list[int | None]]:
    """Per document, the rank of the first right passage of each question (None: not in the top 10)."""
    from qa import Retriever, chunking, indexing
    from qa import build_index

    chunking.TURN_TARGET_CHARS = size
    indexing.CHUNKER_VERSION = chunking.CHUNKER_VERSION * 10_000 + size  # a different size re-chunks
    fx = sets.fixtures()
    index = fx.corpus.parent / f"fixtures-turn{size}-index"
    build_index(fx.corpus, index)
    r = Retriever.load(index)
    vecs = r.encode([q.text for q in fx.questions])
    out: dict[str, list[int | None]] = defaultdict(list)
    for q, v in zip(fx.questions, vecs):
        hits = r.search(q.text, k=10, vector=v)
        ok = [h.source == q.group and any(a in h.text for a in q.answers) for h in hits]
        out[q.group].append(next((i for i, x in enumerate(ok) if x), None))
    return out


def _score(ranks: dict[str, list[int | None]], docs: list[str]) -> tuple[float, float, int]:
    rows = [f for d in docs for f in ranks.get(d, [])]
    n = max(1, len(rows))
    return sum(f == 0 for f in rows) / n, sum(f is not None and f < 3 for f in rows) / n, len(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="300,450,600,900")
    args = ap.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",")})
    fx = sets.fixtures()
    docs = sorted({q.group for q in fx.questions})
    fit, report = docs[0::2], docs[1::2]
    results = {s: evaluate(s) for s in sizes}
    print(f"fit half:    {', '.join(fit)}\nreport half: {', '.join(report)}\n")
    print(f"{'size':>5s} {'fit hit@1':>9s} {'fit hit@3':>9s} {'report hit@1':>12s} {'report hit@3':>12s}")
    for s in sizes:
        f1, f3, _ = _score(results[s], fit)
        r1, r3, _ = _score(results[s], report)
        print(f"{s:5d} {f1:9.3f} {f3:9.3f} {r1:12.3f} {r3:12.3f}")
    best = max(sizes, key=lambda s: (_score(results[s], fit)[0], _score(results[s], fit)[1], s))
    print(f"\nchosen on the fit half: {best}")
    print(f"\nper document, hit@1 by size ({', '.join(map(str, sizes))}):")
    for d in docs:
        cells = " ".join(f"{_score(results[s], [d])[0]:.3f}" for s in sizes)
        print(f"  {'fit   ' if d in fit else 'report'} {d:48s} {cells}")


if __name__ == "__main__":
    main()
