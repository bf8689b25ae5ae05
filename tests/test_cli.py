"""The qa command end to end, as a user runs it: real processes, real files."""
from __future__ import annotations

import json
import shutil
import re
import subprocess
import sys
from pathlib import Path


def qa(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout


def test_build_ask_json_status(workspace):
    corpus, index = workspace
    out = qa("build", "--corpus", str(corpus), "--index", str(index))
    assert out.returncode == 0, out.stderr
    assert "1 files" in out.stdout and "0 embedded" in out.stdout and "removed" in out.stdout

    out = qa("ask", "What is the total revenue of the park?", "--index", str(index), "--corpus", str(corpus))
    assert out.returncode == 0 and "120 billion yuan" in out.stdout
    assert out.stdout.startswith("Found in optics_valley_interview.txt.")
    shown = [float(x) for x in re.findall(r"\(confidence ([0-9.]+)\)", out.stdout)]
    assert len(shown) == 3 and shown == sorted(shown, reverse=True)

    out = qa("ask", "Which stock exchanges does the financial service center talk to?", "--json", "-k", "2",
             "--index", str(index), "--corpus", str(corpus))
    data = json.loads(out.stdout)
    assert data["found"] and len(data["hits"]) == 2
    assert "Shenzhen Stock Exchange" in data["hits"][0]["text"]

    out = qa("status", "--corpus", str(corpus), "--index", str(index))
    assert out.returncode == 0 and "up to date" in out.stdout


def test_off_topic_says_so(workspace):
    corpus, index = workspace
    out = qa("ask", "Who painted the Mona Lisa?", "--index", str(index), "--corpus", str(corpus))
    assert out.returncode == 0 and "No passage" in out.stdout


def test_ask_can_be_kept_to_one_document(mixed):
    corpus, index = mixed
    args = ("--index", str(index), "--corpus", str(corpus))
    out = qa("ask", "How many enterprises are in the park?", "--doc", "ebb_org_blog_post.html", "--json", *args)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {h["source"] for h in data["hits"]} <= {"ebb_org_blog_post.html"}
    assert data["message"] in ("No passage in ebb_org_blog_post.html answers this question.",
                               "The closest passage, in ebb_org_blog_post.html, may not answer this.")
    out = qa("ask", "Who was the CEO named in the controversy?", "-k", "5", "--json", "--doc",
             "ebb_org_blog_post.html", "--doc", "wikipedia_mozilla_2015.pdf", *args)
    hits = json.loads(out.stdout)["hits"]
    assert out.returncode == 0 and len(hits) == 5 and "Eich" in hits[0]["text"]
    assert {h["source"] for h in hits} <= {"ebb_org_blog_post.html", "wikipedia_mozilla_2015.pdf"}
    out = qa("ask", "How many enterprises are in the park?", "--doc", "nope.md", *args)
    no_traceback(out)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.startswith("error: no document 'nope.md' in the index; indexed: ")


def test_add_and_remove(workspace, tmp_path):
    corpus, index = workspace
    doc = tmp_path / "harbour.md"
    doc.write_text("# Harbour\n\nThe Harbour Museum keeps 340 ship models, the oldest from 1602.\n")
    out = qa("add", str(doc), "--corpus", str(corpus), "--index", str(index))
    assert out.returncode == 0, out.stderr
    assert (corpus / "harbour.md").exists()
    counts = re.search(r"2 files, (\d+) passages, (\d+) embedded, (\d+) reused, 0 removed", out.stdout)
    assert counts, out.stdout
    passages, embedded, reused = map(int, counts.groups())
    assert embedded == 1 and reused == passages - 1  # one passage for the new file; the interview's are reused
    out = qa("ask", "How many ship models are there?", "--json", "--index", str(index), "--corpus", str(corpus))
    assert json.loads(out.stdout)["hits"][0]["source"] == "harbour.md"

    again = qa("add", str(doc), "--corpus", str(corpus), "--index", str(index))
    assert again.returncode == 1 and "already in the corpus" in again.stderr
    no_traceback(again)

    out = qa("remove", "harbour.md", "--corpus", str(corpus), "--index", str(index))
    assert out.returncode == 0 and not (corpus / "harbour.md").exists() and "removed" in out.stdout
    out = qa("remove", "nope.md", "--corpus", str(corpus), "--index", str(index))
    assert out.returncode == 1 and "no document 'nope.md'" in out.stderr
    no_traceback(out)


def test_remove_checks_every_name_before_deleting_any(workspace):
    corpus, index = workspace
    (corpus / "a.md").write_text("# A\n\nThe alpha lighthouse stands on the north cape.\n")
    assert qa("build", "--corpus", str(corpus), "--index", str(index)).returncode == 0
    before = (index / "manifest.json").read_text()
    out = qa("remove", "a.md", "missing.md", "--corpus", str(corpus), "--index", str(index))
    assert out.returncode == 1 and "no document 'missing.md'" in out.stderr and out.stdout == ""
    no_traceback(out)
    assert (corpus / "a.md").exists() and (index / "manifest.json").read_text() == before
    out = qa("remove", "a.md", "a.md", "--corpus", str(corpus), "--index", str(index))
    assert out.returncode == 0 and out.stdout.count("removed a.md") == 1 and not (corpus / "a.md").exists()


def test_usage_errors_are_one_line(workspace):
    _, index = workspace
    cases = [
        (qa("ask"), "Missing argument 'QUESTION'", "qa.cli ask --help"),
        (qa("ask", "total revenue", "-k", "51", "--index", str(index)), "51 is not in the range 1<=x<=50", "ask --help"),
        (qa("ask", "total revenue", "--no-such-option"), "No such option '--no-such-option'", "ask --help"),
        (qa("nosuch"), "No such command 'nosuch'", "qa.cli --help"),
        (qa("serve", "--rate-limit", "lots"), "is not a rate such as 60/minute", "serve --help"),
    ]
    for proc, expected, hint in cases:
        assert proc.returncode == 2, proc.stderr
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0] and hint in lines[0], proc.stderr
        assert proc.stdout == ""
    assert qa("--help").returncode == 0


