"""PDF: the text of each page with pypdf, page spans kept (running lines: :mod:`.pages`)."""

from __future__ import annotations

import io
import logging
import unicodedata

from ..errors import DocumentRejected
from .blocks import Extracted
from .pages import read_pages

# Typeset ligatures ("ﬁ", "ﬂ", "ﬀ"): a reader types "fi", and "deﬁnition" would never match it.
_LIGATURES = {ord(c): unicodedata.normalize("NFKC", c) for c in "\ufb00\ufb01\ufb02\ufb03\ufb04\ufb05\ufb06"}


def read_pdf(data: bytes, name: str) -> Extracted:
    """Extract a PDF's text page by page; :func:`read_pages` sets its running lines aside.

    Raises:
        DocumentRejected: The file is not a readable PDF, is encrypted, or has no text layer.
    """
    import pypdf

    # pypdf logs what it repairs or gives up on ("invalid pdf header", "EOF marker not found")
    # as warnings, which reach stderr beside our one-line error; the error says it all.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DocumentRejected(f"{name}: the PDF is encrypted; save an unprotected copy and add that")
        pages = [(page.extract_text() or "").replace("\x00", "").translate(_LIGATURES) for page in reader.pages]
    except DocumentRejected:
        raise
    except Exception as exc:  # pypdf raises many types for damaged files
        raise DocumentRejected(f"{name}: not a readable PDF ({exc.__class__.__name__}); re-save or export it again") from None
    if not any(p.strip() for p in pages):
        raise DocumentRejected(f"{name}: the PDF has no text layer (a scan?); run OCR on it first")
    return read_pages(pages, "pdf")
