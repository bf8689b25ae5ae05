"""Builds: incremental embedding, removal, interruption, concurrency, damage, staleness."""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from qa import (BuildInProgress, CorpusError, IndexCorrupt, IndexWriteError, IndexMismatch, IndexNotFound, Retriever, build_index,
                is_stale)
from qa.store import Writer, load_generation, read_manifest, write_generation

from conftest import BAD_FILES, BINARY_AND_HTML, FIXTURES

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
    assert m["format_version"] == 5 and m["model"]["dimension"] == 384
    assert m["model"]["name"] == "all-MiniLM-L6-v2" and m["chunker_version"] >= 1
    f = m["files"]["optics_valley_interview.txt"]
    assert len(f["sha256"]) == 64 and f["passages"] == m["passages"]
    gen = index / m["generation"]
    assert sorted(p.name for p in gen.iterdir()) == ["bm25", "bm25_sentences", "documents.jsonl", "passages.faiss", "passages.jsonl",
                                                    "sentences.faiss", "token_first.npy", "token_scales.npy", "tokens.npy"]
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
    (corpus / "tool.exe").write_bytes(b"MZ")
    notes: list[str] = []
    report = build_index(corpus, index, on_note=notes.append)
    reasons = {s.name: s.reason for s in report.skipped}
    assert "UTF-8" in reasons["latin1.txt"] and "binary" in reasons["blob.md"]
    assert reasons["empty.txt"] == "empty (no text to index)" and "not a readable PDF" in reasons["notes.pdf"]
    assert reasons["tool.exe"].startswith("not one of .txt, .md")
    assert report.files == 1 and len(notes) == 5


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
    new_passages = 2  # NEW_DOC's two sections
    start = threading.Barrier(2)
    runs, errors = [], []

    def run():
        try:
            marks: dict[str, float] = {}

            def progress(stage, done, total):
                marks.setdefault(stage, time.monotonic())  # "chunking" comes right after the lock is taken

            start.wait()
            called = time.monotonic()
            report = build_index(corpus, index, progress=progress)
            runs.append((called, marks["chunking"], time.monotonic(), report))
        except Exception as exc:  # re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    first, second = sorted(runs, key=lambda r: r[1])
    # The second was called before the first finished, and only got the lock after it.
    assert second[0] < first[2] and second[1] >= first[2] - 0.05
    assert first[3].embedded == new_passages and second[3].embedded == 0
    assert second[3].reused == second[3].passages == first[3].passages
    assert Retriever.load(index).search("ship models", k=1)[0].source == "harbour.md"


def test_second_build_can_refuse_instead_of_waiting(workspace):
    from qa.indexing import lock_for

    corpus, index = workspace
    with lock_for(index):
        with pytest.raises(BuildInProgress, match="another build"):
            build_index(corpus, index, lock_timeout=0)


def test_a_mistyped_corpus_path_keeps_the_index(workspace, tmp_path):
    # Scanning a missing folder finds no documents; building that would empty a good index.
    corpus, index = workspace
    before = read_manifest(index)
    for wrong in (tmp_path / "typo_corpus", corpus / "optics_valley_interview.txt"):
        with pytest.raises(CorpusError, match="no corpus folder at"):
            build_index(wrong, index)
    assert read_manifest(index) == before
    assert Retriever.load(index).documents() == ["optics_valley_interview.txt"]
    a_file = tmp_path / "index.txt"
    a_file.write_text("not an index", encoding="utf-8")
    with pytest.raises(IndexWriteError, match="is a file, not an index folder"):
        build_index(corpus, a_file)


def test_missing_index(tmp_path):
    with pytest.raises(IndexNotFound, match=f"run `qa build --corpus YOUR_DOCUMENTS --index {tmp_path / 'nowhere'}`"):
        Retriever.load(tmp_path / "nowhere")


def test_a_manifest_with_a_generation_that_is_not_a_name_is_damage(workspace):
    corpus, index = workspace
    m = read_manifest(index)
    (index / "manifest.json").write_text(json.dumps({**m, "generation": 5}), encoding="utf-8")
    with pytest.raises(IndexCorrupt, match="unreadable manifest.json"):  # was a bare TypeError
        Retriever.load(index)


