"""Builds: incremental embedding, removal, interruption, concurrency, damage, staleness."""
from __future__ import annotations

import json
import threading

import pytest

from qa import (BuildInProgress, IndexCorrupt, IndexWriteError, IndexMismatch, IndexNotFound, Retriever, build_index,
                is_stale)
from qa.store import Writer, read_manifest

NEW_DOC = """# Harbour Museum

## Opening hours

The Harbour Museum opens at nine in the morning and closes at five in the evening.
Entry costs twelve euros for adults.

## Collection

The museum keeps a collection of 340 ship models, the oldest from 1602.
"""


def test_second_build_embeds_nothing(workspace):
    corpus, index = workspace
    report = build_index(corpus, index)
    assert report.embedded == 0 and report.removed == 0
    assert report.reused == report.passages > 10
    assert report.files == 1


def test_manifest_records_what_it_should(interview_index):
    corpus, index = interview_index
    m = read_manifest(index)
    assert m["format_version"] == 3 and m["model"]["dimension"] == 384
    assert m["model"]["name"] == "all-MiniLM-L6-v2" and m["chunker_version"] >= 1
    f = m["files"]["optics_valley_interview.txt"]
    assert len(f["sha256"]) == 64 and f["passages"] == m["passages"]
    gen = index / m["generation"]
    assert sorted(p.name for p in gen.iterdir()) == ["bm25", "bm25_sentences", "documents.jsonl", "passages.faiss", "passages.jsonl", "sentences.faiss"]
    # No pickle anywhere in the index.
    for path in index.rglob("*"):
        if path.is_file():
            assert not path.read_bytes().startswith(b"\x80"), path


def test_adding_a_file_embeds_only_its_passages(workspace):
    corpus, index = workspace
    before = read_manifest(index)["passages"]
    (corpus / "harbour.md").write_text(NEW_DOC, encoding="utf-8")
    report = build_index(corpus, index)
    added = report.passages - before
    assert added >= 1 and report.embedded == added and report.reused == before
    hits = Retriever.load(index).search("How many ship models does the museum keep?", k=1)
    assert hits[0].source == "harbour.md" and "340 ship models" in hits[0].answer_sentence


def test_removing_a_file_drops_its_passages(workspace):
    corpus, index = workspace
    (corpus / "harbour.md").write_text(NEW_DOC, encoding="utf-8")
    build_index(corpus, index)
    (corpus / "harbour.md").unlink()
    report = build_index(corpus, index)
    assert report.removed >= 1 and report.embedded == 0
    r = Retriever.load(index)
    assert all(h.source != "harbour.md" for h in r.search("museum opening hours ship models", k=10))
    assert "harbour.md" not in read_manifest(index)["files"]


