"""A tiny run of every benchmark, so that `make bench` cannot rot unnoticed.

It reads the SQuAD article in tests/data (not ../shared) and writes into a
temporary folder (never bench/cache, which `bench/run.py --from-cache` reads).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
SAMPLE = ROOT / "tests" / "data" / "squad-sample.json"


@pytest.mark.bench  # minutes, not seconds: `make bench-smoke` (and CI) runs it, `make test` does not
def test_benchmarks_run_end_to_end(tmp_path):
    cache = tmp_path / "cache"
    env = {**os.environ, "QA_BENCH_CACHE": str(cache), "QA_BENCH_SQUAD": str(SAMPLE),
           "QA_BENCH_DATA": str(tmp_path / "no-shared-data")}
    before = sorted(p.name for p in (BENCH / "cache").iterdir()) if (BENCH / "cache").exists() else None
    proc = subprocess.run([sys.executable, "run.py", "--smoke"], cwd=BENCH, capture_output=True, text=True,
                          timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    after = sorted(p.name for p in (BENCH / "cache").iterdir()) if (BENCH / "cache").exists() else None
    assert after == before  # nothing was written to the real cache

    squad = json.loads((cache / "squad.json").read_text())
    assert squad["articles"] == 1 and squad["paragraphs"] == 49 and squad["questions"] == 247
    assert set(squad["results"]) == {"qa (this product)", "bm25s", "dense (MiniLM + FAISS)", "RRF (bm25s + dense)"}
    ours = squad["results"]["qa (this product)"]
    assert ours["hit@5"] >= 0.9 and ours["hit@1"] >= squad["results"]["dense (MiniLM + FAISS)"]["hit@1"]

    interview = json.loads((cache / "latency_interview.json").read_text())
    on_squad = json.loads((cache / "latency_squad.json").read_text())
    assert interview["index"] != on_squad["index"]  # two rows, two indexes
    from qa.chunking import chunk_text

    n_interview = len(chunk_text((ROOT / "corpus" / "optics_valley_interview.txt").read_text(encoding="utf-8")))
    assert interview["warm"]["passages"] == n_interview and on_squad["warm"]["passages"] == squad["passages"]
    for lat in (interview, on_squad):
        w = lat["warm"]
        assert w["queries"] == 20 and 0 < w["bare encode"]["p50_ms"] <= w["answer"]["p95_ms"] * 10
        assert w["search"]["p50_ms"] <= w["search"]["p95_ms"]
    assert interview["cold"]["runs"] == 1 and interview["cold"]["qa ask s (median)"] > 0.1
    stale = json.loads((cache / "stale_check.json").read_text())
    assert stale["documents"] == 2 and stale["runs"] == 1 and stale["no check s (median)"] > 0.1

    build = json.loads((cache / "build.json").read_text())
    assert build["full build"]["texts"] == build["bare encode"]["texts"] > 49
    # On one small article fixed costs dominate both timings; what must hold is that the added
    # document alone was embedded.
    assert 1 <= build["incremental"]["embedded"] < build["full build"]["texts"]
    onnx = json.loads((cache / "onnx_bench.json").read_text())
    assert onnx["build"]["onnx"]["backend"] == "onnx" and onnx["memory"]["onnx"]["answered"] == 5

    scale = json.loads((cache / "scale.json").read_text())
    ivf = [r for r in scale["dense"] if r["index"].startswith("IVF")]
    assert len(ivf) == 4 and all(0 < r["recall@10"] <= 1 for r in ivf) and scale["bm25"]["passages"] == 2000

    real = json.loads((cache / "scale_real.json").read_text())
    assert real["from"]["interview"]["passages"] == n_interview and real["real vectors"] > 300
    assert [r["n"] for r in real["rows"] if r["index"].startswith("Flat")] == [real["real vectors"], 3000]
    widest = [r for r in real["rows"] if r["index"].endswith("nprobe=64")]
    assert all(r["recall@10"]["mean"] >= 0.9 for r in widest)

    sweep = json.loads((cache / "sweep_fusion.json").read_text())
    assert sweep["settings"] == 35 and sweep["dev questions"] == 20
    assert sweep["articles"] == 1 and sweep["fit questions"] == 247 and sweep["held-out questions"] == 0

    load = json.loads((cache / "load.json").read_text())
    assert load["failed answers"] == 0 and load["http errors"] == 0 and load["requests"] > 4


def test_bench_without_the_shared_data_says_so(tmp_path):
    env = {**os.environ, "QA_BENCH_DATA": str(tmp_path / "nothing"), "QA_BENCH_CACHE": str(tmp_path / "cache")}
    env.pop("QA_BENCH_SQUAD", None)
    proc = subprocess.run([sys.executable, "run.py"], cwd=BENCH, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "squad-v1.1-dev.json.gz is missing" in lines[0]
    assert not (tmp_path / "cache").exists()