@pytest.mark.parametrize("victim", ["manifest.json", "documents.jsonl", "passages.jsonl", "passages.faiss", "sentences.faiss",
                                    "bm25/params.index.json", "bm25/data.csc.index.npy", "tokens.npy", "token_scales.npy",
                                    "token_first.npy"])
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
    expected = IndexNotFound if (victim, damage) == ("manifest.json", "delete") else IndexCorrupt
    with pytest.raises(expected) as info:
        Retriever.load(index)
    assert type(info.value) is expected
    message = str(info.value)
    assert "qa build" in message and "\n" not in message
    if damage == "delete" and victim != "manifest.json":
        assert f"({Path(victim).name} is missing)" in message
    elif victim == "manifest.json" and damage != "delete":
        assert "unreadable manifest.json" in message
    elif victim != "manifest.json":
        # The damaged file is named, in our words: numpy's advice was to unpickle it ("allow_pickle").
        assert Path(victim).parts[0] in message and "pickle" not in message and "faiss::" not in message
    assert f"--index {index}" in message  # the advice builds this index, not ./index
    # Repairing is one code path (build aside, then swap) whatever was damaged: it is exercised for
    # every file once, with garbage in it, and for a missing manifest (each repair is a full build).
    if damage == "garbage" or (victim, damage) == ("manifest.json", "delete"):
        build_index(corpus, index)
        assert "120 billion" in Retriever.load(index).search("What is the total revenue of the park?", k=1)[0].text


def test_wrong_model_is_a_mismatch(interview_index):
    with pytest.raises(IndexMismatch, match="built with model"):
        Retriever.load(interview_index[1], model="some/other-model")


def _other_dimension_generation(index, dim: int = 768) -> str:
    """Write a complete, consistent generation of ``dim``-d vectors, as another model would make."""
    gen = load_generation(index)
    rng = np.random.default_rng(0)

    def unit(n):
        v = rng.standard_normal((n, dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    manifest = {k: v for k, v in gen.manifest.items() if k not in ("generation", "dense_index")}
    manifest["model"] = {**manifest["model"], "dimension": dim}
    written = write_generation(index, list(gen.documents.values()), gen.records, unit(len(gen.records)), unit(gen.sentence_index.ntotal),
                               gen.lexical, gen.sentence_lexical, manifest)
    return written["generation"]


def test_other_dimension_is_a_mismatch(workspace):
    _, index = workspace
    _other_dimension_generation(index)
    with pytest.raises(IndexMismatch, match="makes 384-d vectors but the index at .* holds 768-d ones: run `qa build --corpus YOUR_DOCUMENTS --index "):
        Retriever.load(index)


def test_manifest_with_another_dimension_is_a_mismatch(workspace):
    _, index = workspace
    m = json.loads((index / "manifest.json").read_text())
    m["model"]["dimension"] = 768
    (index / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IndexMismatch, match="768-d"):
        Retriever.load(index)


def test_refresh_refuses_another_dimension_and_keeps_answering(workspace, caplog):
    _, index = workspace
    r = Retriever.load(index)
    old = r.generation
    new = _other_dimension_generation(index)
    with caplog.at_level(logging.ERROR, logger="qa.search"):
        assert not r.refresh()
        assert not r.refresh()
    assert r.generation == old and "768-d" in r.failed_generations[new]
    assert "120 billion" in r.search("What is the total revenue of the park?", k=1)[0].text
    errors = [x.getMessage() for x in caplog.records if x.levelno == logging.ERROR]
    assert len(errors) == 1 and "768-d" in errors[0]


def test_refresh_refuses_another_model(workspace, caplog):
    """`qa build --model X` while an app is up: the app keeps its model and its generation."""
    corpus, index = workspace
    r = Retriever.load(index)
    old = r.generation
    (corpus / "harbour.md").write_text(NEW_DOC, encoding="utf-8")
    build_index(corpus, index)
    m = json.loads((index / "manifest.json").read_text())
    m["model"]["name"] = "some/other-model"  # what a build with another 384-d model writes
    (index / "manifest.json").write_text(json.dumps(m))
    with caplog.at_level(logging.ERROR, logger="qa.search"):
        assert not r.refresh()
    assert r.generation == old
    assert "built with model 'some/other-model', not 'all-MiniLM-L6-v2'" in r.failed_generations[m["generation"]]
    assert "120 billion" in r.search("What is the total revenue of the park?", k=1)[0].text


def test_every_generation_file_is_fsynced_before_the_manifest_swap(workspace, monkeypatch):
    """A power cut after the swap must not find a manifest naming files that never reached the disk."""
    import qa.store

    corpus, index = workspace
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(src, dst, *a, **k):
        events.append(("replace", str(dst)))
        return real_replace(src, dst, *a, **k)

    monkeypatch.setattr(qa.store.os, "fsync", fsync)
    monkeypatch.setattr(qa.store.os, "replace", replace)
    (corpus / "harbour.md").write_text(NEW_DOC, encoding="utf-8")
    build_index(corpus, index)
    gen = read_manifest(index)["generation"]
    swap = events.index(("replace", str(index / "manifest.json")))
    before = [path for kind, path in events[:swap] if kind == "fsync"]
    partial = str((index / f".{gen}.partial").resolve())
    synced = {os.path.relpath(p, partial) for p in before if p == partial or p.startswith(partial + "/")}
    on_disk = {str(p.relative_to(index / gen)) for p in (index / gen).rglob("*")} | {"."}
    assert synced == on_disk  # every file and folder of the generation, FAISS and BM25 included
    assert str(index.resolve()) in before  # the rename into place, before the manifest names it
    assert ("fsync", str(index.resolve())) in events[swap:]  # and the swap itself


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
    monkeypatch.setattr(qa.store, "IVF_NPROBE", 4)  # below nlist for both indexes: a real, partial IVF search
    report = build_index(corpus, index)
    assert report.embedded == 0  # vectors come back out of the previous (Flat) index
    m = read_manifest(index)
    gen = load_generation(index)
    for kind, idx in (("passages", gen.passage_index), ("sentences", gen.sentence_index)):
        assert m["dense_index"][kind] == f"IVF{idx.nlist},Flat nprobe=4" and idx.nprobe == 4 < idx.nlist
    r = Retriever.load(index)
    hit = r.search("What is the total revenue of the park?", k=1)[0]
    assert "120 billion yuan" in hit.answer_sentence
    # Kept to the document, its passages are scored exactly, past the IVF index's partial search.
    kept = r.search("What is the total revenue of the park?", k=1, sources=[hit.source])[0]
    assert (kept.start, kept.answer_sentence) == (hit.start, hit.answer_sentence)
    # And a rebuild from an IVF index reuses its vectors too.
    assert build_index(corpus, index).embedded == 0


def test_ivf_recall_against_exact_search(interview_index, monkeypatch):
    """IVF as the store builds it, on real vectors grown past the switch, finds what exact search finds."""
    import faiss

    import qa.store

    gen = load_generation(interview_index[1])
    base = qa.store.reconstruct(gen.sentence_index, np.arange(gen.sentence_index.ntotal))
    rng = np.random.default_rng(3)
    # Real MiniLM sentence vectors and noisy copies of them (cosine about 0.9 to the original).
    copies = base[rng.integers(0, len(base), 6000)] + 0.48 * rng.standard_normal((6000, base.shape[1])).astype(
        np.float32) / np.sqrt(base.shape[1])
    data = np.concatenate([base, copies / np.linalg.norm(copies, axis=1, keepdims=True)]).astype(np.float32)
    monkeypatch.setattr(qa.store, "FLAT_MAX_VECTORS", 1000)
    ivf = qa.store._dense_index(data, data.shape[1])
    assert isinstance(ivf, faiss.IndexIVFFlat) and ivf.nprobe == qa.store.IVF_NPROBE < ivf.nlist
    flat = faiss.IndexFlatIP(data.shape[1])
    flat.add(data)
    queries = Retriever.load(interview_index[1]).encode(
        [json.loads(x)["question"] for x in (Path(__file__).parent / "data" / "dev_questions.jsonl").read_text().splitlines() if x.strip()])
    _, truth = flat.search(queries, 10)
    _, found = ivf.search(queries, 10)
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])
    assert recall >= 0.95, recall


