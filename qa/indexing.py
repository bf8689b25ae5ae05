"""Building the index from the corpus: chunk, embed what is new, write, swap.

Embeddings are cached by a hash of the exact text that was embedded, so a
rebuild embeds only passages (and sentences) that are new or changed, and a
removed file simply stops contributing passages.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
from filelock import FileLock, Timeout

from . import __version__
from .chunking import CHUNKER_VERSION, Passage, pack
from .readers import Extracted
from .readers.text import read_text
from .corpus import SUFFIXES, Skipped, file_digests, file_hashes, name_title, scan
from .embedding import Embedder
from .late import quantize
from .errors import BuildInProgress, CorpusError, IndexCorrupt, IndexMismatch, IndexNotFound, IndexWriteError
from .lexical import Lexical
from .store import (
    FORMAT_VERSION,
    LOCK,
    Record,
    SourceDocument,
    collect_garbage,
    load_generation,
    read_manifest,
    reconstruct,
    write_generation,
    Writer,
)

# progress(stage, done, total); stages: "chunking", "embedding", "writing"
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class BuildReport:
    """What a build did.

    Attributes:
        files: Documents indexed.
        passages: Passages in the new index.
        embedded: Passages whose vectors were computed in this build.
        reused: Passages whose vectors came from the previous index.
        removed: Passages of the previous index that are gone.
        seconds: Wall time of the build.
        skipped: Files that were not indexed, with the reason for each.
        sentences: Sentence vectors in the new index.
        embed_seconds: Time spent encoding (model loading excluded).
    """

    files: int
    passages: int
    embedded: int
    reused: int
    removed: int
    seconds: float
    skipped: tuple[Skipped, ...] = field(default=())
    sentences: int = 0
    embed_seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.files} files, {self.passages} passages, {self.embedded} embedded, "
            f"{self.reused} reused, {self.removed} removed, {self.seconds:.1f} s"
        )


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def document_passages(name: str, extracted: Extracted) -> list[Passage]:
    """The passages a document is indexed as: packed from its blocks, each carrying the
    document's title; where there is none (no title in the document, nor a heading the packer
    took for one), the title its file name reads as (:func:`qa.corpus.name_title`), which is
    embedded and matched with the passage and is its :attr:`Hit.title`."""
    passages = pack(extracted)
    if extracted.title is None and (named := name_title(name)):
        passages = [p if p.title else replace(p, title=named) for p in passages]
    return passages


def passage_context(p: Passage | Record) -> str:
    """The context that goes before a passage's text when it is embedded or indexed.

    The interviewer's question is what makes an answer findable ("more than
    1,200" answers "how many companies"), and the section and title place it.
    """
    parts = []
    if p.title and p.title != p.section:
        parts.append(p.title)
    if p.section:
        parts.append(p.section)
    if p.question and p.question not in p.text:
        parts.append(p.question)
    return "\n".join(parts)


def content_text(p: Passage | Record) -> str:
    """The passage's sentences without speaker labels: what its text says."""
    if not p.sentences:
        return p.text
    return " ".join(p.text[s[0] - p.start : s[1] - p.start] for s in p.sentences)


def sentence_texts(p: Passage | Record) -> list[str]:
    """What is embedded for each sentence of a passage: the sentence alone.

    (Measured: adding the next or previous sentence as context lowered hit@1
    on both the interview and SQuAD.)
    """
    return [p.text[s[0] - p.start : s[1] - p.start] for s in p.sentences]


def embedding_text(p: Passage | Record) -> str:
    ctx = passage_context(p)
    body = content_text(p)
    return f"{ctx}\n{body}" if ctx else body


def body_offset(p: Passage | Record) -> int:
    """Where :func:`content_text` begins in :func:`embedding_text` (after the context and its newline)."""
    ctx = passage_context(p)
    return len(ctx) + 1 if ctx else 0


def lock_for(index: str | os.PathLike[str], timeout: float = -1) -> FileLock:
    Path(index).mkdir(parents=True, exist_ok=True)
    return FileLock(str(Path(index) / LOCK), timeout=timeout)


def _previous_vectors(
    index: str | os.PathLike[str], previous: dict[str, Any] | None, model: str, note: Callable[[str], None]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray], set[str]]:
    """The previous generation's passage, sentence and token vectors keyed by text hash,
    if it is usable as a cache, and the passage hashes it held."""
    if previous is None:
        return {}, {}, {}, set()
    try:
        gen = load_generation(index, previous)
    except (IndexCorrupt, IndexMismatch, IndexNotFound) as exc:
        note(f"previous index not reused: {exc}")
        return {}, {}, {}, set()
    if gen.manifest["model"]["name"] != model:
        return {}, {}, {}, {r.hash for r in gen.records}
    n = len(gen.records)
    p_vecs = reconstruct(gen.passage_index, np.arange(n))
    s_vecs = reconstruct(gen.sentence_index, np.arange(gen.sentence_index.ntotal))
    p_cache = {r.hash: p_vecs[i] for i, r in enumerate(gen.records)}
    s_hashes = [s[2] for r in gen.records for s in r.sentences]
    s_cache = dict(zip(s_hashes, s_vecs))
    # Views of the memory map: only the rows that are kept are ever read.
    tf, scales = gen.token_first, gen.token_scales
    t_cache = {r.hash: (gen.token_vectors[tf[i] : tf[i + 1]], scales[tf[i] : tf[i + 1]])
               for i, r in enumerate(gen.records)}
    return p_cache, s_cache, t_cache, set(p_cache)


