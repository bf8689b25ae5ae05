"""The web app's logic without a browser: edit protection, uploads, escaping, rebuilds."""
from __future__ import annotations

import logging
import re
import threading
import time
from pathlib import Path

import pytest

from qa import BuildInProgress, DocumentExists, DocumentRejected, build_index
from qa.render import answer_html, esc
from qa.search import Answer, Hit
from qa.service import Caller, EditRefused, QAService, RateLimited

REVENUE = "What is the total revenue of the park?"
HARBOUR = "The Harbour Museum keeps 340 ship models, the oldest from 1602."


def service(workspace, **kw) -> QAService:
    corpus, index = workspace
    return QAService(corpus, index, **kw)


def test_a_missing_corpus_folder_starts_empty_or_keeps_the_index(workspace, tmp_path):
    # build_index now refuses a missing folder (it emptied good indexes); the app must still start.
    new = QAService(tmp_path / "new" / "corpus", tmp_path / "new" / "index")
    assert new.ensure_index().passages == 0 and (tmp_path / "new" / "corpus").is_dir()
    _, index = workspace
    kept = QAService(tmp_path / "gone", index)
    assert kept.ensure_index() is None and not (tmp_path / "gone").exists()
    assert kept.ask("What is the total revenue of the park?").found


def test_editing_needs_the_password(workspace):
    s = service(workspace, admin_password="s3cret")
    with pytest.raises(EditRefused, match="wrong admin password"):
        s.add_text("nope", "Doc", "Some text.")
    s.add_text("s3cret", "Doc", "Some text about lighthouses.")
    assert (Path(s.corpus) / "Doc.md").exists()


def test_wrong_passwords_lock_out_only_that_client(workspace):
    s = service(workspace, admin_password="s3cret")
    guesser, admin = Caller("203.0.113.5"), Caller("198.51.100.7")
    for _ in range(5):
        with pytest.raises(EditRefused, match="wrong admin password"):
            s.check_edit("guess", guesser)
    with pytest.raises(EditRefused, match=r"too many wrong passwords from your address; try again in \d+ s"):
        s.check_edit("s3cret", guesser)  # even the right one waits out the window
    s.check_edit("s3cret", admin)  # another address is not locked out by the guesser
    # Behind a local reverse proxy, each forwarded client has its own count.
    behind = Caller("127.0.0.1", ("203.0.113.5",))
    with pytest.raises(EditRefused, match="too many wrong passwords"):
        s.check_edit("s3cret", behind)
    s.check_edit("s3cret", Caller("127.0.0.1", ("198.51.100.7",)))


def test_edits_without_password_only_for_loopback_clients(workspace):
    s = service(workspace, allow_edits=True, host="0.0.0.0")  # listening everywhere, as behind a proxy
    s.check_edit(None, Caller("127.0.0.1"))
    s.check_edit(None, Caller("::1"))
    for remote in [Caller("10.1.2.3"), Caller("203.0.113.9"),
                   Caller("127.0.0.1", ("203.0.113.9",))]:  # a local proxy relaying a remote client
        with pytest.raises(EditRefused, match="only allowed from this machine"):
            s.check_edit(None, remote)
        assert not s.can_edit_without_password(remote)
    with pytest.raises(EditRefused, match="only allowed from this machine"):
        service(workspace, allow_edits=True, host="127.0.0.1").check_edit(None, Caller("10.1.2.3"))
    with pytest.raises(EditRefused, match="editing is off"):
        service(workspace).check_edit(None, Caller("127.0.0.1"))


def test_questions_are_rate_limited_per_client(workspace):
    s = service(workspace, ask_limit="3/minute")
    a, b = Caller("203.0.113.5"), Caller("198.51.100.7")
    for _ in range(3):
        assert s.ask(REVENUE, caller=a).found
    with pytest.raises(RateLimited, match=r"^too many requests from your address; try again in \d+ s$") as info:
        s.ask(REVENUE, caller=a)
    wait = int(re.search(r"in (\d+) s", str(info.value)).group(1))
    assert 1 <= wait <= 61
    assert s.ask(REVENUE, caller=b).found  # the other client is not affected
    assert s.ask(REVENUE).found  # in-process calls have no limit


