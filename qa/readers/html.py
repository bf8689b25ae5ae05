"""HTML pages: the main content extracted by trafilatura, as Markdown, then read as Markdown.

The extractor, not a word list, decides what is navigation, sidebar or
footer. Its Markdown output keeps headings, lists and tables, so the same
structure rules apply as for ``.md`` files; offsets refer to that output,
which the index keeps.
"""

from __future__ import annotations

import re

from ..errors import DocumentRejected
from .blocks import Extracted
from .labels import MARKDOWN_IMAGE
from .markdown import read_markdown


def read_html(html: str, name: str) -> Extracted:
    """Extract the main content of an HTML page.

    Raises:
        DocumentRejected: The page has no extractable text.
    """
    import trafilatura

    # "Posted by Ann Lee<span>March 3, 2024</span>": the page's style sheet spaces them, and the
    # extractor, which has no style sheet, joined the words ("Ann LeeMarch"). Between a lower-case
    # letter or a digit and a capital, an inline element's edge is a word's edge.
    html = _JOINED_AT_TAGS.sub(r"\1 ", html)
    html = _unwrap_layout_tables(html)
    text = trafilatura.extract(
        # Images on: trafilatura leaves out a <figure> whole without them, and static-site
        # generators (Jekyll's highlighter) wrap every code block in one; the images themselves
        # become their alt text below.
        html, output_format="markdown", include_tables=True, include_links=False, include_images=True,
        include_comments=False, include_formatting=True, favor_recall=True, with_metadata=False,
        deduplicate=False,
    )
    if not text or not text.strip():
        raise DocumentRejected(f"{name}: no readable text was found in this HTML page")
    meta = trafilatura.extract_metadata(html)
    title = (meta.title or "").strip() or None if meta is not None else None
    # The Markdown output escapes every underscore ("SIDE\_MODULE"); inside a word it cannot
    # start emphasis, and the escape would hide the identifier from readers and from search.
    text = _INTRAWORD_UNDERSCORE.sub("_", text.strip()) + "\n"
    # Inline marks inside a line ("shipped over **eight million** units", "a validated
    # `Pipfile.lock`") are the page's styling, not its words: a reader of the page never sees
    # them, and they split a phrase that a user quotes. Marks that open a line stay: they make
    # "**Q:**" a label and a bold line a FAQ question. Of an image ("![chained mempool
    # transactions](/images/x.png)") a reader has its alt text; one without any leaves nothing.
    text = _strip_inline_marks(text)
    # The extractor leaves out the article's byline and date ("Posted by ...", "Published
    # <time>"): put those lines, as the page writes them, above the text, so that "who
    # wrote it" and "when was it published" can be answered.
    lines = [s for s in byline_lines(html) if s not in text]
    if lines:
        text = "\n\n".join(lines) + "\n\n" + text
    return read_markdown(text, fmt="html", title=title)


_JOINED_AT_TAGS = re.compile(r"(?<=[a-z0-9])((?:</?(?:span|time|a|cite|label)\b[^>]*>)+)(?=[A-Z])")
_INTRAWORD_UNDERSCORE = re.compile(r"(?<=\w)\\_(?=\w)")
# The extractor keeps <sub> and <sup> as tags. A subscript is part of its word ("H<sub>2</sub>O");
# a superscript after a short symbol or a number is an exponent ("mc<sup>2</sup>", "10<sup>8</sup>"),
# and after a longer word or a full stop it marks a note ("shown<sup>3</sup>", "second.<sup>1</sup>").
_SUB = re.compile(r"<sub>([^<>\n]{0,40})</sub>", re.IGNORECASE)
_SUP = re.compile(r"<sup>([^<>\n]{0,40})</sup>", re.IGNORECASE)
_EXPONENT_BASE = re.compile(r"(?:\b[^\W\d_]{1,2}|[\d)])$")


def _superscript(m: re.Match) -> str:
    inner = m.group(1).strip()
    if not inner:
        return ""
    if not any(c.isalnum() for c in inner) or inner.startswith("["):
        return inner  # a mark ("ebb<sup>℠</sup>", "<sup>†</sup>") or a note already in brackets
    return f"^{inner}" if _EXPONENT_BASE.search(m.string, 0, m.start()) else f"[{inner}]"
_ESCAPED = re.compile(r"\\([\[\]()*_`])")
# trafilatura writes bold as **x**, italics as *x* and code as `x` (its underscores are escaped).
# Spans are matched from the left, so that each mark pairs with its own closing mark.
_INLINE_EMPHASIS = re.compile(r"(?<![\w*\\])(\*\*|\*)(?=[^\s*])(.*?[^\s*\\])\1(?![\w*])")
_INLINE_CODE = re.compile(r"(?<!`)`([^`]+)`(?!`)")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _unmark(m: re.Match) -> str:
    return m.group(0) if m.start() == 0 else m.group(m.lastindex)


