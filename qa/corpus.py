"""The corpus folder: which files are documents, reading them, adding and removing them.

A document is a file of a supported format (``.txt``, ``.md``, ``.html``,
``.htm``, ``.pdf``, ``.docx``, ``.srt``, ``.vtt``) under the corpus folder; :mod:`qa.readers`
reads it. Its name is its path relative to the folder, with forward slashes.
Anything else is skipped with a message naming the file, so that one bad file
never stops the rest from being indexed.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import DocumentExists, DocumentNotFound, DocumentRejected
from .readers import MAX_DOCUMENT_BYTES, SUFFIXES, Extracted, decode, read

MAX_NAME_CHARS = 100

__all__ = ["Document", "MAX_DOCUMENT_BYTES", "SUFFIXES", "Skipped", "add", "decode", "file_digests", "file_hashes",
           "name_title", "read_document", "remove", "safe_name", "scan"]


@dataclass(frozen=True)
class Document:
    """One readable document of the corpus.

    Attributes:
        name: Path relative to the corpus folder, with ``/`` separators.
        text: The text passage offsets refer to: the decoded file for text
            formats (a paged ``.txt`` with its running lines moved to the end),
            the extracted text for HTML, PDF and DOCX.
        sha256: Hex digest of the file's bytes.
        extracted: What the reader made of it (blocks, title, pages).
    """

    name: str
    text: str
    sha256: str
    extracted: Extracted | None = None


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, and why.

    Attributes:
        name: Path relative to the corpus folder.
        reason: Why it was not indexed.
        sha256: Hex digest of its bytes, or None when they could not be read (or
            its suffix is not a document's, so its bytes never matter).
    """

    name: str
    reason: str
    sha256: str | None = None


# A long-running app rebuilds after every edit, and each build scans the whole corpus:
# extract each version of a file once. Keyed by name and digest only, so that no file's bytes are kept.
_EXTRACTED: dict[tuple[str, str], Extracted] = {}
_EXTRACTED_MAX = 256


def _read_cached(name: str, sha256: str, data: bytes) -> Extracted:
    key = (name, sha256)
    extracted = _EXTRACTED.get(key)
    if extracted is None:
        extracted = read(name, data)
        if len(_EXTRACTED) >= _EXTRACTED_MAX:
            _EXTRACTED.pop(next(iter(_EXTRACTED)))  # the oldest entry
        _EXTRACTED[key] = extracted
    return extracted


def read_document(name: str, data: bytes) -> Document:
    """Read one document's bytes with the reader for its format.

    Raises:
        DocumentRejected: Unsupported type, unreadable content, or nothing to index.
    """
    sha = hashlib.sha256(data).hexdigest()
    extracted = _read_cached(name, sha, data)
    if not extracted.text.strip() or not any(b.kind not in ("chrome", "metadata") for b in extracted.blocks):
        raise DocumentRejected(f"{name}: empty (no text to index)")
    return Document(name, extracted.text, sha, extracted)


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def _files(root: Path) -> list[tuple[str, Path]]:
    """``(name, path)`` of every visible file under ``root``, sorted by path."""
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not _hidden(rel) and path.is_file():
            found.append((rel.as_posix(), path))
    return found


