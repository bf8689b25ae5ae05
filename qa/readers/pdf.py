"""PDF: the text of each page with pypdf, page spans kept, running headers and footers set aside."""

from __future__ import annotations

import io
import re
from collections import Counter

from ..errors import DocumentRejected
from .blocks import Block, Extracted
from .text import _lines, read_text

_DIGITS = re.compile(r"\d+")


def read_pdf(data: bytes, name: str) -> Extracted:
    """Extract a PDF's text page by page.

    A line that recurs on most pages once its numbers are ignored ("Report
    2024 - page 3") is a running header or footer, not content.

    Raises:
        DocumentRejected: The file is not a readable PDF, is encrypted, or has no text layer.
    """
    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DocumentRejected(f"{name}: the PDF is encrypted; save an unprotected copy and add that")
        pages = [(page.extract_text() or "") for page in reader.pages]
    except DocumentRejected:
        raise
    except Exception as exc:  # pypdf raises many types for damaged files
        raise DocumentRejected(f"{name}: not a readable PDF ({exc.__class__.__name__}); re-save or export it again") from None
    parts, spans, pos = [], [], 0
    for number, page_text in enumerate(pages, 1):
        page_text = page_text.replace("\x00", "").strip()
        if parts:
            parts.append("\n\n")
            pos += 2
        parts.append(page_text)
        spans.append((pos, pos + len(page_text), number))
        pos += len(page_text)
    text = "".join(parts)
    if not text.strip():
        raise DocumentRejected(f"{name}: the PDF has no text layer (a scan?); run OCR on it first")
    preset: dict[int, Block] = {}
    if len(pages) >= 3:
        seen: Counter[str] = Counter()
        lines = [(s, e) for s, e, _ in _lines(text) if e > s]
        for key in {(_DIGITS.sub("#", text[s:e]).strip(), page) for s, e in lines
                    for a, b, page in spans if a <= s < b}:
            seen[key[0]] += 1
        for s, e in lines:
            if seen[_DIGITS.sub("#", text[s:e]).strip()] >= max(3, len(pages) // 2) and len(text[s:e]) <= 120:
                preset[s] = Block("chrome", s, e, rule="running header or footer")
    return read_text(text, fmt="pdf", preset=preset, pages=tuple(spans))