def test_refresh_keeps_the_old_generation_when_the_new_one_is_damaged(workspace):
    corpus, index = workspace
    r = Retriever.load(index)
    m = json.loads((index / "manifest.json").read_text())
    m["generation"] = "gen-missing"
    (index / "manifest.json").write_text(json.dumps(m))
    assert not r.refresh()
    assert "120 billion" in r.search("What is the total revenue of the park?", k=1)[0].text


# ------------------------------------------------------------ staleness by bytes, no reader run


def test_manifest_records_skipped_files_with_their_digests(mixed):
    import hashlib

    corpus, index = mixed
    m = read_manifest(index)
    assert set(m["files"]) == {"optics_valley_interview.txt", *BINARY_AND_HTML}
    assert set(m["skipped"]) == set(BAD_FILES)
    for name, data in BAD_FILES.items():
        assert m["skipped"][name]["sha256"] == hashlib.sha256(data).hexdigest()
    assert m["skipped"]["empty.txt"]["reason"] == "empty (no text to index)"


def test_staleness_check_runs_no_reader(mixed, reader_calls):
    from qa.service import QAService

    corpus, index = mixed
    assert not is_stale(corpus, index)
    rows = QAService(corpus, index).documents()
    assert reader_calls == []
    # The Corpus tab lists the indexed documents, not the files the build skipped.
    assert [r.name for r in rows] == sorted(["optics_valley_interview.txt", *BINARY_AND_HTML])
    # The instrumentation does see readers when they run: a build after a change reads the corpus.
    (corpus / "empty.txt").write_text("Now it has text about lighthouses.", encoding="utf-8")
    build_index(corpus, index)
    assert "empty.txt" in reader_calls and "wikipedia_mozilla_2015.pdf" in reader_calls


