"""Follow-up questions: does resolving them against the conversation find what the stand-alone question finds?

Corpus: the sample interview, the SQuAD "Warsaw" article (tests/data) and the four
fixtures (tests/fixtures) that the last ten pairs are about: two interviews, a press
release and a PDF. For each
pair of tests/data/followups.jsonl the history is asked first, as a user would (each
earlier question resolved against the ones before it, and the answer sentence the app
showed kept as the turn's answer); then the follow-up is resolved and searched.

Measures, on each half of the pairs (the rules were written looking at the "tune"
half only; the "report" half is the honest figure):
  * hit@1 of the follow-up as typed (no resolution): the baseline;
  * hit@1 of the resolved follow-up;
  * hit@1 of the stand-alone wording; the target is resolved >= 0.8 x stand-alone;
and on questions that stand alone (the dev questions, every SQuAD Warsaw question, and
the stand-alone wordings), asked after a history: the share left unchanged (target 1.0).

Usage: python bench/followups.py [--json] [--verbose]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa import Retriever, build_index  # noqa: E402
from qa.followup import Turn, resolve  # noqa: E402

DATA = ROOT / "tests" / "data"
FIXTURES = ROOT / "tests" / "fixtures"
CACHE = ROOT / "bench" / "cache" / "followups-index"  # rebuilt incrementally, so reruns are quick


def rows() -> list[dict]:
    return [json.loads(x) for x in (DATA / "followups.jsonl").read_text().splitlines() if x.strip()]


def split(i: int) -> str:
    # Pairs alternate between the two documents; taking them two by two keeps both in each half.
    return "tune" if (i // 2) % 2 == 0 else "report"


def warsaw_text() -> str:
    data = json.loads((DATA / "squad-sample.json").read_text())["data"][0]
    return "# Warsaw\n\n" + "\n\n".join(p["context"] for p in data["paragraphs"]) + "\n"


def corpus_and_index(base: Path, index: Path) -> Path:
    """Write the two documents into ``base`` and build (or incrementally update) ``index``."""
    corpus = base / "corpus"
    corpus.mkdir(parents=True)
    shutil.copy(ROOT / "corpus" / "optics_valley_interview.txt", corpus)
    (corpus / "warsaw.txt").write_text(warsaw_text(), encoding="utf-8")
    for row in rows():  # the fixtures the pairs are about (a PDF among them)
        if (FIXTURES / row["document"]).exists():
            shutil.copy(FIXTURES / row["document"], corpus)
    build_index(corpus, index)
    return index


def hit1(r: Retriever, question: str, expected: list[str]) -> bool:
    hits = r.search(question, k=1)
    return bool(hits) and any(s in hits[0].text for s in expected)


def converse(r: Retriever, history: list[dict]) -> list[Turn]:
    past: list[Turn] = []
    for h in history:
        q = resolve(h["question"], past).searched
        hits = r.search(q, k=1)
        past.append(Turn(q, hits[0].answer_sentence if hits else ""))
    return past


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        r = Retriever.load(corpus_and_index(Path(tmp), CACHE))
        res: dict[str, dict[str, float]] = {}
        per = []
        for i, row in enumerate(rows()):
            past = converse(r, row["history"])
            resolved = resolve(row["followup"], past)
            got = {"raw": hit1(r, row["followup"], row["answer_contains"]),
                   "resolved": hit1(r, resolved.searched, row["answer_contains"]),
                   "standalone": hit1(r, row["standalone"], row["answer_contains"])}
            per.append((split(i), row["followup"], resolved.searched, got))
            s = res.setdefault(split(i), {"pairs": 0, "raw": 0, "resolved": 0, "standalone": 0})
            s["pairs"] += 1
            for k, v in got.items():
                s[k] += v
        for s in res.values():
            n = s["pairs"]
            for k in ("raw", "resolved", "standalone"):
                s[k] = round(s[k] / n, 3)
            s["ratio"] = round(s["resolved"] / s["standalone"], 3) if s["standalone"] else None

        # Stand-alone questions, asked in the middle of a conversation, must come out unchanged.
        dev = [json.loads(x)["question"] for x in (DATA / "dev_questions.jsonl").read_text().splitlines() if x.strip()]
        squad = [q["question"].strip() for p in json.loads((DATA / "squad-sample.json").read_text())["data"][0]["paragraphs"]
                 for q in p["qas"]]
        alone = [row["standalone"] for row in rows()]
        history = [Turn("How many companies are in Optics Valley Bio City?",
                        "At present, there are more than 1,200 enterprises in Optics Valley Bio City."),
                   Turn("What river does Warsaw straddle?", "The city straddles the Vistula River.")]
        unchanged = {}
        changed_examples = []
        for name, qs in (("dev", dev), ("squad_warsaw", squad), ("standalone_wordings", alone)):
            same = 0
            for q in qs:
                out = [resolve(q, history[:k]) for k in (1, 2)]
                ok = all(not o.rewritten for o in out)
                same += ok
                if not ok:
                    changed_examples.append((q, [o.searched for o in out if o.rewritten][0]))
            unchanged[name] = {"questions": len(qs), "unchanged": round(same / len(qs), 3)}

    report = {"followups": res, "standalone_unchanged": unchanged}
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print("half    pairs  hit@1 as typed  resolved  stand-alone  resolved/stand-alone")
        for half in ("tune", "report"):
            s = res[half]
            print(f"{half:7} {s['pairs']:5}  {s['raw']:14.3f}  {s['resolved']:8.3f}  {s['standalone']:11.3f}  "
                  f"{s['ratio']}")
        for name, u in unchanged.items():
            print(f"stand-alone {name}: {u['unchanged']:.3f} unchanged of {u['questions']}")
    if args.verbose:
        for half, fu, searched, got in per:
            print(half, "OK " if got["resolved"] else "MISS", fu, "->", searched, got)
        for q, s in changed_examples:
            print("CHANGED:", q, "->", s)


if __name__ == "__main__":
    main()
