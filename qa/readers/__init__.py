"""Readers: one per file format, each turning a file into typed blocks over an extracted text.

``read(name, data)`` picks the reader by the file's suffix. The packer
(:func:`qa.chunking.pack`) then makes passages from the blocks.
"""

from __future__ import annotations

from pathlib import PurePath

from ..errors import DocumentRejected
from .blocks import BLOCK_KINDS, CONTENT_KINDS, Block, Extracted

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".srt", ".vtt")
SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".srt", ".vtt")
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024  # larger files are refused, not silently truncated

__all__ = ["BLOCK_KINDS", "CONTENT_KINDS", "Block", "Extracted", "SUFFIXES", "decode", "read"]


def _check_size(data: bytes, name: str) -> None:
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentRejected(
            f"{name}: {len(data):,} bytes is over the {MAX_DOCUMENT_BYTES:,}-byte limit; split it into smaller files"
        )


def decode(data: bytes, name: str) -> str:
    """Decode a text document's bytes, or say exactly why they are not usable text.

    Raises:
        DocumentRejected: The bytes are binary, not UTF-8 (nor UTF-16 or UTF-32 with a
            byte-order mark), or too large.
    """
    _check_size(data, name)
    # Windows tools (Notepad's "Unicode", PowerShell's redirection) save UTF-16 with a
    # byte-order mark; the mark says the encoding for certain, so such a file is read.
    for bom, codec in ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
                       (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            try:
                text = data[len(bom):].decode(codec)
            except UnicodeDecodeError as exc:
                raise DocumentRejected(f"{name}: starts with a {codec[:6].upper()} byte-order mark but is not valid "
                                       f"{codec[:6].upper()} (bad bytes at offset {exc.start + len(bom)}); "
                                       "re-save it as UTF-8") from None
            if "\x00" in text:
                raise DocumentRejected(f"{name}: looks binary (contains NUL characters); only text is indexed")
            return text
    if b"\x00" in data[:8192]:
        raise DocumentRejected(f"{name}: looks binary (contains NUL bytes); only UTF-8 text is indexed "
                               "(or UTF-16 with a byte-order mark)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentRejected(
            f"{name}: not valid UTF-8 (bad byte at offset {exc.start}); re-save it as UTF-8"
        ) from None


def read(name: str, data: bytes) -> Extracted:
    """Read a document of any supported format.

    Args:
        name: The file name; its suffix picks the reader.
        data: The file's bytes.

    Returns:
        The extracted text and its blocks.

    Raises:
        DocumentRejected: Unsupported suffix, or content the reader cannot use.
    """
    suffix = PurePath(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise DocumentRejected(f"{name}: {suffix or 'files without a suffix'} not accepted; use one of {', '.join(SUFFIXES)}")
    _check_size(data, name)  # before any reader: binary formats are not decoded
    if suffix == ".pdf":
        from .pdf import read_pdf

        return read_pdf(data, name)
    if suffix == ".docx":
        from .docx import read_docx

        return read_docx(data, name)
    text = decode(data, name)
    if suffix in (".html", ".htm"):
        from .html import read_html

        return read_html(text, name)
    if suffix in (".md", ".markdown"):
        from .markdown import read_markdown

        return read_markdown(text)
    from .subtitles import looks_like_subtitles, read_subtitles

    if suffix in (".srt", ".vtt") or looks_like_subtitles(text):
        return read_subtitles(text)
    from .pages import read_pages, split_pages
    from .text import read_text

    pages = split_pages(text)
    return read_pages(pages, "text") if pages else read_text(text)
