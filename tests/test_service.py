"""The web app's logic without a browser: edit protection, uploads, escaping, rebuilds."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from qa import BuildInProgress, DocumentExists, DocumentRejected
from qa.render import answer_html, esc
from qa.search import Answer, Hit
from qa.service import EditRefused, QAService


def service(workspace, **kw) -> QAService:
    corpus, index = workspace
    return QAService(corpus, index, **kw)


def test_editing_needs_the_password(workspace):
    s = service(workspace, admin_password="s3cret")
    with pytest.raises(EditRefused, match="wrong admin password"):
        s.add_text("nope", "Doc", "Some text.")
    s.add_text("s3cret", "Doc", "Some text about lighthouses.")
    assert (Path(s.corpus) / "Doc.md").exists()


def test_wrong_passwords_are_rate_limited(workspace):
    s = service(workspace, admin_password="s3cret")
    for _ in range(5):
        with pytest.raises(EditRefused, match="wrong"):
            s.check_edit("guess")
    with pytest.raises(EditRefused, match="too many wrong passwords"):
        s.check_edit("s3cret")  # even the right one waits out the window


def test_edits_without_password_only_on_loopback(workspace):
    assert service(workspace, allow_edits=True, host="127.0.0.1").can_edit_without_password()
    service(workspace, allow_edits=True, host="127.0.0.1").check_edit(None)
    with pytest.raises(EditRefused, match="loopback"):
        service(workspace, allow_edits=True, host="0.0.0.0").check_edit(None)
    with pytest.raises(EditRefused, match="editing is off"):
        service(workspace).check_edit(None)


def test_uploads_are_sanitized(workspace, tmp_path):
    s = service(workspace, allow_edits=True)
    up = tmp_path / "up"
    up.mkdir()
    good = up / "notes.txt"
    good.write_text("Lighthouse keepers trimmed the wicks every night.")
    bad_type = up / "evil.html"
    bad_type.write_text("<script>alert(1)</script>")
    latin = up / "latin.txt"
    latin.write_bytes("caf\xe9".encode("latin-1"))
    big = up / "big.txt"
    big.write_text("x" * (2 * 1024 * 1024))
    added, errors = s.add_files(None, [str(good), str(bad_type), str(latin), str(big)])
    assert added == ["notes.txt"]
    assert len(errors) == 3
    assert any("evil.html" in e and ".txt" in e for e in errors)
    assert any("UTF-8" in e for e in errors) and any("limit" in e for e in errors)
    # Same name again: refused, never overwritten.
    added, errors = s.add_files(None, [str(good)])
    assert added == [] and "already in the corpus" in errors[0]


@pytest.mark.parametrize("name", ["../../etc/passwd", "..\\..\\boot.ini.txt", "a/b/c.md", "nul\x00byte.txt",
                                  "/abs/path.md", "....md"])
def test_hostile_names_stay_inside_the_corpus(workspace, name):
    s = service(workspace, allow_edits=True)
    try:
        doc = s.add_text(None, name, "Some harmless text.")
    except DocumentRejected:
        return
    path = (Path(s.corpus) / doc.name).resolve()
    assert path.parent == Path(s.corpus).resolve() and path.exists()
    assert "/" not in doc.name and "\x00" not in doc.name


def test_pasted_duplicates_and_empty_text(workspace):
    s = service(workspace, allow_edits=True)
    s.add_text(None, "Harbour", "The museum has 340 ship models.")
    with pytest.raises(DocumentExists):
        s.add_text(None, "Harbour", "Other text.")
    with pytest.raises(DocumentRejected, match="empty"):
        s.add_text(None, "Blank", "   ")


def test_rebuild_swaps_index_for_the_chat(workspace):
    s = service(workspace, allow_edits=True)
    assert not s.ask("How many ship models does the harbour museum have?").found or \
        "ship" not in s.ask("How many ship models does the harbour museum have?").hits[0].text
    s.add_text(None, "Harbour", "The Harbour Museum keeps 340 ship models, the oldest from 1602.")
    report = s.rebuild()
    assert report.embedded >= 1
    ans = s.ask("How many ship models does the harbour museum have?")
    assert ans.found and ans.hits[0].source == "Harbour.md"
    rows = {r.name: r for r in s.documents()}
    assert rows["Harbour.md"].passages == 1 and rows["Harbour.md"].indexed_at
    s.remove(None, "Harbour.md")
    s.rebuild()
    assert all(h.source != "Harbour.md" for h in s.ask("ship models harbour museum", k=5).hits)


def test_rebuild_refuses_while_another_runs(workspace):
    from qa.indexing import lock_for

    s = service(workspace, allow_edits=True)
    with lock_for(s.index):
        with pytest.raises(BuildInProgress, match="already running"):
            s.rebuild()


def test_queries_during_a_rebuild_keep_answering(workspace):
    s = service(workspace, allow_edits=True)
    s.ask("total revenue")
    for i in range(20):
        (Path(s.corpus) / f"doc{i}.txt").write_text(f"Document {i} is about subject {i}. " * 30)
    failures: list[str] = []
    done = threading.Event()

    def ask_loop():
        while not done.is_set():
            ans = s.ask("What is the total revenue of the park?")
            if not ans.found or "120 billion" not in ans.hits[0].text:
                failures.append("bad answer")

    t = threading.Thread(target=ask_loop)
    t.start()
    try:
        s.rebuild()
    finally:
        done.set()
        t.join()
    assert failures == []


def test_suggestions_come_from_the_corpus(workspace):
    tips = service(workspace).suggestions()
    assert 2 <= len(tips) <= 4 and all(t.endswith("?") and len(t) < 100 for t in tips)


def test_html_is_escaped():
    evil = '<img src=x onerror=alert(1)> <script>alert(2)</script> **bold** [link](javascript:x)'
    hit = Hit(text=evil, score=1.0, relevance=0.7, source="<b>x</b>.md", start=0, end=len(evil),
              section="<i>s</i>", question="<svg onload=alert(3)>?", answer_sentence=evil,
              answer_start=0, answer_end=len(evil))
    out = answer_html(Answer("q", True, [hit, hit]))
    for raw in ["<img", "<script", "<svg", "<b>x", "<i>s", "**bold**", "[link]"]:
        assert raw not in out
    assert "More passages (1)" in out and "<mark>" in out
    assert esc("a<b") == "a&#60;b"