def build_index(
    corpus: str | os.PathLike[str] = "corpus",
    index: str | os.PathLike[str] = "index",
    *,
    model: str | None = None,
    progress: Progress | None = None,
    lock_timeout: float = -1,
    writer: Writer | None = None,
    on_note: Callable[[str], None] | None = None,
) -> BuildReport:
    """Build or refresh the index from the corpus folder.

    Args:
        corpus: Folder of documents (see :data:`qa.corpus.SUFFIXES`).
        index: Index folder; created if missing.
        model: Embedding model name or path (default: the bundled MiniLM).
        progress: Called as ``progress(stage, done, total)`` while working.
        lock_timeout: Seconds to wait for another build to finish; ``-1``
            waits for as long as it takes, ``0`` fails at once.
        writer: Writes the files (tests pass a faulty one).
        on_note: Receives one-line notes (skipped files, a damaged old index).

    Returns:
        A :class:`BuildReport`.

    Raises:
        CorpusError: ``corpus`` is not a folder. A mistyped path must not build an empty
            index over a good one.
        IndexWriteError: ``index`` is a file.
        BuildInProgress: Another build holds the lock past ``lock_timeout``.
    """
    if not Path(corpus).is_dir():
        raise CorpusError(f"no corpus folder at {corpus}: create it and put documents "
                          f"({', '.join(sorted(SUFFIXES))}) in it, or give the folder that holds them")
    if Path(index).exists() and not Path(index).is_dir():
        raise IndexWriteError(f"{index} is a file, not an index folder: give another index path")
    t0 = time.perf_counter()
    note = on_note or (lambda _msg: None)
    tick = progress or (lambda _stage, _done, _total: None)
    embedder = Embedder(model)
    lock = lock_for(index, lock_timeout)
    try:
        lock.acquire()
    except Timeout:
        raise BuildInProgress(
            f"another build of {index}/ is running; wait for it to finish and try again"
        ) from None
    try:
        docs, skipped = scan(corpus)
        for s in skipped:
            note(f"skipped {s.name}: {s.reason}")
        # Read once under the lock: it cannot change until this build swaps it.
        try:
            previous: dict[str, Any] | None = read_manifest(index)
        except IndexNotFound:
            previous = None
        except (IndexCorrupt, IndexMismatch) as exc:
            # Its advice ("run `qa build`") is what this build is doing.
            note(f"previous index not reused, so every passage is embedded anew: {str(exc).split(': run `')[0]}")
            previous = None
        p_cache, s_cache, t_cache, old_hashes = _previous_vectors(index, previous, embedder.name, note)
        old_files = previous.get("files", {}) if previous else {}

        records: list[Record] = []
        sources: list[SourceDocument] = []
        files: dict[str, dict[str, Any]] = {}
        s_text: dict[str, str] = {}  # sentence hash -> the text embedded for it
        all_sentences: list[str] = []  # in index order, for the sentence BM25
        indexed_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        for i, doc in enumerate(docs):
            tick("chunking", i, len(docs))
            extracted = doc.extracted or read_text(doc.text)
            passages = document_passages(doc.name, extracted)
            sources.append(SourceDocument(doc.name, extracted.title, doc.text, extracted.pages))
            for p in passages:
                texts = sentence_texts(p)
                sentences = tuple((s, e, _hash(t)) for (s, e), t in zip(p.sentences, texts))
                s_text.update((h, t) for (_, _, h), t in zip(sentences, texts))
                all_sentences.extend(texts)
                records.append(
                    Record(
                        id=len(records), source=doc.name, start=p.start, end=p.end, text=p.text,
                        kind=p.kind, section=p.section, question=p.question, title=p.title,
                        hash=_hash(embedding_text(p)), sentences=sentences, page=p.page, speaker=p.speaker,
                    )
                )
            old = old_files.get(doc.name, {})
            files[doc.name] = {
                "sha256": doc.sha256,
                "passages": len(passages),
                "indexed_at": old.get("indexed_at") if old.get("sha256") == doc.sha256 else indexed_at,
            }
        tick("chunking", len(docs), len(docs))

        # Only texts whose hash the previous index does not hold are encoded.
        new_p = list(dict.fromkeys(r.hash for r in records if r.hash not in p_cache))
        new_s = list(dict.fromkeys(s[2] for r in records for s in r.sentences if s[2] not in s_cache))
        p_text = {r.hash: embedding_text(r) for r in records}
        total = len(new_p) + len(new_s)
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            tick("embedding", done, total)

        tick("embedding", 0, total)
        if total:
            embedder.model  # noqa: B018 - load outside the timed encoding
        t_embed = time.perf_counter()
        # One call for passages and sentences together: sorted by length as a
        # whole, the batches pad less than two separate calls would.
        vectors, tokens = embedder.encode_tokens([p_text[h] for h in new_p] + [s_text[h] for h in new_s],
                                                 len(new_p), progress=advance)
        p_cache.update(zip(new_p, vectors[: len(new_p)]))
        t_cache.update((h, quantize(t.vectors)) for h, t in zip(new_p, tokens))
        s_cache.update(zip(new_s, vectors[len(new_p) :]))
        embed_seconds = time.perf_counter() - t_embed
        dim = embedder.dimension
        p_vecs = np.stack([p_cache[r.hash] for r in records]) if records else np.zeros((0, dim), np.float32)
        s_list = [s_cache[s[2]] for r in records for s in r.sentences]
        s_vecs = np.stack(s_list) if s_list else np.zeros((0, dim), np.float32)
        t_list = [t_cache[r.hash] for r in records]
        t_first = np.zeros(len(records) + 1, np.int64)
        np.cumsum([len(t[0]) for t in t_list], out=t_first[1:])
        t_vecs = np.concatenate([t[0] for t in t_list]) if t_list else np.zeros((0, dim), np.int8)
        t_scales = np.concatenate([t[1] for t in t_list]) if t_list else np.zeros(0, np.float32)

        tick("writing", 0, 1)
        lexical = Lexical.build([embedding_text(r) for r in records])
        sentence_lexical = Lexical.build(all_sentences)
        manifest = {
            "format_version": FORMAT_VERSION,
            "package_version": __version__,
            "chunker_version": CHUNKER_VERSION,
            "model": {"name": embedder.name, "dimension": dim},
            # Where `qa ask` and `qa status` look for it: beside the index first (an index copied or
            # moved with its corpus), then where it was.
            "corpus": str(Path(corpus).resolve()),
            "corpus_from_index": os.path.relpath(Path(corpus).resolve(), Path(index).resolve()),
            "built_at": indexed_at,
            "passages": len(records),
            "sentences": len(s_list),
            "files": files,
            # Skipped documents with their digests: staleness is decided by bytes alone, and a
            # file that stays empty or unreadable does not make the index look stale forever.
            "skipped": {s.name: {"sha256": s.sha256, "reason": s.reason}
                        for s in skipped if Path(s.name).suffix.lower() in SUFFIXES},
        }
        previous_gen = previous["generation"] if previous else None
        written = write_generation(index, sources, records, p_vecs, s_vecs, lexical, sentence_lexical, manifest, writer,
                                   token_vectors=t_vecs, token_scales=t_scales, token_first=t_first)
        # Keep the generation readers may still be opening; drop everything older.
        collect_garbage(index, keep={written["generation"], previous_gen or ""})
        tick("writing", 1, 1)
        new_hashes = {r.hash for r in records}
        fresh = set(new_p)
        reused = sum(1 for r in records if r.hash not in fresh)
        return BuildReport(
            files=len(docs),
            passages=len(records),
            embedded=len(new_p),
            reused=reused,
            removed=len(old_hashes - new_hashes),
            seconds=time.perf_counter() - t0,
            skipped=tuple(skipped),
            sentences=len(s_list),
            embed_seconds=embed_seconds,
        )
    finally:
        lock.release()


