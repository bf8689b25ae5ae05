"""Answer quality per set: ranking, the highlighted sentence, and confidence.

Every figure comes from the product's public search (``Retriever.search``
with the question vector precomputed in bulk) and its tiers (``Tiers.of`` on
the top hit's confidence, exactly what ``answer()`` does). ``bench/tune.py``
calls :func:`report` after fitting, so the figures are always those of the
models on disk; run alone, it reports the models as they are:

    python bench/quality.py [--quick] [--json OUT] [--no-write]   # writes its section of RESULTS.md
    python bench/quality.py --rewrite OUT                         # the section again, from a saved run
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

import sets
from common import CACHE, cached_encode

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
PLOT = HERE / "reliability.png"
BEGIN, END = "<!-- quality:begin -->", "<!-- quality:end -->"


def is_right(q: sets.Q, source: str, start: int, end: int, text: str) -> bool:
    """A passage answers when it overlaps a gold span, or (without spans) contains a gold string."""
    if q.spans:
        return any(source == d and start < e and end > s for d, s, e in q.spans)
    return any(a in text for a in q.answers)


def rank_metrics(rows: list[list[bool]]) -> dict[str, float]:
    """hit@1/3/5 and MRR@10 from each question's per-hit correctness, best hit first."""
    n = max(1, len(rows))
    first = [next((i for i, ok in enumerate(r) if ok), None) for r in rows]
    return {
        "n": len(rows),
        "hit@1": sum(f == 0 for f in first) / n,
        "hit@3": sum(f is not None and f < 3 for f in first) / n,
        "hit@5": sum(f is not None and f < 5 for f in first) / n,
        "mrr@10": sum(1 / (f + 1) for f in first if f is not None and f < 10) / n,
    }