def test_uploads_are_sanitized(workspace, tmp_path):
    s = service(workspace, allow_edits=True)
    up = tmp_path / "up"
    up.mkdir()
    good = up / "notes.txt"
    good.write_text("Lighthouse keepers trimmed the wicks every night.")
    bad_type = up / "evil.exe"
    bad_type.write_text("<script>alert(1)</script>")
    latin = up / "latin.txt"
    latin.write_bytes("caf\xe9".encode("latin-1"))
    big = up / "big.txt"
    big.write_text("x" * (2 * 1024 * 1024))
    added, errors = s.add_files(None, [str(good), str(bad_type), str(latin), str(big)])
    assert added == ["notes.txt"]
    assert len(errors) == 3
    assert any("evil.exe" in e and ".txt" in e and ".pdf" in e for e in errors)
    assert any("UTF-8" in e for e in errors) and any("limit" in e for e in errors)
    # Same name again: refused, never overwritten.
    added, errors = s.add_files(None, [str(good)])
    assert added == [] and "already in the corpus" in errors[0]


def test_pdf_uploads_may_be_larger_than_text(workspace, tmp_path):
    """Real PDFs are often over the 1 MB text limit: they may be as large as the readers accept."""
    from qa.service import MAX_BINARY_UPLOAD_BYTES, MAX_UPLOAD_BYTES

    s = service(workspace, allow_edits=True)
    pdf = (Path(__file__).parent / "fixtures" / "wikipedia_mozilla_2015.pdf").read_bytes()
    up = tmp_path / "up"
    up.mkdir()
    # The fixture with bytes after its end marker: still a readable PDF, and over the text limit.
    big_pdf = up / "mozilla.pdf"
    big_pdf.write_bytes(pdf + b"\n" + b"\xff" * (2 * MAX_UPLOAD_BYTES))
    too_big_pdf = up / "huge.pdf"
    too_big_pdf.write_bytes(pdf + b"\n" + b"\xff" * MAX_BINARY_UPLOAD_BYTES)
    big_txt = up / "big.txt"
    big_txt.write_text("word " * (MAX_UPLOAD_BYTES // 5 + 1))
    added, errors = s.add_files(None, [str(big_pdf), str(too_big_pdf), str(big_txt)])
    assert added == ["mozilla.pdf"]
    assert errors == [
        f"huge.pdf: {too_big_pdf.stat().st_size:,} bytes is over the 5 MB upload limit for PDF and DOCX files",
        f"big.txt: {big_txt.stat().st_size:,} bytes is over the 1 MB upload limit for text files",
    ]
    assert not (Path(s.corpus) / "huge.pdf").exists() and not (Path(s.corpus) / "big.txt").exists()


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
    errors: list[BaseException] = []
    answered_at: list[float] = []
    done = threading.Event()

    def ask_loop():
        try:
            while not done.is_set():
                ans = s.ask(REVENUE)
                if not ans.found or "120 billion" not in ans.hits[0].text:
                    failures.append("bad answer")
                answered_at.append(time.monotonic())
        except BaseException as exc:  # re-raised below: a crash in the thread must fail the test
            errors.append(exc)

    t = threading.Thread(target=ask_loop)
    t.start()
    try:
        started = time.monotonic()
        report = s.rebuild()
        finished = time.monotonic()
    finally:
        done.set()
        t.join()
    if errors:
        raise errors[0]
    assert failures == []
    assert report.embedded == 20  # the rebuild really had work to do while questions ran
    during = [x for x in answered_at if started < x < finished]
    assert len(during) >= 5, f"only {len(during)} questions were answered during the rebuild"


def test_a_question_during_a_load_is_answered_from_the_old_generation(workspace, monkeypatch):
    """While one thread loads a new generation, the others answer from the old one without waiting."""
    import qa.search

    s = service(workspace)
    old = s.retriever.generation
    (Path(s.corpus) / "harbour.md").write_text(HARBOUR)
    build_index(s.corpus, s.index)
    loading, release = threading.Event(), threading.Event()
    real_load = qa.search.load_generation

    def slow_load(*args, **kwargs):
        loading.set()
        assert release.wait(60)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(qa.search, "load_generation", slow_load)
    first: list[Answer] = []
    loader = threading.Thread(target=lambda: first.append(s.ask(REVENUE)))
    loader.start()
    try:
        assert loading.wait(30), "the first question did not start loading the new generation"
        quick: list[Answer] = []
        asker = threading.Thread(target=lambda: quick.append(s.ask("How many ship models does the museum keep?")))
        asker.start()
        asker.join(10)
        assert not asker.is_alive(), "a question waited for the load of the new generation"
        # Answered from the old generation, which has no harbour document.
        assert all(h.source != "harbour.md" for h in quick[0].hits)
        assert s.retriever.generation == old
    finally:
        release.set()
        loader.join(60)
    assert first and first[0].found
    ans = s.ask("How many ship models does the museum keep?")
    assert s.retriever.generation != old and ans.hits[0].source == "harbour.md"


def test_a_bad_generation_is_logged_once_and_not_retried(workspace, monkeypatch, caplog):
    import json

    import qa.search

    s = service(workspace)
    old = s.retriever.generation
    index = Path(s.index)
    (Path(s.corpus) / "harbour.md").write_text(HARBOUR)
    build_index(s.corpus, index)
    new = json.loads((index / "manifest.json").read_text())["generation"]
    (index / new / "passages.faiss").write_bytes(b"not a faiss file")
    loads: list[str] = []
    real_load = qa.search.load_generation
    monkeypatch.setattr(qa.search, "load_generation",
                        lambda idx, manifest=None: loads.append(manifest["generation"]) or real_load(idx, manifest))
    with caplog.at_level(logging.ERROR, logger="qa.search"):
        for _ in range(5):
            ans = s.ask(REVENUE)
            assert ans.found and "120 billion" in ans.hits[0].text
    assert loads == [new]  # tried once, not on every question
    assert s.retriever.generation == old
    assert new in s.retriever.failed_generations
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and new in errors[0] and "damaged" in errors[0] and old in errors[0]
    # The next good build is picked up.
    (index / new / "passages.faiss").unlink()
    (Path(s.corpus) / "more.md").write_text("The lighthouse was lit in 1871.")
    build_index(s.corpus, index)
    assert s.ask("How many ship models does the museum keep?").hits[0].source == "harbour.md"
    assert s.retriever.generation not in (old, new)


def test_add_then_failed_rebuild_says_what_happened_and_retries_work(workspace):
    from qa.indexing import lock_for
    from qa.web import edit_status

    s = service(workspace, allow_edits=True)
    with lock_for(s.index):  # another build is running
        result = s.add_text_and_rebuild(None, "Harbour", HARBOUR)
    assert result.added == ("Harbour.md",) and result.report is None
    assert "already running" in result.rebuild_error
    status = edit_status(result)
    assert status.startswith("⚠️ Added Harbour.md, but the index was not rebuilt: a rebuild is already running")
    assert "press <b>Rebuild index</b>" in status and "unchanged" not in status
    # The document was stored, its title as the first line.
    assert (Path(s.corpus) / "Harbour.md").read_text() == "# Harbour\n\n" + HARBOUR

    # Sending the same document again is not a dead end: it is there already, and the index follows.
    again = s.add_text_and_rebuild(None, "Harbour", HARBOUR)
    assert again.unchanged == ("Harbour.md",) and again.added == () and again.rebuild_error is None
    assert again.report.embedded == 1
    assert "already in the corpus with the same content. Index rebuilt" in edit_status(again)
    assert s.ask("How many ship models does the harbour museum have?").hits[0].source == "Harbour.md"
    # Different content under the same name is still refused, never overwritten.
    with pytest.raises(DocumentExists):
        s.add_text_and_rebuild(None, "Harbour", "Other text.")


def test_rebuild_after_a_failed_rebuild_indexes_the_added_document(workspace):
    from qa.indexing import lock_for

    s = service(workspace, allow_edits=True)
    with lock_for(s.index):
        assert s.add_text_and_rebuild(None, "Harbour", HARBOUR).rebuild_error
    assert s.rebuild().embedded == 1  # the Rebuild button
    assert s.ask("How many ship models does the harbour museum have?").hits[0].source == "Harbour.md"


def test_removing_needs_a_confirmation_and_nothing_is_preselected(workspace):
    from qa.web import create_app, remove_status

    s = service(workspace, allow_edits=True)
    name = "optics_valley_interview.txt"
    demo = create_app(s)
    dropdown = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "qa-remove-choice")
    confirm = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "qa-remove-confirm")
    assert dropdown.choices and dropdown.value is None and confirm.value is False
    status = remove_status(s, None, name, False, Caller("127.0.0.1"))
    assert status.startswith("⚠️ Nothing was removed") and (Path(s.corpus) / name).exists()
    assert remove_status(s, None, None, True, Caller("127.0.0.1")) == "⚠️ Choose a document to remove."
    status = remove_status(s, None, name, True, Caller("127.0.0.1"))
    assert status.startswith(f"Removed {esc(name)}. Index rebuilt") and not (Path(s.corpus) / name).exists()


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
