"""The corpus folder: which files are documents, reading them, adding and removing them.

A document is a ``.txt`` or ``.md`` file under the corpus folder, read as
UTF-8. Its name is its path relative to the folder, with forward slashes.
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
from pathlib import Path

from .errors import DocumentExists, DocumentNotFound, DocumentRejected

SUFFIXES = (".txt", ".md")
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024  # larger texts are refused, not silently truncated
MAX_NAME_CHARS = 100


@dataclass(frozen=True)
class Document:
    """One readable document of the corpus.

    Attributes:
        name: Path relative to the corpus folder, with ``/`` separators.
        text: The decoded text (a UTF-8 byte-order mark is removed).
        sha256: Hex digest of the file's bytes.
    """

    name: str
    text: str
    sha256: str


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, and why."""

    name: str
    reason: str


def decode(data: bytes, name: str) -> str:
    """Decode a document's bytes, or say exactly why they are not usable text.

    Args:
        data: The raw bytes.
        name: The file name, for the message.

    Returns:
        The text, without a leading byte-order mark.

    Raises:
        DocumentRejected: The bytes are binary, not UTF-8, or too large.
    """
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentRejected(
            f"{name}: {len(data):,} bytes is over the {MAX_DOCUMENT_BYTES:,}-byte limit; split it into smaller files"
        )
    if b"\x00" in data[:8192]:
        raise DocumentRejected(f"{name}: looks binary (contains NUL bytes); only UTF-8 text is indexed")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentRejected(
            f"{name}: not valid UTF-8 (bad byte at offset {exc.start}); re-save it as UTF-8"
        ) from None
    return text


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def scan(corpus: str | os.PathLike[str]) -> tuple[list[Document], list[Skipped]]:
    """Read every document under ``corpus``.

    Args:
        corpus: The corpus folder.

    Returns:
        The readable documents sorted by name, and the files that were skipped
        with the reason for each. Empty documents are skipped too: they have
        nothing to index.
    """
    root = Path(corpus)
    docs: list[Document] = []
    skipped: list[Skipped] = []
    if not root.is_dir():
        return docs, skipped
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if _hidden(rel) or not path.is_file():
            continue
        name = rel.as_posix()
        if path.suffix.lower() not in SUFFIXES:
            skipped.append(Skipped(name, f"not a {' or '.join(SUFFIXES)} file"))
            continue
        try:
            data = path.read_bytes()
            text = decode(data, name)
        except DocumentRejected as exc:
            skipped.append(Skipped(name, str(exc).removeprefix(f"{name}: ")))
            continue
        except OSError as exc:
            skipped.append(Skipped(name, f"cannot be read ({exc.strerror})"))
            continue
        if not text.strip():
            skipped.append(Skipped(name, "empty"))
            continue
        docs.append(Document(name, text, hashlib.sha256(data).hexdigest()))
    return docs, skipped


def file_hashes(corpus: str | os.PathLike[str]) -> dict[str, str]:
    """``{name: sha256}`` of the readable documents, for staleness checks."""
    docs, _ = scan(corpus)
    return {d.name: d.sha256 for d in docs}


def safe_name(name: str, default_suffix: str = ".md") -> str:
    """Turn a user-supplied file name or title into a safe document name.

    Only the last path component is kept, so ``../../etc/passwd`` becomes
    ``passwd.md``; control characters and anything but letters, digits,
    ``-``, ``_``, ``.`` and spaces become ``_``.

    Args:
        name: The name or title as given.
        default_suffix: Added when the name has no ``.txt``/``.md`` suffix.

    Returns:
        A flat file name ending in ``.txt`` or ``.md``.

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
    text = decode(data, fname)
    if not text.strip():
        raise DocumentRejected(f"{fname}: the document is empty")
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
    return Document(fname, text, hashlib.sha256(data).hexdigest())


def remove(corpus: str | os.PathLike[str], name: str) -> None:
    """Delete a document from the corpus folder.

    Raises:
        DocumentNotFound: No such document (the message lists the ones there are).
    """
    root = Path(corpus).resolve()
    target = (root / name).resolve()
    if root not in target.parents or target.suffix.lower() not in SUFFIXES or not target.is_file():
        names = [d.name for d in scan(root)[0]]
        listing = ", ".join(names[:10]) + (" ..." if len(names) > 10 else "")
        raise DocumentNotFound(f"no document {name!r} in {corpus}; documents: {listing or 'none'}")
    target.unlink()