def ece(prob: np.ndarray, label: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error over equal-width bins."""
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(prob, edges[1:-1]), 0, bins - 1)
    err = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            err += m.mean() * abs(prob[m].mean() - label[m].mean())
    return float(err)


_QCACHE = CACHE / "question-vectors"


def encode_questions(texts: list[str]) -> np.ndarray:
    """Question vectors, cached one file per model and text batch, reused across tags.

    Each text's vector is looked up in every earlier batch first, so the
    calibration set reuses the vectors of the report sets and vice versa.
    """
    from qa.embedding import Embedder

    emb = Embedder()
    _QCACHE.mkdir(parents=True, exist_ok=True)
    known: dict[str, np.ndarray] = {}
    for f in sorted(_QCACHE.glob("*.npz")):
        with np.load(f, allow_pickle=False) as z:
            for t, v in zip(z["texts"], z["vecs"]):
                known[str(t)] = v
    missing = sorted({t for t in texts if t not in known})
    if missing:
        vecs = emb.encode(missing)
        np.savez(_QCACHE / f"batch-{len(list(_QCACHE.glob('*.npz'))):04d}.npz",
                 texts=np.array(missing), vecs=vecs)
        known.update(zip(missing, vecs))
    return np.stack([known[t] for t in texts]) if texts else np.zeros((0, emb.dimension), np.float32)


def run_set(retriever, qs: list[sets.Q], tag: str, k: int = 10, within: bool = False) -> dict:
    """Ask every question; keep per-question ranks, top confidence, tier and sentence correctness.
    ``within`` asks each question of its own document (its group) only, as a user who picks it would."""
    import time

    # The retriever's own bulk encoding: it also keeps each question's token vectors for
    # late interaction, so the timed searches below encode nothing.
    vecs = retriever.encode([q.text for q in qs])
    out = []
    spent = 0.0
    for q, v in zip(qs, vecs):
        t = time.perf_counter()
        hits = retriever.search(q.text, k=k, vector=v, sources=[q.group] if within else None)
        spent += time.perf_counter() - t
        ok = [is_right(q, h.source, h.start, h.end, h.text) for h in hits]
        top = hits[0] if hits else None
        out.append({
            "ok": ok,
            "answerable": q.answerable,
            "confidence": top.confidence if top else 0.0,
            "relevance": top.relevance if top else 0.0,
            "tier": retriever.tiers.of(top.confidence) if top else "none",
            "sentence_ok": bool(top and ok and ok[0] and q.answers and any(a in top.answer_sentence for a in q.answers)),
            "has_answers": bool(q.answers),
            "interviewer_sentence": bool(top and top.question and top.answer_sentence.strip() in top.question),
        })
    return {"rows": out, "ms_per_search": 1000 * spent / max(1, len(qs))}


def summarize(rows: list[dict]) -> dict:
    ans = [r for r in rows if r["answerable"]]
    out = rank_metrics([r["ok"] for r in ans]) if ans else {"n": 0}
    right1 = [r for r in ans if r["ok"] and r["ok"][0] and r["has_answers"]]
    if right1:
        out["sentence_accuracy"] = sum(r["sentence_ok"] for r in right1) / len(right1)
    out["interviewer_sentences"] = sum(r["interviewer_sentence"] for r in rows)
    if ans:
        out["answered"] = sum(r["tier"] != "none" for r in ans) / len(ans)
        out["tier_answer"] = sum(r["tier"] == "answer" for r in ans) / len(ans)
    un = [r for r in rows if not r["answerable"]]
    if un:
        out["unanswerable"] = len(un)
        out["refused_unanswerable"] = sum(r["tier"] == "none" for r in un) / len(un)
    if ans and un:
        from sklearn.metrics import roc_auc_score

        y = np.array([bool(r["answerable"] and r["ok"] and r["ok"][0]) for r in rows])
        p = np.array([r["confidence"] for r in rows])
        rel = np.array([r["relevance"] for r in rows])
        out["auc_confidence"] = float(roc_auc_score(y, p))
        out["auc_relevance"] = float(roc_auc_score(y, rel))
        out["ece"] = ece(p, y.astype(float))
        out["top_right_rate"] = float(y.mean())
    return out


def reliability_plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = np.array([r["confidence"] for r in rows])
    y = np.array([bool(r["answerable"] and r["ok"] and r["ok"][0]) for r in rows], float)
    edges = np.linspace(0, 1, 11)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, 9)
    xs, ys, ns = [], [], []
    for b in range(10):
        m = idx == b
        if m.any():
            xs.append(p[m].mean()); ys.append(y[m].mean()); ns.append(int(m.sum()))
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.plot(xs, ys, "o-", label="Hit.confidence (top passage)")
    for x, yv, n in zip(xs, ys, ns):
        ax.annotate(str(n), (x, yv), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlabel("mean confidence in bin"); ax.set_ylabel("share where the top passage answers")
    ax.set_title(title, fontsize=9); ax.legend(loc="upper left"); ax.grid(alpha=.3)
    fig.tight_layout(); fig.savefig(path, dpi=100); plt.close(fig)


def qmsum_chunk_baseline(qset: sets.QSet, size: int = 1000, within: bool = False) -> dict:
    """Plain ``size``-character chunks of each meeting, dense MiniLM search, exact FAISS
    (``within``: over the chunks of the query's own meeting only)."""
    import faiss

    from qa.embedding import Embedder

    emb = Embedder()
    chunks = []
    for path in sorted(qset.corpus.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        chunks += [(path.name, s, min(len(text), s + size), text[s : s + size]) for s in range(0, len(text), size)]
    vecs = cached_encode(emb, [c[3] for c in chunks], f"{qset.name}-chunks")
    index = faiss.IndexFlatIP(vecs.shape[1])
    index.add(vecs)
    qv = encode_questions([q.text for q in qset.questions])
    if within:
        names = np.array([c[0] for c in chunks])
        ids = []
        for q, v in zip(qset.questions, qv):
            own = np.flatnonzero(names == q.group)
            ids.append(own[np.argsort(-(vecs[own] @ v), kind="stable")[:10]])
    else:
        _, ids = index.search(qv, 10)
    rows = [[is_right(q, chunks[i][0], chunks[i][1], chunks[i][2], chunks[i][3]) for i in row]
            for q, row in zip(qset.questions, ids)]
    return rank_metrics(rows)


def report(quick: bool = False, qmsum_meetings: int | None = 12, plot: Path | None = PLOT) -> dict:
    """Every set, per split; returns a JSON-able dict and writes the reliability plot to ``plot``
    (not at all when it is None)."""
    from qa import Fusion, Retriever

    rnd = random.Random(0)
    out: dict = {"sets": {}}

    def both(name: str, qset: sets.QSet, qs: list[sets.Q], tag: str, baseline: bool = True,
             within: bool = False) -> None:
        index = sets.index_for(qset)
        r = Retriever.load(index)
        r.search("warm up", k=1)  # builds the per-generation text tables once, outside the timing
        run = run_set(r, qs, tag, within=within)
        out["sets"][name] = {"product": {**summarize(run["rows"]), "ms_per_search": run["ms_per_search"]}}
        if baseline:
            r0 = Retriever.load(index, fusion=Fusion(rerank=False))
            r0.search("warm up", k=1)
            run0 = run_set(r0, qs, tag, within=within)
            out["sets"][name]["first stage only (fusion, no learned model)"] = {
                **summarize(run0["rows"]), "ms_per_search": run0["ms_per_search"]}

    iv, off = sets.interview()
    both("interview development questions", iv, iv.questions + off, "iv-q")
    ivc = sets.interview_check()
    if ivc is not None:
        both("interview check questions (blind paraphrases and new ones; never fitted on)", ivc,
             ivc.questions, "iv-check")
    fx = sets.fixtures()
    if fx is not None:
        unans = sets.fixture_unanswerable()
        ftune, frep = sets.fixture_split(fx)
        both("fixture questions, report documents (never fitted on)", fx,
             [q for q in fx.questions if q.group in frep], "fx-q")
        both("fixture questions, tune documents (the ranker was fitted here)", fx,
             [q for q in fx.questions if q.group in ftune], "fx-q", baseline=False)
        both("fixture questions, all 17 documents (interview included) and unanswerable ones", fx,
             fx.questions + unans, "fx-q")
    s1, tune, rep = sets.squad_v1()
    rep_q = [q for q in s1.questions if q.group in rep]
    tune_q = [q for q in s1.questions if q.group in tune]
    # The same seeded samples as bench/tune.py draws (2,000 each; 600 with --quick).
    r2 = random.Random(0)
    tune_q = r2.sample(tune_q, 600 if quick else 2000)
    rep_q = r2.sample(rep_q, 600 if quick else 2000)
    both("SQuAD v1.1, report articles (never fitted on)", s1, rep_q, "s1-rep")
    both("SQuAD v1.1, tune articles (the ranker was fitted here)", s1, tune_q, "s1-tune", baseline=False)
    s2, cal, rep2 = sets.squad_v2()
    rep2_q = [q for q in s2.questions if q.group in rep2]
    cal_q = [q for q in s2.questions if q.group in cal]
    index2 = sets.index_for(s2)
    rows2 = run_set(Retriever.load(index2), rep2_q, "s2-rep")["rows"]
    out["sets"]["SQuAD 2.0, report articles (never calibrated on)"] = {
        "product": summarize(rows2),
        "first stage only (fusion, no learned model)": summarize(
            run_set(Retriever.load(index2, fusion=Fusion(rerank=False)), rep2_q, "s2-rep")["rows"])}
    if plot is not None:
        reliability_plot(rows2, plot, "SQuAD 2.0 half A, report articles: reliability of Hit.confidence")
    out["sets"]["SQuAD 2.0, calibration articles (confidence fitted here)"] = {
        "product": summarize(run_set(Retriever.load(index2), cal_q, "s2-cal")["rows"])}
    qm = sets.qmsum(qmsum_meetings)
    name = f"QMSum validation, first {qmsum_meetings} meetings" if qmsum_meetings else "QMSum validation"
    both(name, qm, qm.questions, "qmsum-q")
    out["sets"][name]["plain 1,000-character chunks, dense search"] = qmsum_chunk_baseline(qm)
    # QMSum's own task asks each query of its meeting; a user can do the same (`qa ask --doc`).
    # Pooled, most misses are a passage of another meeting of the same series.
    name = f"{name}, each query asked of its own meeting"
    both(name, qm, qm.questions, "qmsum-q", within=True)
    out["sets"][name]["plain 1,000-character chunks, dense search"] = qmsum_chunk_baseline(qm, within=True)
    return out


def _fmt(v) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def markdown(out: dict) -> str:
    cols = ["n", "hit@1", "hit@3", "hit@5", "mrr@10", "sentence_accuracy", "answered", "tier_answer",
            "unanswerable", "refused_unanswerable", "auc_confidence", "auc_relevance", "ece", "ms_per_search"]
    lines = [BEGIN, "## Ranking, answer sentence and confidence (bench/tune.py, bench/quality.py)", ""]
    if "method" in out:
        lines += [out["method"], ""]
    lines += ["| set | method | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for name, methods in out["sets"].items():
        for m, vals in methods.items():
            lines.append(f"| {name} | {m} | " + " | ".join(_fmt(vals.get(c, "")) for c in cols) + " |")
    lines += ["", "`answered`: share of answerable questions not told \"not in the documents\"; "
              "`tier_answer`: share given the confident tier; `refused_unanswerable`: share of unanswerable "
              "(SQuAD 2.0 impossible, off-topic, fixture unanswerable) told \"not in the documents\"; AUC and ECE "
              "(10 bins) of the top hit's confidence for \"the top passage answers\"; `ms_per_search`: mean time of "
              "`search(k=10)` with the question encoded beforehand (`Retriever.encode`: its vector and token vectors; no encoding timed), both rows timed in this run.", "",
              f"![Reliability of Hit.confidence on the SQuAD 2.0 report articles]({PLOT.name})", ""]
    if "alternatives" in out:
        domains = list(next(iter(out["alternatives"].values()))["cv"])
        lines += ["Rankers compared, hit@1 (chosen by the mean over domains of 2-fold cross-validated hit@1 on "
                  "the tune parts; report parts never fitted on): SQuAD v1.1 articles, QMSum meetings (tune: "
                  "13-35; report: 1-12, asked of all 35), fixture documents (alternating by name):", ""]
        lines += ["| ranker | cross-validated, mean | " + " | ".join(f"{d} cv / report" for d in domains) + " |",
                  "|---|---|" + "---|" * len(domains)]
        for name, v in out["alternatives"].items():
            lines.append(f"| {name} | {v['cv_macro']['hit@1']:.3f} | " + " | ".join(
                f"{v['cv'][d]['hit@1']:.3f} / {v['report'][d]['hit@1']:.3f}" for d in domains) + " |")
        lines.append("")
    if out.get("ranker_regularization"):
        rg = out["ranker_regularization"]
        lines += ["Ranker's L2 penalty (scikit-learn's C) for the chosen variant, by cross-validated hit@1 (mean "
                  "over domains, averaged over pair samplings); report hit@1 beside it, never used to choose: "
                  + "; ".join(f"C={c}: cv {v['cv']:.4f}, report " + ", ".join(f"{k} {x:.3f}" for k, x in v["report"].items())
                              for c, v in rg["table"].items()) + f"; chosen {rg['chosen']:g}.", ""]
    if "sentence_domain_weight" in out:
        sw = out["sentence_domain_weight"]
        lines += ["Sentence model: weight of the fixture tune documents against SQuAD's tune articles, by mean "
                  "cross-validated sentence accuracy over the two: " + "; ".join(
                      f"{w}: {v['mean']:.3f}" for w, v in sw["cv sentence accuracy"].items())
                  + f"; chosen {sw['chosen']:g}.", ""]
    if "confidence_domain_weight" in out:
        cw = out["confidence_domain_weight"]
        lines += ["Confidence: weight of the fixture and QMSum tune parts against the SQuAD 2.0 calibration rows, "
                  "by held-out log loss over all calibration questions, each counted once (2 folds by article, "
                  "meeting or document): " + "; ".join(f"{w}: {v['pooled']:.4f}" for w, v in cw["cv log loss"].items())
                  + f"; chosen {cw['chosen']:g}."
                  + ("" if "C" not in cw else " Then its L2 penalty at that weight, the same way: " + "; ".join(
                      f"C={c}: {v['pooled']:.4f}" for c, v in cw["cv log loss by C"].items()) + f"; chosen {cw['C']:g}."),
                  ""]
    if "tiers" in out:
        lines += ["Tiers (chosen on the SQuAD 2.0 calibration articles): " + "; ".join(
            f"{k} ≥ {v['threshold']:.3f} ({v['why']})" for k, v in out["tiers"].items()), ""]
    lines.append(END)
    return "\n".join(lines)


def write_results(out: dict) -> None:
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    block = markdown(out)
    if BEGIN in text and END in text and "alternatives" not in out:
        # Run alone, this script re-measures the sets; the rankers compared and the tiers chosen
        # are those of the last bench/tune.py run, kept as it wrote them.
        old = text[text.index(BEGIN): text.index(END)]
        if "Rankers compared" in old:
            kept = old[old.index("Rankers compared"):].rstrip()
            block = block.replace(END, "From the last run of `bench/tune.py`, which fitted the models on disk:\n\n"
                                  + kept + "\n\n" + END)
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="samples of the SQuAD sets")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--no-write", action="store_true", help="leave RESULTS.md and the plot as they are (always so with --quick)")
    ap.add_argument("--rewrite", metavar="JSON", help="write RESULTS.md from a saved --json run, measuring nothing")
    args = ap.parse_args()
    out = json.loads(Path(args.rewrite).read_text()) if args.rewrite else report(
        args.quick, plot=None if (args.quick or args.no_write) else PLOT)
    print(markdown(out))
    if args.json and not args.rewrite:
        Path(args.json).write_text(json.dumps(out, indent=2))
    if not (args.quick or args.no_write):
        write_results(out)
    CACHE.mkdir(exist_ok=True)


if __name__ == "__main__":
    main()