@pytest.mark.parametrize("change", ["pdf bytes", "html bytes", "skipped file bytes", "add", "add skipped",
                                    "remove", "remove skipped"])
def test_staleness_follows_the_bytes(mixed, reader_calls, change):
    corpus, index = mixed
    if change == "pdf bytes":  # a byte appended after %%EOF: the same text, other bytes
        (corpus / "wikipedia_mozilla_2015.pdf").write_bytes((FIXTURES / "wikipedia_mozilla_2015.pdf").read_bytes() + b"\n")
    elif change == "html bytes":
        page = corpus / "ebb_org_blog_post.html"
        page.write_bytes(page.read_bytes().replace(b"</body>", b"<p>One more line.</p></body>", 1))
    elif change == "skipped file bytes":
        (corpus / "blob.md").write_bytes(b"\x00still binary, other bytes")
    elif change == "add":
        (corpus / "harbour.md").write_text(NEW_DOC, encoding="utf-8")
    elif change == "add skipped":
        (corpus / "empty2.md").write_bytes(b"")
    elif change == "remove":
        (corpus / "wikipedia_mozilla_2015.pdf").unlink()
    else:
        (corpus / "notes.pdf").unlink()
    assert is_stale(corpus, index)
    assert reader_calls == []
    build_index(corpus, index)
    assert not is_stale(corpus, index)


def test_files_that_are_not_documents_do_not_make_the_index_stale(mixed):
    corpus, index = mixed
    (corpus / "tool.exe").write_bytes(b"MZ")
    (corpus / ".hidden.md").write_text("draft", encoding="utf-8")
    assert not is_stale(corpus, index)


def test_manifest_without_skipped_files_is_checked_by_reading(mixed, reader_calls):
    """An index built before skipped files were recorded: no crash, the right answer, the old way."""
    corpus, index = mixed
    path = index / "manifest.json"
    m = json.loads(path.read_text(encoding="utf-8"))
    del m["skipped"]
    path.write_text(json.dumps(m), encoding="utf-8")
    assert not is_stale(corpus, index)
    assert "wikipedia_mozilla_2015.pdf" in reader_calls  # the fallback extracts
    (corpus / "harbour.md").write_text(NEW_DOC, encoding="utf-8")
    assert is_stale(corpus, index)
    build_index(corpus, index)
    assert "skipped" in read_manifest(index) and not is_stale(corpus, index)


def test_manifest_with_a_damaged_skipped_record_is_stale(mixed):
    corpus, index = mixed
    path = index / "manifest.json"
    m = json.loads(path.read_text(encoding="utf-8"))
    m["skipped"] = {"empty.txt": "not a record"}
    path.write_text(json.dumps(m), encoding="utf-8")
    assert is_stale(corpus, index)
    build_index(corpus, index)
    assert not is_stale(corpus, index)


def test_nearest_on_a_flat_index_is_faiss_own_search():
    """The product's matrix-vector search of a Flat index gives FAISS's answer, best first."""
    import faiss

    from qa.store import nearest

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3000, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    flat = faiss.IndexFlatIP(384)
    flat.add(vectors)
    for q in vectors[[0, 7]] + 0.01 * rng.standard_normal((2, 384)).astype(np.float32):
        _, want = flat.search(q.reshape(1, -1), 50)
        got = nearest(flat, q, 50)
        assert got.dtype == np.int64 and got.tolist() == want[0].tolist()
    assert nearest(flat, vectors[3], 5000).tolist()[:1] == [3] and len(nearest(flat, vectors[3], 5000)) == 3000
    assert len(nearest(flat, vectors[3], 0)) == 0 and len(nearest(faiss.IndexFlatIP(384), vectors[3], 10)) == 0
    quantizer = faiss.IndexFlatIP(384)
    ivf = faiss.IndexIVFFlat(quantizer, 384, 8, faiss.METRIC_INNER_PRODUCT)
    ivf.train(vectors)
    ivf.add(vectors)
    ivf.nprobe = 8  # every list: exact, so the same as the Flat index
    assert nearest(ivf, vectors[5], 20).tolist() == flat.search(vectors[5:6], 20)[1][0].tolist()