def test_bad_files_are_skipped_and_named(workspace):
    corpus, index = workspace
    (corpus / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (corpus / "blob.md").write_bytes(b"\x00\x01\x02binary")
    (corpus / "empty.txt").write_text("")
    (corpus / "notes.pdf").write_bytes(b"%PDF-1.4")
    notes: list[str] = []
    report = build_index(corpus, index, on_note=notes.append)
    reasons = {s.name: s.reason for s in report.skipped}
    assert "UTF-8" in reasons["latin1.txt"] and "binary" in reasons["blob.md"]
    assert reasons["empty.txt"] == "empty" and ".txt or .md" in reasons["notes.pdf"]
    assert report.files == 1 and len(notes) == 4


class FailingWriter(Writer):
    """Fails like a full disk partway through writing a generation."""

    def write_faiss(self, index, path):
        if path.name == "sentences.faiss":
            raise OSError(28, "No space left on device")
        super().write_faiss(index, path)


def test_failed_write_leaves_old_index(workspace):
    corpus, index = workspace
    old = read_manifest(index)
    (corpus / "harbour.md").write_text(NEW_DOC, encoding="utf-8")
    with pytest.raises(IndexWriteError, match="No space left on device.*previous index is untouched"):
        build_index(corpus, index, writer=FailingWriter())
    assert read_manifest(index) == old
    assert [p.name for p in index.iterdir() if p.name.startswith(".gen-")] == []  # partial files cleaned up
    assert Retriever.load(index).search("total revenue", k=1)[0].source == "optics_valley_interview.txt"
    assert build_index(corpus, index).files == 2  # and the next build finishes


def test_two_builds_at_once_are_safe(workspace):
    corpus, index = workspace
    (corpus / "harbour.md").write_text(NEW_DOC, encoding="utf-8")
    results, errors = [], []

    def run():
        try:
            results.append(build_index(corpus, index))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 2
    # One of them embedded the new file; the other waited and found nothing to do.
    assert sorted(r.embedded for r in results)[0] == 0
    assert Retriever.load(index).search("ship models", k=1)[0].source == "harbour.md"


def test_second_build_can_refuse_instead_of_waiting(workspace):
    from qa.indexing import lock_for

    corpus, index = workspace
    with lock_for(index):
        with pytest.raises(BuildInProgress, match="another build"):
            build_index(corpus, index, lock_timeout=0)


def test_missing_index(tmp_path):
    with pytest.raises(IndexNotFound, match="run `qa build`"):
        Retriever.load(tmp_path / "nowhere")


@pytest.mark.parametrize("victim", ["manifest.json", "documents.jsonl", "passages.jsonl", "passages.faiss", "sentences.faiss",
                                    "bm25/params.index.json", "bm25/data.csc.index.npy"])
@pytest.mark.parametrize("damage", ["truncate", "garbage", "delete"])
def test_damaged_index_is_reported_and_repaired(workspace, victim, damage):
    corpus, index = workspace
    gen = index / read_manifest(index)["generation"]
    path = index / victim if victim == "manifest.json" else gen / victim
    if damage == "delete":
        path.unlink()
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    else:
        path.write_bytes(b"\x93NUMPY garbage {not json" * 3)
    with pytest.raises((IndexCorrupt, IndexNotFound)) as info:
        Retriever.load(index)
    assert "qa build" in str(info.value)
    build_index(corpus, index)
    assert Retriever.load(index).search("total revenue", k=1)


def test_wrong_model_is_a_mismatch(interview_index):
    with pytest.raises(IndexMismatch, match="built with model"):
        Retriever.load(interview_index[1], model="some/other-model")


def test_other_dimension_is_a_mismatch(workspace):
    _, index = workspace
    m = json.loads((index / "manifest.json").read_text())
    m["model"]["dimension"] = 768
    (index / "manifest.json").write_text(json.dumps(m))
    with pytest.raises((IndexMismatch, IndexCorrupt)):
        Retriever.load(index)


def test_staleness(workspace):
    corpus, index = workspace
    assert not is_stale(corpus, index)
    (corpus / "harbour.md").write_text(NEW_DOC, encoding="utf-8")
    assert is_stale(corpus, index)
    build_index(corpus, index)
    assert not is_stale(corpus, index)


def test_refresh_picks_up_a_rebuild(workspace):
    corpus, index = workspace
    r = Retriever.load(index)
    assert not r.refresh()
    (corpus / "harbour.md").write_text(NEW_DOC, encoding="utf-8")
    build_index(corpus, index)
    assert r.refresh()
    assert r.search("ship models in the museum", k=1)[0].source == "harbour.md"


def test_large_indexes_switch_to_ivf_and_still_find_answers(workspace, monkeypatch):
    import qa.store

    corpus, index = workspace
    monkeypatch.setattr(qa.store, "FLAT_MAX_VECTORS", 10)
    report = build_index(corpus, index)
    assert report.embedded == 0  # vectors come back out of the previous (Flat) index
    m = read_manifest(index)
    assert m["dense_index"]["sentences"].startswith("IVF") and m["dense_index"]["passages"].startswith("IVF")
    r = Retriever.load(index)
    hit = r.search("What is the total revenue of the park?", k=1)[0]
    assert "120 billion yuan" in hit.answer_sentence
    # And a rebuild from an IVF index reuses its vectors too.
    assert build_index(corpus, index).embedded == 0


def test_refresh_keeps_the_old_generation_when_the_new_one_is_damaged(workspace):
    corpus, index = workspace
    r = Retriever.load(index)
    m = json.loads((index / "manifest.json").read_text())
    m["generation"] = "gen-missing"
    (index / "manifest.json").write_text(json.dumps(m))
    assert not r.refresh()
    assert "120 billion" in r.search("What is the total revenue of the park?", k=1)[0].text
