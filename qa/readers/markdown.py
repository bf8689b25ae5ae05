"""Markdown: parsed with markdown-it-py, whose block tokens carry the source lines they span.

Front matter becomes metadata (its ``title`` is the document's title) and
is not indexed. Link reference definitions (``[1]: https://...``) and HTML
comments (``<!--truncate-->``) are metadata too. Everything else keeps its
Markdown source, so offsets point into the file as written.
"""

from __future__ import annotations

import functools
import re

from .blocks import Block, Extracted
from .labels import BOLD_LINE, is_question, words
from .structure import faq_list_items, mark_chrome, paragraph_block, settle_dialogue
from .text import _lines

# MultiMarkdown / Pelican metadata: "Key: value" lines at the very top, then a blank line.
_KEY_VALUES = re.compile(r"\A(?:[A-Za-z][\w-]{0,30}:[ \t][^\n]*\n)+(?:\n|\Z)")
_HEADING_ID = re.compile(r"\s*(\{#[^}]*\}|#+)\s*$")  # "## Why? {#why}" and "# Title #"
# "**How do I write a CSI driver?**" alone on its line: a FAQ's question set in bold instead of a heading.
_BOLD_QUESTION = re.compile(r"(\*\*|__)(?![*_\s])[^\n]*?\?\1[ \t]*")
_TOC_ITEM = re.compile(r"^\s*([-*+]|\d{1,3}[.)])\s+\[[^\]\n]+\]\(#[^)\s]*\)\s*$")
_FRONT_MATTER = re.compile(r"\A(?:\ufeff)?---[ \t]*\r?\n(.*?\r?\n)?(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)


@functools.lru_cache(maxsize=1)
def _parser():
    from markdown_it import MarkdownIt
    from mdit_py_plugins.container import container_plugin

    # ":::note Title" ... ":::" (Docusaurus, VitePress and others): whatever the name, so that
    # the fence lines are not read as words of the paragraphs inside.
    return MarkdownIt("commonmark").enable("table").use(
        container_plugin, name="admonition", validate=lambda params, *args: True)


def front_matter(text: str) -> tuple[int, str | None]:
    """Length of a leading YAML front matter block (0 if none) and its ``title``."""
    m = _FRONT_MATTER.match(text)
    if not m:
        kv = _KEY_VALUES.match(text)
        if not kv:
            return 0, None
        fields = dict(line.split(":", 1) for line in kv.group().splitlines() if ":" in line)
        title = next((v.strip() for k, v in fields.items() if k.strip().lower() == "title"), None)
        return kv.end(), title or None
    title = None
    try:
        import yaml

        data = yaml.safe_load(m.group(1) or "")
        if isinstance(data, dict) and isinstance(data.get("title"), (str, int, float)):
            title = str(data["title"]).strip() or None
    except Exception:  # broken YAML: still metadata, just without a title
        pass
    return m.end(), title


# HTML tags, and the template tags of static-site generators (Jekyll's "{% include x.html %}",
# "{{ page.image }}", Hugo's "{{< figure >}}"), which a reader of the page never sees as words.
_MARKUP = re.compile(r"</?[a-zA-Z][^>]*>|\{%.*?%\}|\{\{.*?\}\}", re.DOTALL)


def _only_markup(src: str) -> bool:
    """Whether a block holds tags and template tags and nothing else (an image's empty alt included)."""
    return bool(_MARKUP.search(src)) and not _MARKUP.sub("", src).strip()


_BLANK_TO_A_READER = re.compile(r"^[^\S\n]*[^\S \t\n][^\S\n]*$", re.MULTILINE)


def read_markdown(text: str, *, fmt: str = "markdown", title: str | None = None) -> Extracted:
    """Read Markdown into blocks.

    Args:
        text: The Markdown source.
        fmt: Name of the format, for :attr:`Extracted.format`.
        title: A title known from elsewhere (an HTML page's ``<title>``).

    Returns:
        The :class:`Extracted` text (the source itself) with its blocks.
    """
    fm_end, fm_title = front_matter(text)
    lines = _lines(text)
    blocks: list[Block] = []
    if fm_end:
        blocks.append(Block("metadata", 0, fm_end, rule="front matter"))
    body = text[fm_end:]
    offset_line = text.count("\n", 0, fm_end)
    # A line of no-break spaces (pages converted to Markdown separate paragraphs with "&nbsp;") is
    # blank to a reader but not to CommonMark, which ran a whole transcript into one paragraph.
    # Spaces of the same length keep every line, and so every offset, where it is.
    tokens = _parser().parse(_BLANK_TO_A_READER.sub(lambda m: " " * len(m.group()), body))
    covered: set[int] = set()

    def span(first: int, last: int) -> tuple[int, int] | None:
        """Stripped offsets of source lines [first, last) (relative to the body)."""
        rows = [lines[i] for i in range(first + offset_line, min(last + offset_line, len(lines)))
                if lines[i][1] > lines[i][0]]
        covered.update(range(first + offset_line, last + offset_line))
        return (rows[0][0], rows[-1][1]) if rows else None

    depth = 0  # inside a list item or blockquote: paragraphs there belong to it
    for i, tok in enumerate(tokens):
        if tok.type in ("list_item_open", "blockquote_open"):
            depth += 1
            if tok.type == "list_item_open" and depth == 1 and tok.map and (sp := span(*tok.map)):
                item = text[sp[0]:sp[1]]
                if _TOC_ITEM.match(item):  # a link to a heading of this page: a table of contents
                    blocks.append(Block("metadata", sp[0], sp[1], rule="table of contents"))
                    continue
                b = paragraph_block(text, sp[0], sp[1])
                blocks.append(b if b.kind == "list_item" else Block(
                    "list_item", sp[0], sp[1], body_start=sp[0] + len(item) - len(item.lstrip("-*+0123456789.) "))))
            elif tok.type == "blockquote_open" and depth == 1 and tok.map and (sp := span(*tok.map)):
                # A quotation is content: one paragraph, its "> " marks left in the text as written.
                quote = text[sp[0]:sp[1]]
                blocks.append(Block("paragraph", sp[0], sp[1], body_start=sp[0] + len(quote) - len(quote.lstrip("> \t"))))
        elif tok.type in ("list_item_close", "blockquote_close"):
            depth -= 1
        elif depth:
            continue
        elif tok.type == "heading_open" and tok.map and (sp := span(*tok.map)):
            level = int(tok.tag[1])
            src = text[sp[0]:sp[1]]
            if src.startswith("#"):
                body_start = sp[0] + len(src) - len(src.lstrip("#").lstrip())
                end = sp[0] + len(_HEADING_ID.sub("", src)) if _HEADING_ID.search(src) else sp[1]
                if end < sp[1]:  # the {#anchor} or closing hashes: markup, not words
                    blocks.append(Block("heading", sp[0], end, body_start=body_start, level=level))
                    blocks.append(Block("metadata", end, sp[1], rule="heading id"))
                    continue
            else:  # a setext heading: the text line(s), then its === or --- underline
                rows = re.split(r"\r\n|\r|\n", src)
                under = sp[0] + len(src) - len(rows[-1].lstrip())
                end = sp[0] + len(src[: len(src) - len(rows[-1])].rstrip())
                if len(rows) > 2 or len(words(text[sp[0]:end])) > 20:
                    # A whole paragraph over a "---" is, for CommonMark, one heading; for its writer,
                    # text above a rule. Kept as text, so nothing in it is lost.
                    blocks.append(paragraph_block(text, sp[0], end, headings=False))
                    blocks.append(Block("metadata", under, sp[1], rule="horizontal rule"))
                    continue
                blocks.append(Block("heading", sp[0], end, body_start=sp[0], level=level))
                if under < sp[1]:
                    blocks.append(Block("metadata", under, sp[1], rule="heading underline"))
                continue
            blocks.append(Block("heading", sp[0], end, body_start=body_start, level=level))
        elif tok.type == "paragraph_open" and tok.map and (sp := span(*tok.map)):
            b = paragraph_block(text, sp[0], sp[1], headings=False)  # Markdown marks its headings
            if _only_markup(text[sp[0]:sp[1]]):
                b = Block("metadata", sp[0], sp[1], rule="HTML comment or tag")
            if b.kind == "paragraph" and BOLD_LINE.fullmatch(text, sp[0], sp[1]) and is_question(text[sp[0]:sp[1]]):
                # "**How do I write a driver?**" alone on its line: a FAQ's question set in bold, not a heading.
                b = Block("question", sp[0], sp[1], body_start=sp[0])  # the text below answers it
            blocks.append(b)
        elif tok.type == "tr_open" and tok.map and (sp := span(*tok.map)):
            blocks.append(Block("table_row", sp[0], sp[1]))
        elif tok.type == "thead_open" and tok.map:
            # The |---| rule under the header row: markdown-it has no token for it.
            rule_line = tok.map[1] + offset_line
            if rule_line < len(lines) and lines[rule_line][1] > lines[rule_line][0]:
                blocks.append(Block("metadata", lines[rule_line][0], lines[rule_line][1], rule="table rule"))
                covered.add(rule_line)
        elif tok.type in ("fence", "code_block") and tok.map and (sp := span(*tok.map)):
            blocks.append(Block("paragraph", sp[0], sp[1]))
        elif tok.type == "html_block" and tok.map and (sp := span(*tok.map)):
            src = text[sp[0]:sp[1]].strip()
            if src.startswith("<!--") or _only_markup(src):
                blocks.append(Block("metadata", sp[0], sp[1], rule="HTML comment or tag"))
            else:
                blocks.append(Block("paragraph", sp[0], sp[1]))
        elif tok.type == "container_admonition_open" and tok.map:
            first, last = tok.map  # the closing fence's line is the map's end (none at the end of the text)
            fences = [first] + ([last] if last + offset_line < len(lines)
                                and text[slice(*lines[last + offset_line][:2])].strip().startswith(":::") else [])
            for n in fences:
                if sp := span(n, n + 1):
                    blocks.append(Block("metadata", sp[0], sp[1], rule="admonition fence"))
        elif tok.type == "hr" and tok.map and (sp := span(*tok.map)):
            blocks.append(Block("metadata", sp[0], sp[1], rule="horizontal rule"))
        elif tok.type in ("table_open", "bullet_list_open", "ordered_list_open") and tok.map:
            pass
    # Lines no token covered are link reference definitions ("[1]: https://...").
    for n, (s, e, _ind) in enumerate(lines):
        if e > s and s >= fm_end and n not in covered:
            blocks.append(Block("metadata", s, e, rule="link reference"))
    blocks.sort(key=lambda b: b.start)
    blocks = mark_chrome(text, faq_list_items(text, settle_dialogue(blocks, text, infer_headings=False)),
                         authored=True)
    if title is None:
        title = fm_title
    if title is None:
        first = next((b for b in blocks if b.kind not in ("metadata", "chrome")), None)
        if first is not None and first.kind == "heading":
            title = " ".join(text[first.body:first.end].split()).strip("#*_ ") or None
    return Extracted(text, tuple(blocks), title=title, format=fmt)