def _strip_inline_marks(text: str) -> str:
    """``text`` without inline code marks, emphasis marks that open inside a line, images
    (their alt text stays) and sub- and superscript tags, outside code blocks."""
    out, fenced = [], False
    for line in text.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            if MARKDOWN_IMAGE.search(line):
                line = MARKDOWN_IMAGE.sub(lambda m: _ESCAPED.sub(r"\1", m.group(1)).strip(), line)
                line = line if line.strip() else ""  # a line that held only an image
            line = _SUP.sub(_superscript, _SUB.sub(r"\1", line))
            line = _INLINE_CODE.sub(r"\1", line)  # a code span never makes a label
            line = _INLINE_EMPHASIS.sub(_unmark, _INLINE_EMPHASIS.sub(_unmark, line))  # twice: nested marks
        out.append(line)
    return "\n".join(out)


_BLOCK_TAGS = frozenset("p div li header footer section article aside address td dd".split())
_DATED = frozenset({"author", "datepublished", "datemodified", "datecreated"})
_COMMENTS = re.compile(r"comment|respon|reply|discuss", re.IGNORECASE)


def byline_lines(html: str, limit: int = 3) -> list[str]:
    """The page's own byline and date lines, outside readers' comments, in page order.

    A line is the text of the block element around a ``<time>``, an author or
    date ``itemprop``, a ``rel="author"`` link or a "byline" class, or a short
    block that reads as a byline ("Posted by ...", "By ... on ..."). Lines over
    160 characters are text, not bylines.

    Args:
        html: The page.
        limit: At most this many lines (the article's own come first).

    Returns:
        The lines, whitespace collapsed, without duplicates.
    """
    from .structure import is_byline

    root = _parse(html)
    if root is None:
        return []
    found: list[str] = []

    def in_comments(el) -> bool:
        return any(_COMMENTS.search(f"{a.get('id', '')} {a.get('class', '')}") for a in el.iterancestors())

    for el in root.iter():
        if not isinstance(el.tag, str) or len(found) >= limit:
            continue
        marked = (el.tag == "time" or (el.get("itemprop") or "").lower() in _DATED
                  or (el.get("rel") or "").lower() == "author" or "byline" in (el.get("class") or "").lower())
        block = el
        if marked:
            while block.tag not in _BLOCK_TAGS and block.getparent() is not None:
                block = block.getparent()
        elif el.tag not in _BLOCK_TAGS or any(isinstance(c.tag, str) and c.tag in _BLOCK_TAGS for c in el):
            continue
        line = " ".join(block.text_content().split())
        if not line or len(line) > 160 or line in found or in_comments(block):
            continue
        if marked or is_byline(line):
            found.append(line)
    return found


_CELL_BLOCKS = ("p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "blockquote", "pre", "table")


def _is_layout(table) -> bool:
    """Whether a ``<table>`` lays out the page rather than holding data.

    Much as Readability (Mozilla) tells them apart: a data table has header cells or a
    caption of its own; a layout table says it is presentation, holds another table, holds
    paragraphs, headings or lists in its cells, or is a single row or column.
    """
    if (table.get("role") or "").lower() in ("presentation", "none"):
        return True

    def own(tag: str) -> list:  # this table's elements, not those of a table inside it
        return [el for el in table.iter(tag) if next(el.iterancestors("table"), None) is table]

    if own("th") or own("caption") or own("thead"):
        return False
    if table.find(".//table") is not None:
        return True
    rows = own("tr")
    cells = [c for tr in rows for c in tr if isinstance(c.tag, str) and c.tag in ("td", "th")]
    if any(c.find(f".//{tag}") is not None for c in cells for tag in _CELL_BLOCKS):
        return True
    return len(rows) == 1 or all(len([c for c in tr if isinstance(c.tag, str) and c.tag == "td"]) == 1 for tr in rows)


def _unwrap_layout_tables(html: str) -> str:
    """The page with its layout tables made into plain ``<div>`` boxes, and otherwise as it was.

    Old sites lay a whole page out in a table (menu in one cell, article in the next); the
    extractor then reads the page as one table row, menu and article together, and loses the
    data tables inside it.
    """
    if "<table" not in html.lower():
        return html
    root = _parse(html)
    if root is None:
        return html
    layout = [t for t in root.iter("table") if _is_layout(t)]
    if not layout:
        return html
    from lxml import html as lxml_html

    # Each table's own rows and cells (not those of a data table inside it), all found before any is renamed.
    boxes = [el for table in layout for el in (table, *table.iter("tbody", "thead", "tfoot", "tr", "td", "th"))
             if el is table or next(el.iterancestors("table"), None) is table]
    for el in boxes:
        el.tag = "div"
    return lxml_html.tostring(root, encoding="unicode")


_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def _parse(html: str):
    """The page's element tree, or None when lxml cannot read it.

    An XHTML page's ``<?xml ... encoding="UTF-8"?>`` line is dropped first: the text is
    already decoded, and lxml refuses a decoded string that declares an encoding.
    """
    from lxml import etree
    from lxml import html as lxml_html

    try:
        return lxml_html.fromstring(_XML_DECLARATION.sub("", html, count=1))
    except (etree.ParserError, ValueError):
        return None
