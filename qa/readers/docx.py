"""DOCX: paragraphs and tables in document order with python-docx; headings from the styles."""

from __future__ import annotations

import io
import re

from lxml import etree  # python-docx's own XML library

from ..errors import DocumentRejected
from .blocks import Block, Extracted
from .structure import paragraph_block, settle_dialogue

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_P = _W + "p"
_SKIPPED = {"{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback", _W + "del", _W + "moveFrom"}


def _paragraph_text(p) -> str:
    """A paragraph's text as Word shows it: tracked insertions and moves, content controls and
    hyperlinks included (python-docx's ``Paragraph.text`` reads only the paragraph's own runs);
    deleted and moved-away text left out; a drawing's text box read once (not once more from its
    fallback copy for old readers), each of its paragraphs on a line of its own."""
    out = []
    for el in p.iter(_P, _W + "t", _W + "tab", _W + "br", _W + "cr"):
        if any(a.tag in _SKIPPED for a in el.iterancestors()):
            continue
        tag = el.tag[len(_W):]
        if tag == "p":
            if el is not p and out:
                out.append("\n")
        else:
            out.append(el.text or "" if tag == "t" else "\t" if tag == "tab" else "\n")
    return "".join(out)


def _wrapped(el, name: str):
    """The ``w:<name>`` children of ``el``, also those wrapped in content controls (``w:sdt``)."""
    for child in el.iterchildren():
        tag = child.tag[len(_W):] if child.tag.startswith(_W) else ""
        if tag == name:
            yield child
        elif tag in ("sdt", "sdtContent", "customXml"):
            yield from _wrapped(child, name)


def _top_paragraphs(el):
    """The paragraphs under ``el`` that are not inside another paragraph (a text box's are)."""
    return [q for q in el.iter(_P) if not any(a.tag == _P for a in q.iterancestors() if a is not el)]


def read_docx(data: bytes, name: str) -> Extracted:
    """Read a Word document. The extracted text has one paragraph per line pair.

    Raises:
        DocumentRejected: The file is not a readable DOCX.
    """
    try:
        import docx
        from docx.text.paragraph import Paragraph

        document = docx.Document(io.BytesIO(data))
        items = []

        def walk(parent) -> None:
            for child in parent.iterchildren():
                tag = child.tag.rsplit("}", 1)[-1]
                if tag == "p":
                    p = Paragraph(child, document)
                    items.append(("p", (p.style.name if p.style is not None else "") or "", _paragraph_text(child)))
                elif tag == "tbl":
                    # Rows and cells from the XML: python-docx's ``row.cells`` skips a cell wrapped in a
                    # content control, and repeats a merged cell in every column it spans (a merged
                    # cell is read once here; neighbours that only say the same, "Pass | Pass", are two).
                    # A cell merged down over rows gives each of them its text, as it does on the page.
                    above: dict[int, str] = {}
                    for tr in _wrapped(child, "tr"):
                        cells, col = [], 0
                        for tc in _wrapped(tr, "tc"):
                            pr = tc.find(_W + "tcPr")
                            merge = pr.find(_W + "vMerge") if pr is not None else None
                            span = pr.find(_W + "gridSpan") if pr is not None else None
                            if merge is not None and merge.get(_W + "val", "continue") != "restart":
                                cell = above.get(col, "")
                            else:
                                cell = " ".join(_paragraph_text(q) for q in _top_paragraphs(tc)).strip()
                            above[col] = cell
                            cells.append(cell)
                            col += int(span.get(_W + "val", "1")) if span is not None else 1
                        items.append(("row", "", " | ".join(cells)))
                elif tag in ("sdt", "sdtContent", "customXml", "ins", "moveTo"):
                    walk(child)  # content controls and tracked insertions hold ordinary paragraphs

        walk(document.element.body)
        # Footnotes and endnotes live in parts of their own; they are the author's text, read after
        # the body (their separators, ids -1 and 0, are layout).
        for rel in document.part.rels.values():
            if rel.reltype.rsplit("/", 1)[-1] in ("footnotes", "endnotes") and not rel.is_external:
                root = etree.fromstring(rel.target_part.blob)
                for note in root:
                    if note.get(_W + "type") in (None, "normal"):
                        for q in _top_paragraphs(note):
                            items.append(("p", "", _paragraph_text(q)))
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
    # Headings come from the styles: a label set aside as no speaker is not read again as one.
    return Extracted(text, tuple(settle_dialogue(blocks, text, infer_headings=False)), title=title, format="docx")
