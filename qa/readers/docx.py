"""DOCX: paragraphs and tables in document order with python-docx; headings from the styles."""

from __future__ import annotations

import io
import re

from ..errors import DocumentRejected
from .blocks import Block, Extracted
from .structure import paragraph_block, settle_dialogue

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)


def read_docx(data: bytes, name: str) -> Extracted:
    """Read a Word document. The extracted text has one paragraph per line pair.

    Raises:
        DocumentRejected: The file is not a readable DOCX.
    """
    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        document = docx.Document(io.BytesIO(data))
        items = []
        for child in document.element.body.iterchildren():
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "p":
                p = Paragraph(child, document)
                items.append(("p", (p.style.name if p.style is not None else "") or "", p.text))
            elif tag == "tbl":
                for row in Table(child, document).rows:
                    cells = list(dict.fromkeys(c.text.strip() for c in row.cells))  # merged cells repeat
                    items.append(("row", "", " | ".join(cells)))
        title_prop = (document.core_properties.title or "").strip() or None
    except Exception as exc:  # python-docx raises zipfile, lxml and KeyError alike for broken files
        raise DocumentRejected(f"{name}: not a readable DOCX ({exc.__class__.__name__}); re-save it from Word") from None
    parts: list[str] = []
    blocks: list[Block] = []
    pos, title = 0, None
    for kind, style, raw in items:
        para = " ".join(raw.split()) if kind == "row" else raw.strip()
        if not para:
            continue
        if parts:
            parts.append("\n\n")
            pos += 2
        start, end = pos, pos + len(para)
        parts.append(para)
        pos = end
        text_so_far = "".join(parts)
        if kind == "row":
            blocks.append(Block("table_row", start, end))
        elif style.lower() == "title":
            blocks.append(Block("heading", start, end, level=1))
            title = title or para
        elif m := _HEADING_STYLE.match(style):
            blocks.append(Block("heading", start, end, level=int(m.group(1)) + (1 if title else 0)))
        elif style.lower().startswith("list"):
            blocks.append(Block("list_item", start, end, body_start=start))
        else:
            b = paragraph_block(text_so_far, start, end)
            blocks.append(Block("paragraph", start, end) if b.kind == "heading" else b)
    text = "".join(parts)
    if not text.strip():
        raise DocumentRejected(f"{name}: the document has no text")
    title = title or title_prop or next(
        (" ".join(text[b.start:b.end].split()) for b in blocks if b.kind == "heading"), None)
    return Extracted(text, tuple(settle_dialogue(blocks, text)), title=title, format="docx")
