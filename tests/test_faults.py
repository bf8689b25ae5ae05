"""Faults and hostile input: killed builds, no code run on load, odd questions, upload storms."""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from qa import BadQuestion, Retriever, build_index
from qa.service import QAService
from qa.store import FAULT_POINTS, read_manifest


def _build_until(corpus: Path, index: Path, point: str) -> None:
    """Run `qa build` until it reaches fault point ``point``, then SIGKILL it there."""
    env = {**os.environ, "QA_FAULT_POINT": point, "QA_FAULT_ACTION": "pause"}
    proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "build", "--corpus", str(corpus), "--index", str(index)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr))
    reader.start()
    deadline = time.monotonic() + 180
    try:
        while not any(f"qa fault point reached: {point}" in ln for ln in lines):
            assert proc.poll() is None, f"build ended before {point}: {''.join(lines)[-2000:]}"
            assert time.monotonic() < deadline, f"build never reached {point}"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        reader.join()
    assert proc.returncode == -signal.SIGKILL


def test_builds_killed_at_every_fault_point(workspace):
    """SIGKILL `qa build` inside each step of writing and swapping: the live index always loads and answers."""
    corpus, index = workspace
    assert FAULT_POINTS == ("passages", "faiss", "bm25", "rename", "manifest-staged", "swap")
    live = read_manifest(index)["generation"]
    for i, point in enumerate(FAULT_POINTS):
        (corpus / f"round{i}.txt").write_text(f"Round {i} covers the subject of kite number {i} in detail.")
        _build_until(corpus, index, point)
        now = read_manifest(index)["generation"]
        r = Retriever.load(index)
        assert "120 billion" in r.search("What is the total revenue of the park?", k=1)[0].text
        if point == "swap":  # killed after the commit point: the new generation is live and complete
            assert now != live and r.search("kite number 5", k=1)[0].source == "round5.txt"
        else:  # killed before it: the old generation is still live
            assert now == live and all(h.source != f"round{i}.txt" for h in r.search(f"kite number {i}", k=3))
        live = now
    report = build_index(corpus, index)
    # The build killed after the swap had committed every round: nothing is left to embed.
    assert report.files == 1 + len(FAULT_POINTS) and report.embedded == 0 and report.removed == 0
    assert Retriever.load(index).search("kite number 3", k=1)[0].source == "round3.txt"
    # Interrupted builds leave no partial generations behind once a build completes.
    leftovers = [p.name for p in index.iterdir() if p.name.startswith(".gen-") or p.name.endswith(".tmp")]
    assert leftovers == []
    assert len([p for p in index.iterdir() if p.name.startswith("gen-")]) == 2  # the live one and the one before


def test_a_build_that_dies_at_a_fault_point_is_killed_there(workspace):
    """QA_FAULT_ACTION=die: the writer kills itself at the step, leaving the same state a SIGKILL would."""
    corpus, index = workspace
    live = read_manifest(index)["generation"]
    (corpus / "kite.txt").write_text("The red kite has a forked tail.")
    proc = subprocess.run([sys.executable, "-m", "qa.cli", "build", "--corpus", str(corpus), "--index", str(index)],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "QA_FAULT_POINT": "manifest-staged", "QA_FAULT_ACTION": "die"})
    assert proc.returncode == -signal.SIGKILL and "qa fault point reached: manifest-staged" in proc.stderr
    assert read_manifest(index)["generation"] == live
    assert [p.name for p in index.iterdir() if p.name.startswith(".manifest.json.")]  # the staged manifest, unused
    assert build_index(corpus, index).embedded == 1


def test_loading_never_unpickles(interview_index, monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("pickle was used while loading the index")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    r = Retriever.load(interview_index[1])
    assert "120 billion" in r.search("What is the total revenue of the park?", k=1)[0].text


def test_no_pickle_in_the_package():
    src = Path(__file__).resolve().parents[1] / "qa"
    for path in src.glob("*.py"):
        text = path.read_text()
        assert "import pickle" not in text and "pickle.load" not in text, path


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=1200))
def test_any_question_gets_an_answer_or_a_clear_refusal(retriever, question):
    t = time.perf_counter()
    try:
        ans = retriever.answer(question)
    except BadQuestion as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert ans.found == bool(ans.hits) and len(ans.hits) <= 3
        if ans.found:
            assert ans.tier == retriever.tiers.of(ans.hits[0].confidence) != "none"
            assert ans.hits[0].confidence >= retriever.tiers.closest
            assert ans.hits[0].text in retriever._gen.records[0].text or any(
                r.text == ans.hits[0].text for r in retriever._gen.records)
    assert time.perf_counter() - t < 3.0


def test_many_uploads_at_once(workspace, tmp_path):
    corpus, index = workspace
    service = QAService(corpus, index, allow_edits=True)
    files = []
    for i in range(20):
        f = tmp_path / f"note{i % 10}.txt"  # ten names, each uploaded twice at once
        f.write_text(f"Note number {i % 10} says hello.")
        files.append(f)
    results: list[tuple[list[str], list[str]]] = []

    def upload(path: Path) -> None:
        results.append(service.add_files(None, [str(path)]))

    threads = [threading.Thread(target=upload, args=(f,)) for f in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    added = sorted(n for a, _ in results for n in a)
    refused = [e for _, errs in results for e in errs]
    assert added == sorted(f"note{i}.txt" for i in range(10))  # each name exactly once
    assert len(refused) == 10 and all("already in the corpus" in e for e in refused)
    assert sorted(p.name for p in corpus.iterdir() if p.name.startswith("note")) == added
    assert not [p for p in corpus.iterdir() if p.name.startswith(".add-")]  # no temp files left


def test_nothing_is_written_outside_the_corpus(workspace, tmp_path):
    corpus, index = workspace
    service = QAService(corpus, index, allow_edits=True)
    outside_before = sorted(p.name for p in corpus.parent.iterdir())
    for name in ["../escape.txt", "../../etc/passwd", "/tmp/abs.md", "sub/dir.md", "a\x00b.txt", "..",
                 "CON.txt", " .md", "x" * 300 + ".txt"]:
        try:
            service.add_text(None, name, "text")
        except Exception as exc:  # refusals must be our clear errors
            assert exc.__class__.__module__.startswith("qa"), exc
    assert sorted(p.name for p in corpus.parent.iterdir()) == outside_before
    assert all(p.parent == corpus for p in corpus.rglob("*"))
