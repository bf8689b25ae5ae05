"""A quick regression check on SQuAD v1.1 report articles (never used for fitting).

Writes the first ``--articles`` report articles (sorted by name, see
``sets.squad_v1``) as their own corpus, indexes them with the product, and
prints hit@1 / hit@5 on a seeded sample of their questions. Meant for
comparing two versions of the code on the same questions, not for the
published figures (those come from ``bench/quality.py`` over all 20 articles).

    python bench/squad_check.py [--articles 6] [--sample 600]
"""
from __future__ import annotations

import argparse
import gzip
import json
import random

import sets
from quality import rank_metrics, run_set
from common import CACHE, article_document, article_name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=6)
    ap.add_argument("--sample", type=int, default=600)
    args = ap.parse_args()

    from qa import Retriever

    data = json.load(gzip.open(sets.SQUAD))["data"]
    shared = {article_name(t) for t in sets.SQUAD2_TITLES}
    rest = sorted({article_name(a["title"]) for a in data} - shared)
    report = set(sorted(rest[1::2])[: args.articles])
    folder = CACHE / "sets" / f"squad-report-{args.articles}"
    arts = [a for a in data if article_name(a["title"]) in report]
    qs = sets._squad_like(arts, folder)
    qs = random.Random(0).sample(qs, min(args.sample, len(qs)))
    r = Retriever.load(sets.index_for(sets.QSet("squad-check", folder, qs)))
    m = rank_metrics([row["ok"] for row in run_set(r, qs, "squad-check", k=5)["rows"]])
    print(f"SQuAD v1.1 report articles {sorted(report)}: {m['n']} questions, "
          f"hit@1 {m['hit@1']:.3f}, hit@5 {m['hit@5']:.3f}")


if __name__ == "__main__":
    main()
