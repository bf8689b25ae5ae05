"""Why the top passage is wrong: every miss on the fixture (or check) questions, and a per-document table.

For each question whose top passage is wrong it prints the question, the gold
substrings, the rank of the first right passage (within ``--k``), the top
passage and the first right one (kind, section, question, the first 200
characters). A question whose gold text is in no passage at all is marked
``NOT IN ANY PASSAGE`` (a structure problem: the text was split, dropped or kept
only as a title or a section). Then hit@1 / hit@3 per document.

    python bench/misses.py [--set fixtures|check|interview-check] [--k 10] [--docs a.md,b.txt] [--quiet] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict

import sets


def _show(label: str, rec) -> str:
    head = " ".join(rec.text[:200].split())
    return (f"  {label}: [{rec.kind}] {rec.source} {rec.start}-{rec.end} ({rec.end - rec.start} chars)"
            f" section={rec.section!r} question={(rec.question or '')[:80]!r}\n      {head}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=10, help="how deep to look for the right passage")
    ap.add_argument("--docs", default="", help="comma-separated document names to keep (default all)")
    ap.add_argument("--quiet", action="store_true", help="only the table")
    ap.add_argument("--json", help="write per-question ranks here")
    ap.add_argument("--set", choices=("fixtures", "check", "interview-check"), default="fixtures",
                    help="the fixture questions, the check documents of bench/data/check_docs, or the "
                         "interview's blind check questions (bench/data/interview_check)")
    args = ap.parse_args()

    from qa import Retriever

    fx = {"fixtures": sets.fixtures, "check": sets.check_documents,
          "interview-check": sets.interview_check}[args.set]()
    if fx is None:
        raise SystemExit(f"error: no questions for --set {args.set} (tests/fixtures/questions.jsonl, "
                         "bench/data/check_docs/*/questions.jsonl, bench/data/interview_check/questions.jsonl)")
    keep = {d for d in args.docs.split(",") if d}
    qs = [q for q in fx.questions if not keep or q.group in keep]
    r = Retriever.load(sets.index_for(fx))
    records = r._gen.records
    vecs = r.encode([q.text for q in qs])
    per_doc: dict[str, list[int | None]] = defaultdict(list)
    sentence_ok: list[bool] = []  # for right top passages: does the highlighted sentence hold the gold text
    out = []
    for q, v in zip(qs, vecs):
        hits = r.search(q.text, k=args.k, vector=v)
        ok = [h.source == q.group and any(a in h.text for a in q.answers) for h in hits]
        first = next((i for i, x in enumerate(ok) if x), None)
        per_doc[q.group].append(first)
        if first == 0:
            sentence_ok.append(any(a in hits[0].answer_sentence for a in q.answers))
        out.append({"doc": q.group, "question": q.text, "rank": None if first is None else first + 1})
        if first == 0 or args.quiet:
            continue
        gold = [p for p in records if p.source == q.group and any(a in p.text for a in q.answers)]
        print(f"\n{q.group}: {q.text}\n  gold: {list(q.answers)}\n  rank of first right passage: "
              f"{'>' + str(args.k) if first is None else first + 1}")
        top = hits[0]
        top_rec = next(p for p in records if p.source == top.source and p.start == top.start)
        print(_show("top  ", top_rec))
        if gold:
            print(_show("right", gold[0]))
        else:
            print("  right: NOT IN ANY PASSAGE")
    print(f"\n{'document':48s} {'n':>3s} {'hit@1':>6s} {'hit@3':>6s}")
    tot1 = tot3 = n = 0
    for doc in sorted(per_doc):
        ranks = per_doc[doc]
        h1 = sum(f == 0 for f in ranks)
        h3 = sum(f is not None and f < 3 for f in ranks)
        tot1, tot3, n = tot1 + h1, tot3 + h3, n + len(ranks)
        print(f"{doc:48s} {len(ranks):3d} {h1 / len(ranks):6.3f} {h3 / len(ranks):6.3f}")
    print(f"{'all':48s} {n:3d} {tot1 / n:6.3f} {tot3 / n:6.3f}")
    print(f"answer sentence right, of right top passages: {sum(sentence_ok)}/{len(sentence_ok)} "
          f"= {sum(sentence_ok) / max(1, len(sentence_ok)):.3f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