def _is_candidate(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES


def scan(corpus: str | os.PathLike[str]) -> tuple[list[Document], list[Skipped]]:
    """Read every document under ``corpus``.

    Args:
        corpus: The corpus folder.

    Returns:
        The readable documents sorted by name, and the files that were skipped
        with the reason for each (and the digest of their bytes, so that a
        staleness check can tell that they did not change). Empty documents are
        skipped too: they have nothing to index.
    """
    docs: list[Document] = []
    skipped: list[Skipped] = []
    for name, path in _files(Path(corpus)):
        if not _is_candidate(path):
            skipped.append(Skipped(name, f"not one of {', '.join(SUFFIXES)}"))
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            skipped.append(Skipped(name, f"cannot be read ({exc.strerror})"))
            continue
        try:
            docs.append(read_document(name, data))
        except DocumentRejected as exc:
            skipped.append(Skipped(name, str(exc).removeprefix(f"{name}: "), hashlib.sha256(data).hexdigest()))
    return docs, skipped


def file_digests(corpus: str | os.PathLike[str]) -> dict[str, str | None]:
    """``{name: sha256}`` of the bytes of every file with a document's suffix, no reader run.

    This is what staleness is decided by: a build records the same digests for
    the files it indexed and for those it skipped, so comparing the two needs
    no extraction (a cold ``qa ask`` over PDFs would otherwise read them all).

    Args:
        corpus: The corpus folder.

    Returns:
        The digest of each file, or None for a file whose bytes cannot be read.
    """
    digests: dict[str, str | None] = {}
    for name, path in _files(Path(corpus)):
        if not _is_candidate(path):
            continue
        try:
            with open(path, "rb") as fh:
                digests[name] = hashlib.file_digest(fh, "sha256").hexdigest()
        except OSError:
            digests[name] = None
    return digests


def file_hashes(corpus: str | os.PathLike[str]) -> dict[str, str]:
    """``{name: sha256}`` of the readable documents (runs every reader).

    Only for indexes whose manifest predates the record of skipped files;
    :func:`file_digests` is the cheap check.
    """
    docs, _ = scan(corpus)
    return {d.name: d.sha256 for d in docs}


def name_title(name: str) -> str | None:
    """The words of a document's file name, as a title for a document that has none.

    People name files for what they hold ("dave-neary-interview.txt"), and a
    question that names the subject ("Which company does Dave Neary work for?")
    often finds it only there. A name with fewer than two words that hold
    letters ("Bed002.txt", "IMG_2345.pdf", "notes.md") says nothing and gives none.

    Args:
        name: The document's name, as in :class:`Document`.

    Returns:
        The name's words joined by spaces, or None.
    """
    stem = PurePosixPath(name).name.rsplit(".", 1)[0]
    words = [w for w in re.split(r"[\s_.-]+", stem) if w]
    if sum(any(c.isalpha() for c in w) for w in words) < 2:
        return None
    return " ".join(words)


def safe_name(name: str, default_suffix: str = ".md") -> str:
    """Turn a user-supplied file name or title into a safe document name.

    Only the last path component is kept, so ``../../etc/passwd`` becomes
    ``passwd.md``; control characters and anything but letters, digits,
    ``-``, ``_``, ``.`` and spaces become ``_``.

    Args:
        name: The name or title as given.
        default_suffix: Added when the name has no supported suffix.

    Returns:
        A flat file name ending in one of ``SUFFIXES``.

    Raises:
        DocumentRejected: Nothing usable is left of the name, or it has
            another file type's suffix.
    """
    base = re.split(r"[\\/]", name.replace("\x00", ""))[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(c if (c.isalnum() or c in "-_. ") else "_" for c in base).strip(" .")
    stem, dot, suffix = base.rpartition(".")
    if dot and ("." + suffix.lower()) in SUFFIXES:
        base = f"{stem.strip(' .')}.{suffix.lower()}"
    elif dot and suffix and len(suffix) <= 5 and suffix.isalnum():
        raise DocumentRejected(
            f"{name!r}: .{suffix} files are not accepted; use one of {', '.join(SUFFIXES)}"
        )
    else:
        base = base + default_suffix
    stem = base.rsplit(".", 1)[0]
    if not stem.strip("_ "):
        raise DocumentRejected(f"{name!r}: give the document a name with letters or digits")
    if len(base) > MAX_NAME_CHARS:
        suffix = base.rsplit(".", 1)[1]
        base = f"{stem[: MAX_NAME_CHARS - len(suffix) - 1].rstrip()}.{suffix}"
    return base


def add(
    corpus: str | os.PathLike[str], name: str, content: str | bytes
) -> Document:
    """Add a document to the corpus, refusing to overwrite an existing one.

    Args:
        corpus: The corpus folder (created if missing).
        name: A file name or title; see :func:`safe_name`.
        content: The text, or raw bytes that must decode as UTF-8.

    Returns:
        The stored document.

    Raises:
        DocumentRejected: The name or content is not acceptable.
        DocumentExists: A document of that name is already there.
    """
    fname = safe_name(name)
    data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    doc = read_document(fname, data)  # refuse what cannot be indexed before storing anything
    root = Path(corpus)
    root.mkdir(parents=True, exist_ok=True)
    target = root / fname
    # Write aside, then link into place: os.link fails if the name exists, so
    # two concurrent adds of one name cannot overwrite each other.
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".add-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise DocumentExists(
                f"{fname} is already in the corpus; remove it first or choose another name"
            ) from None
    finally:
        os.unlink(tmp)
    return doc


def remove(corpus: str | os.PathLike[str], name: str) -> None:
    """Delete a document from the corpus folder.

    Raises:
        DocumentNotFound: No such document (the message lists the ones there are).
    """
    root = Path(corpus).resolve()
    target = (root / name).resolve()
    if root not in target.parents or target.suffix.lower() not in SUFFIXES or not target.is_file():
        names = [name for name, path in _files(root) if _is_candidate(path)]
        listing = ", ".join(names[:10]) + (" ..." if len(names) > 10 else "")
        raise DocumentNotFound(f"no document {name!r} in {corpus}; documents: {listing or 'none'}")
    target.unlink()
