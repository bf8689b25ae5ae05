"""A tiny run of every benchmark, so that `make bench` cannot rot unnoticed."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_benchmarks_run_end_to_end():
    proc = subprocess.run([sys.executable, "run.py", "--smoke"], cwd=BENCH, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cache = BENCH / "cache"
    squad = json.loads((cache / "squad.json").read_text())
    assert set(squad["results"]) == {"qa (this product)", "bm25s", "dense (MiniLM + FAISS)", "RRF (bm25s + dense)"}
    assert squad["results"]["qa (this product)"]["hit@5"] > 0.8  # one article: an easy corpus, but a real one
    latency = json.loads((cache / "latency.json").read_text())
    assert latency["warm"]["search"]["p50_ms"] > 0 and latency["cold"]["ratio"] > 0
    build = json.loads((cache / "build.json").read_text())
    assert build["incremental"]["embedded"] > 0 and build["full build"]["texts"] == build["bare encode"]["texts"]
    onnx = json.loads((cache / "onnx_bench.json").read_text())
    assert onnx["build"]["onnx"]["backend"] == "onnx" and onnx["memory"]["onnx"]["answered"] == 5
    scale = json.loads((cache / "scale.json").read_text())
    assert any(r["index"].startswith("IVF") for r in scale["dense"]) and scale["bm25"]["passages"] == 2000