def test_stale_index_is_reported(workspace):
    corpus, index = workspace
    (corpus / "new.txt").write_text("A brand new document about lighthouses and their keepers.")
    out = qa("ask", "total revenue", "--index", str(index), "--corpus", str(corpus))
    assert out.returncode == 0 and f"run `qa build --corpus {corpus} --index {index}`" in out.stderr


def test_eval(interview_index, dev_path, off_topic_path):
    _, index = interview_index
    out = qa("eval", str(dev_path), "--off-topic", str(off_topic_path), "--index", str(index))
    assert out.returncode == 0, out.stderr
    assert "hit@1" in out.stdout and "hit@3" in out.stdout and "MRR@5" in out.stdout
    assert "abstained 1.000" in out.stdout


def test_errors_are_one_line(tmp_path, workspace):
    corpus, index = workspace
    cases = [
        (qa("ask", "anything", "--index", str(tmp_path / "missing")), "no index at"),
        (qa("ask", "   ", "--index", str(index)), "empty"),
        (qa("ask", "x" * 5000, "--index", str(index)), "limit"),
        (qa("build", "--corpus", str(tmp_path / "nocorpus"), "--index", str(index)), "no corpus folder"),
    ]
    (index / "manifest.json").write_text("{broken")
    cases.append((qa("ask", "anything", "--index", str(index)), "damaged"))
    for proc, expected in cases:
        assert proc.returncode != 0
        no_traceback(proc)
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0], proc.stderr


def test_status_and_ask_check_the_corpus_the_index_was_built_from(tmp_path, monkeypatch):
    # Before, with no --corpus they compared ./corpus (absent here) and advised a plain `qa build`.
    from click.testing import CliRunner

    from qa import build_index
    from qa.cli import main

    corpus, index = tmp_path / "docs", tmp_path / "idx"
    corpus.mkdir()
    (corpus / "zebra.md").write_text("# Zebra router\n\nHold the reset button for 15 seconds.\n", encoding="utf-8")
    (corpus / "empty.txt").write_bytes(b"")
    build_index(corpus, index)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    out = CliRunner().invoke(main, ["status", "--index", str(index)])
    assert out.exit_code == 0, out.output
    assert f"up to date with {corpus}" in out.output
    assert "not indexed (1):" in out.output and "  empty.txt: empty (no text to index)" in out.output
    (corpus / "zebra.md").write_text("# Zebra router\n\nHold the reset button for 20 seconds.\n", encoding="utf-8")
    out = CliRunner().invoke(main, ["ask", "How long do I hold the reset button?", "--index", str(index)])
    assert out.exit_code == 0 and f"run `qa build --corpus {corpus} --index {index}`" in out.stderr
    assert f"stale: {corpus} has changed" in CliRunner().invoke(main, ["status", "--index", str(index)]).output
    # Moved together, the index checks the corpus beside it, not the folder it was built from.
    build_index(corpus, index)
    moved = tmp_path / "moved"
    shutil.copytree(corpus, moved / "docs")
    shutil.copytree(index, moved / "idx")
    (moved / "docs" / "zebra.md").write_text("# Zebra router\n\nHold it for 30 seconds.\n", encoding="utf-8")
    out = CliRunner().invoke(main, ["status", "--index", str(moved / "idx")]).output
    assert f"stale: {moved / 'docs'} has changed" in out, out
    shutil.rmtree(moved / "docs")
    shutil.rmtree(corpus)
    out = CliRunner().invoke(main, ["ask", "How long do I hold the reset button?", "--index", str(moved / "idx")])
    assert out.exit_code == 0 and "note: not checked against its documents" in out.stderr


def test_status_and_ask_run_no_reader_to_check_staleness(mixed, reader_calls):
    """A cold `qa ask` or `qa status` over PDFs and HTML checks staleness by digests, not by extracting."""
    from click.testing import CliRunner

    from qa.cli import main

    corpus, index = mixed
    status = CliRunner().invoke(main, ["status", "--corpus", str(corpus), "--index", str(index)])
    assert status.exit_code == 0 and "up to date" in status.output
    ask = CliRunner().invoke(main, ["ask", "Where does the name Mozilla come from?", "--json",
                                    "--corpus", str(corpus), "--index", str(index)])
    assert ask.exit_code == 0 and "has changed since" not in ask.output
    assert json.loads(ask.stdout)["hits"][0]["source"] == "wikipedia_mozilla_2015.pdf"
    assert reader_calls == []
    (corpus / "wikipedia_mozilla_2015.pdf").write_bytes((corpus / "wikipedia_mozilla_2015.pdf").read_bytes() + b"\n")
    status = CliRunner().invoke(main, ["status", "--corpus", str(corpus), "--index", str(index)])
    assert "stale:" in status.output and reader_calls == []