def is_stale(corpus: str | os.PathLike[str], index: str | os.PathLike[str]) -> bool:
    """True when the corpus has changed since the index was built (or there is no usable index).

    Decided by the digests of the files' bytes against those the build recorded,
    for the documents it indexed and the files it skipped: no reader runs. An
    index built before skipped files were recorded is checked the old way, by
    reading every document, until the next build records them.

    Args:
        corpus: The corpus folder.
        index: The index folder.

    Returns:
        Whether ``qa build`` would change the index.
    """
    try:
        manifest = read_manifest(index)
    except (IndexNotFound, IndexCorrupt, IndexMismatch):
        return True
    if manifest.get("chunker_version") != CHUNKER_VERSION:
        return True
    try:
        recorded = recorded_digests(manifest)
    except ValueError:
        return True  # a manifest edited by hand: a build rewrites it
    if recorded is None:
        built = {name: f["sha256"] for name, f in manifest.get("files", {}).items()}
        return built != file_hashes(corpus)
    return recorded != file_digests(corpus)


def recorded_digests(manifest: dict) -> dict[str, str | None] | None:
    """The digest of every document file the build saw, indexed or skipped, by name.

    Args:
        manifest: A manifest, from :func:`qa.store.read_manifest`.

    Returns:
        ``{name: sha256}`` (None for a file whose bytes could not be read), to
        compare with :func:`qa.corpus.file_digests`; None for a manifest written
        before skipped files were recorded, which cannot be decided by bytes.

    Raises:
        ValueError: The record is damaged.
    """
    try:
        if manifest.get("skipped") is None:
            return None
        recorded = {name: f["sha256"] for name, f in manifest.get("files", {}).items()}
        recorded.update((name, f["sha256"]) for name, f in manifest["skipped"].items())
    except (AttributeError, KeyError, TypeError) as exc:
        raise ValueError("the manifest's record of files is damaged") from exc
    return recorded
