"""Run every benchmark and write bench/RESULTS.md (and the latency plot).

    python bench/run.py            # everything: several minutes to build caches the first time
    python bench/run.py --smoke    # tiny versions of each, as `make test` runs them
    python bench/run.py --only latency   # measure one benchmark again, take the rest from bench/cache

The full run needs ../shared/data (or QA_BENCH_DATA=<folder>) and stops with a
one-line error without it. QA_BENCH_CACHE moves the cache (the smoke test uses a
temporary folder, never bench/cache).

Every figure in RESULTS.md comes from this run; ratios compare against a
baseline measured in the same run, because the machine is noisy.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from common import CACHE, ROOT, SQUAD, machine, require_data

HERE = Path(__file__).resolve().parent


FROM_CACHE = False
ONLY: set[str] = set()


def run(script: str, *args: str, name: str | None = None) -> dict:
    """Run one benchmark into ``bench/cache/<name>.json`` (each run its own file), or read that file."""
    name = name or Path(script).stem
    out = CACHE / f"{name}.json"
    if FROM_CACHE or (ONLY and name not in ONLY and Path(script).stem not in ONLY):
        if not out.exists():
            raise SystemExit(f"error: {out} is missing: run `python bench/run.py` once without --from-cache/--only")
        return json.loads(out.read_text())
    CACHE.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    subprocess.run([sys.executable, str(HERE / script), *args, "--json", str(out)], check=True)
    print(f"[{script} {' '.join(args)}] {time.perf_counter() - t:.0f} s", flush=True)
    return json.loads(out.read_text())


def plot(scale: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, list[tuple[int, float]]] = {}
    for row in scale["dense"]:
        name = row["index"]
        if name.startswith("Flat") or name.endswith("nprobe=32") or name.endswith("efSearch=64"):
            key = name.split()[0].split(",")[0].rstrip("0123456789") if not name.startswith("Flat") else "Flat (exact)"
            key = {"IVF": "IVF-Flat, nprobe=32", "HNSW": "HNSW32, efSearch=64"}.get(key, key)
            series.setdefault(key, []).append((row["n"], row["p50_ms"]))
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, pts in series.items():
        pts.sort()
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
    ax.set_xscale("log"); ax.set_yscale("log")
    ax.set_xlabel("vectors in the index"); ax.set_ylabel("search p50 (ms, one query, k=10)")
    ax.set_title("Dense search latency against corpus size (384-d, 2 cores)")
    ax.grid(True, which="both", alpha=.3); ax.legend()
    fig.tight_layout(); fig.savefig(path, dpi=110)


def table(rows: list[list], head: list[str]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def real_section(real: dict) -> list[str]:
    from qa.store import FLAT_MAX_VECTORS, IVF_NPROBE

    src = real["from"]
    lines = ["", "### Real MiniLM vectors: where IVF starts and how wide it searches", "",
             f"Every passage and sentence vector of the product's own indexes of the bundled data: the interview "
             f"({src['interview']['passages']} passages, {src['interview']['sentences']} sentences) and the SQuAD "
             f"dev articles ({src['squad']['passages']:,} passages, {src['squad']['sentences']:,} sentences), "
             f"{real['real vectors']:,} real vectors in all. Larger sizes add copies of them with Gaussian noise "
             f"(cosine {real['noise cosine']} to the original). {real['queries']} real questions (SQuAD and "
             "development), one at a time, k=10 and k=100 (the product takes 50 passages and 100 sentences per "
             "search). Recall per query against exact search on the same vectors, reported as its distribution: "
             "mean, 5th percentile, worst query, and the share of queries with every neighbour found. "
             "IVF is built as qa/store.py builds it (nlist = 4·√n, trained on 64 points per list). "
             "Command: `python bench/scale.py --real`.", ""]
    rows = []
    for r in real["rows"]:
        r10, r100 = r["recall@10"], r["recall@100"]
        rows.append([f"{r['n']:,}", r["index"], r10["mean"], r10["p5"], r10["min"], r10["share_1.0"], r100["mean"],
                     r100["p5"], r["p50_ms"], r["p95_ms"]])
    lines.append(table(rows, ["vectors", "index", "recall@10 mean", "p5", "min", "all 10 found", "recall@100 mean",
                              "p5", "p50 ms", "p95 ms"]))
    lines += ["", f"The product uses Flat up to {FLAT_MAX_VECTORS:,} vectors per index and IVF with "
              f"nprobe={IVF_NPROBE} above; see the README (Index type by size) for the reasoning from this table."]
    return lines


def sweep_section(sweep: dict) -> list[str]:
    b, cur = sweep["best on fit"], sweep["shipped (qa.search.Fusion)"]
    w = lambda r: " / ".join(str(v) for v in r["weights"].values())
    lines = ["", "## 5. Fusion weights", "",
             f"Grid over the four weights (passage BM25 / passage cosine / best sentence cosine / best sentence "
             f"BM25), {sweep['settings']} settings on the simplex in steps of {sweep['step']}; fitted on the even "
             f"half of the {sweep['articles']} SQuAD articles ({sweep['fit questions']:,} questions), reported on "
             f"the odd half ({sweep['held-out questions']:,}) and on the {sweep['dev questions']} development "
             "questions. Command: `python bench/sweep_fusion.py`.", ""]
    lines.append(table([
        ["best on the fit half", w(b), b["fit hit@1"], b["held-out hit@1"], b["held-out mrr@10"], b["dev hit@1"],
         b["dev mrr@10"]],
        ["shipped (qa.search.Fusion)", w(cur), cur["fit hit@1"], cur["held-out hit@1"], cur["held-out mrr@10"],
         cur["dev hit@1"], cur["dev mrr@10"]],
    ], ["setting", "weights", "fit hit@1", "held-out hit@1", "held-out MRR@10", "dev hit@1", "dev MRR@10"]))
    lo, hi = sweep["neighbours of best, held-out hit@1 range"]
    lines += ["", f"Settings one grid step from the best one score {lo} to {hi} hit@1 on the held-out half; the "
              f"shipped weights rank {sweep['shipped rank on fit (of settings)']} of {sweep['settings'] + 1} on "
              "the fit half."]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, for the test suite")
    ap.add_argument("--from-cache", action="store_true",
                    help="rewrite RESULTS.md from the last run's bench/cache/*.json without measuring again")
    ap.add_argument("--only", nargs="+", default=[], metavar="NAME",
                    help="measure only these (squad, latency, latency_interview, latency_squad, build, scale, "
                         "scale_real, sweep_fusion, load); the others come from bench/cache")
    args = ap.parse_args()
    global FROM_CACHE, ONLY
    FROM_CACHE = args.from_cache
    ONLY = set(args.only)
    if "latency" in ONLY:
        ONLY |= {"latency_interview", "latency_squad"}
    smoke = args.smoke
    if not FROM_CACHE:
        require_data()
    print(f"data: {SQUAD}; cache: {CACHE}", flush=True)
    articles = ["--articles", "1"] if smoke else []
    quick = ["--rounds", "1", "--cold-runs", "1"] if smoke else []
    squad = run("squad.py", *articles)
    # Each latency row is its own run on its own index, written to its own file.
    latency = run("latency.py", "--index", str(CACHE / "interview_index"), "--corpus", str(ROOT / "corpus"), *quick,
                  name="latency_interview")
    squad_index = CACHE / f"squad_index_{1 if smoke else 'all'}"
    latency_big = run("latency.py", "--index", str(squad_index), *quick, name="latency_squad")
    stale = run("stale_check.py", *(["--runs", "1", "--small"] if smoke else []))
    if latency["index"] == latency_big["index"]:
        raise SystemExit("error: both latency rows measured the same index")
    build = run("build.py", *articles)
    scale = run("scale.py", *(["--sizes", "2000", "--queries", "20", "--bm25-passages", "2000"] if smoke else []))
    real = run("scale.py", "--real", *(["--articles", "1", "--real-sizes", "3000", "--queries", "50"] if smoke else []),
               name="scale_real")
    sweep = run("sweep_fusion.py", *(["--articles", "1", "--step", "0.25"] if smoke else []), name="sweep_fusion")
    load = run("load.py", *(["--users", "4", "--seconds", "8"] if smoke else []))
    onnx = run("onnx_bench.py", "--no-write", *(["--articles", "1", "--cold-runs", "1", "--rounds", "1", "--questions", "5",
                                                 "--squad-questions", "30"] if smoke else []))
    if smoke:
        print("smoke run finished; RESULTS.md left as it is")
        return

    lines = ["# Benchmark results", "",
             f"Machine: {machine()}. Measured {time.strftime('%Y-%m-%d')} with `make bench` "
             "(`python bench/run.py`); every ratio compares two things measured in the same run.", ""]
    lines += ["## 1. Quality on SQuAD v1.1 dev", "",
              f"{squad['articles']} articles as {squad['articles']} documents, {squad['paragraphs']} paragraphs, "
              f"{squad['questions']} questions; the product made {squad['passages']} passages of them. "
              "A hit is a returned passage of the gold article that overlaps the gold paragraph; baselines "
              "search the plain paragraphs. Command: `python bench/squad.py`.", ""]
    lines.append(table([[k, v["hit@1"], v["hit@5"], v["mrr@10"]] for k, v in squad["results"].items()],
                       ["method", "hit@1", "hit@5", "MRR@10"]))
    w, wb = latency["warm"], latency_big["warm"]
    lines += ["", "## 2. Query latency", "",
              "Warm, in one process, interleaved: `Retriever.search`/`answer` against a bare "
              "`model.encode([question])`. Command: `python bench/latency.py [--index DIR]`.", ""]
    lines.append(table([
        [f"interview ({w['passages']} passages)", w["bare encode"]["p50_ms"], w["search"]["p50_ms"], w["search"]["p95_ms"],
         w["answer"]["p50_ms"], w["search_p50_ratio"]],
        [f"SQuAD ({wb['passages']} passages)", wb["bare encode"]["p50_ms"], wb["search"]["p50_ms"], wb["search"]["p95_ms"],
         wb["answer"]["p50_ms"], wb["search_p50_ratio"]],
    ], ["index", "encode p50 ms", "search p50 ms", "search p95 ms", "answer p50 ms", "search/encode p50"]))
    c = latency["cold"]  # `qa ask` on the interview index
    lines += ["", "Search includes the encoding, so a ratio under 1 only shows the noise of this shared "
              "machine: repeated runs here moved each p50 by about 10%."]
    lines += ["", f"Cold start, whole processes, median of {c['runs']}: `qa ask` {c['qa ask s (median)']} s against "
              f"`python -c` importing sentence-transformers, loading the model and encoding one string "
              f"{c['bare load+encode s (median)']} s: **{c['ratio']}×**.", ""]
    lines += [f"Cold `qa ask` over {stale['documents']} documents (the fixtures: PDF, DOCX, HTML, text), median of "
              f"{stale['runs']}: with the staleness check (bytes only) {stale['ask s (median)']} s against "
              f"{stale['no check s (median)']} s without it: **{stale['ask / no check']}×**. "
              "Command: `python bench/stale_check.py`.", ""]
    f, b, i = build["full build"], build["bare encode"], build["incremental"]
    lines += ["## 3. Building", "",
              "Full build of the SQuAD corpus from nothing, against a bare `model.encode` of exactly the texts the "
              "build embedded (passages with their context, and sentences). Command: `python bench/build.py`.", ""]
    lines.append(table([
        ["full build", round(f["seconds"], 1), f["texts"], build["throughput texts/s (build)"], round(f["peak_mb"])],
        ["bare encode", round(b["seconds"], 1), b["texts"], build["throughput texts/s (bare)"], round(b["peak_mb"])],
        [f"add one document ({i['added_document']}, {i['embedded']} passages)", round(i["seconds"], 1), "", "",
         round(i["peak_mb"])],
    ], ["run", "seconds", "texts embedded", "texts/s", "peak RSS MB"]))
    lines += ["", f"Throughput ratio, whole build (model loading included) / bare encode: **{build['throughput ratio']}**; "
              f"encoding stage alone: **{build['throughput ratio, encoding stage only']}**. "
              f"Incremental / full build time: **{build['incremental / full time']}**.", ""]
    lines += ["## 4. Scale", "",
              "Synthetic normalized 384-d vectors around 2,000 fixed centres (clustered like real embeddings, "
              "not uniform noise); 200 queries from the same distribution; recall@10 against exact search. "
              "One query at a time, k=10. Command: `python bench/scale.py`.", ""]
    lines.append(table([[r["n"], r["index"], r["recall@10"], r["p50_ms"], r["p95_ms"], r["memory_mb"], r["build_s"]]
                        for r in scale["dense"]],
                       ["vectors", "index", "recall@10", "p50 ms", "p95 ms", "index MB", "build s"]))
    lines += ["", "Synthetic data flatters or punishes IVF depending on how it is clustered (recall 0.52 to 0.79 "
              "at 10,000 vectors, 1.000 at 1M), so the switch and `nprobe` are chosen on real vectors below."]
    lines += real_section(real)
    bm = scale.get("bm25")
    if bm:
        lines += ["", f"BM25 (bm25s, this product's tokenizer) over {bm['passages']:,} passages, each three random "
                  f"sentences of SQuAD ({bm['distinct sentences']:,} distinct sentences): build {bm['build_s']} s, "
                  f"query p50 {bm['p50_ms']} ms, p95 {bm['p95_ms']} ms (scores for every passage, then top 50), "
                  f"memory held by the index {bm['index_memory_mb']} MB."]
    lines += sweep_section(sweep)
    lines += ["", "## 6. Load", "",
              f"{load['users']} simulated users (locust, 0.2 to 1 s think time) asked development questions through "
              f"the running app's `/ask` API for {load['seconds']} s; a third of the way in, `qa add` added a "
              "document and rebuilt the index under the running app. Baseline: one question at a time over the "
              "same HTTP API, in the same run. Command: `python bench/load.py`.", ""]
    rb = load["rebuild during load"]
    lines.append(table([[load["requests"], load["failed answers"], load["http errors"], load["p50 ms"], load["p95 ms"],
                         load["p99 ms"], load["single question p50 ms (baseline, same HTTP API)"],
                         load["p95 / single p50"]]],
                       ["answers", "failed answers", "HTTP errors", "p50 ms", "p95 ms", "p99 ms", "single p50 ms",
                        "p95 / single"]))
    lines += ["", f"The rebuild took {rb.get('seconds')} s (`{' '.join(rb.get('output', []))}`); afterwards the app "
              f"answered from the new document without a restart: {rb.get('new document answered')}. "
              f"Tracebacks in the app log: {load['tracebacks in app log']}."]
    from onnx_bench import section as onnx_section

    lines += ["", onnx_section(onnx)]
    plot(scale, HERE / "latency_vs_size.png")
    lines += ["", "![search latency against corpus size](latency_vs_size.png)", ""]
    lines.append((HERE / "NOTES.md").read_text() if (HERE / "NOTES.md").exists() else "")
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
