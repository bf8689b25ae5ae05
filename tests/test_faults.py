"""Faults and hostile input: killed builds, no code run on load, odd questions, upload storms."""
from __future__ import annotations

import pickle
import random
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
from qa.store import read_manifest


def test_builds_killed_at_random_points(workspace):
    """SIGKILL `qa build` ten times at random moments: the live index always loads and answers."""
    corpus, index = workspace
    rng = random.Random(1234)
    generations = {read_manifest(index)["generation"]}
    for i in range(10):
        # New work each round, so that the kill can land in chunking, embedding or writing.
        (corpus / f"round{i}.txt").write_text(
            "\n\n".join(f"Round {i} paragraph {j} covers subject {i}-{j} in detail. " * 6 for j in range(25)))
        proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "build", "--corpus", str(corpus),
                                 "--index", str(index)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(1.0, 9.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        generations.add(read_manifest(index)["generation"])
        r = Retriever.load(index)
        assert "120 billion" in r.search("What is the total revenue of the park?", k=1)[0].text
    report = build_index(corpus, index)
    assert report.files == 11
    assert Retriever.load(index).search("Round 9 paragraph 3 subject", k=1)[0].source == "round9.txt"
    # Interrupted builds leave no partial generations behind once a build completes.
    leftovers = [p.name for p in index.iterdir() if p.name.startswith(".gen-") or p.name.endswith(".tmp")]
    assert leftovers == []
    assert len([p for p in index.iterdir() if p.name.startswith("gen-")]) <= 2


def test_loading_never_unpickles(interview_index, monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("pickle was used while loading the index")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    r = Retriever.load(interview_index[1])
    assert r.search("total revenue", k=1)


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
        assert isinstance(ans.found, bool) and (ans.found or ans.hits == [])
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
