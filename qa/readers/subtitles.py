"""Subtitles (SubRip ``.srt`` and WebVTT ``.vtt``): timed cues into timed paragraphs.

A subtitle file is a transcript cut into cues of one or two short lines, each
under a cue number and a timing line ("00:01:02,000 --> 00:01:05,500"). Read
as plain text, the timing lines break every sentence in two and the cues look
like a list of headlines with times, which is how page chrome looks. So the
cues are joined back into the text that was spoken, one paragraph per speaker
turn or pause, each opened by its start time: "[00:01:02] Jane: ...". That
text is what passages quote, and the time tells the user where to look in the
recording. Captions saved from video sites repeat each line in the next cue
(rolling captions); a line is kept once.
"""

from __future__ import annotations

import html
import re

from .blocks import Block, Extracted
from .labels import find_label
from .structure import paragraph_block, settle_dialogue

_TIME = r"(?:(\d{1,4}):)?(\d{1,2}):(\d{2})[.,](\d{1,3})"
# "00:01:02,000 --> 00:01:05,500", WebVTT's "01:02.000 --> 01:05.500 align:start", and "-->"
# without spaces around it (players accept it).
_TIMING = re.compile(rf"^[ \t]*{_TIME}[ \t]*-->[ \t]*{_TIME}(?:[ \t].*)?$")
_VOICE = re.compile(r"<v(?:\.[\w.-]{1,40})?[ \t]+([^<>\n]{1,60})>")
# The markup of cues: <i>, <c.x>, <v Name>, <lang en>, <font color=...>, <00:00:01.500> and {\an8},
# each bounded in length (a long line of "<b" must not be rescanned at every "<"). Other angle
# brackets are words ("<ann@example.org>", "x <b and y> c").
_TAG = re.compile(r"</?(?:[biu]|c|ruby|rt|span)(?:\.[\w.-]{1,40})?>|</?(?:v|lang|font)(?:[.\s][^<>\n]{0,60})?>"
                  r"|<\d[\d:.]{0,12}>|\{\\[^{}\n]{0,40}\}")
# "[Music]", "(applause)", "♪": sounds, not words.
_SOUND = re.compile(r"^(?:[\[(][^\])\n]{1,40}[\])]|[♪♫#\s]+)$")
_SENTENCE_END = (".", "!", "?", "…", '"', "”", "'", "’")
# The first line of a WebVTT file: "WEBVTT", perhaps with a title after a space or a tab.
_WEBVTT = re.compile(r"WEBVTT(?=[ \t]|$)")

# A paragraph ends at a pause this long (seconds) after a sentence, at a new speaker, or
# past these sizes (characters): about one passage of spoken text (see qa/chunking.py).
PAUSE_SECONDS = 3.0
SOFT_CHARS = 600
HARD_CHARS = 1200


def _seconds(groups: tuple[str | None, ...]) -> float:
    h, m, s, ms = groups
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def looks_like_subtitles(text: str) -> bool:
    """Whether a text file is subtitles: it opens with ``WEBVTT``, or with a cue (an optional
    cue number, then a timing line), and holds two timing lines at least. A text that only
    quotes a cue further down stays text."""
    head = [ln.strip() for ln in text.lstrip("\ufeff").splitlines()[:6] if ln.strip()]
    if not head:
        return False
    opens = _WEBVTT.match(head[0]) or bool(_TIMING.match(head[0])) or (
        head[0].isdigit() and len(head) > 1 and bool(_TIMING.match(head[1])))
    if not opens:
        return False
    timings = 0
    for line in text.splitlines():
        if _TIMING.match(line):
            timings += 1
            if timings >= 2:
                return True
    return False


def _cues(text: str) -> tuple[list[tuple[float, float, list[str]]], str | None]:
    """``(start, end, lines)`` of every cue, in order, and the title a WebVTT header gives
    ("" for a header without one, None for a file without a header).

    Text after a blank line inside a cue (no timing line above it) is kept with the cue
    before it: a hand-edited file does that, and the words were said. A cue's number, the
    WebVTT header and its NOTE, STYLE and REGION blocks are not text.
    """
    lines = text.lstrip("\ufeff").splitlines()
    webvtt = bool(lines and _WEBVTT.match(lines[0]))
    title = lines[0][6:].strip(" \t-") if webvtt else None
    cues: list[tuple[float, float, list[str]]] = []
    cur: list[str] | None = None
    pending: list[str] = []  # a block not (yet) under a timing line

    def settle() -> None:
        if not pending:
            return
        first = pending[0].strip()
        # Only WebVTT has such blocks, each keyword alone or followed by a space (the spec): in a
        # SubRip file, or as "NOTEWORTHY", the block is words that were said.
        block = webvtt and bool(first) and first.split(None, 1)[0] in ("WEBVTT", "NOTE", "STYLE", "REGION")
        if not (block or (len(pending) == 1 and first.isdigit())):
            if not cues:
                cues.append((0.0, 0.0, []))
            cues[-1][2].extend(pending)
        pending.clear()

    for line in lines:
        m = _TIMING.match(line)
        if m:
            if pending:
                pending.pop()  # the cue's number or identifier: the line right above its timing
                settle()
            if cur and cur[-1].strip().isdigit():
                cur.pop()  # the next cue's number, when no blank line came before it
            g = m.groups()
            cur = []
            cues.append((_seconds(g[:4]), _seconds(g[4:]), cur))
        elif not line.strip():
            # A cue ends at a blank line. Captions saved from video sites open a cue with a
            # line of one space: that line is not its end.
            if not (cur is not None and not cur and line):
                cur = None
                settle()
        elif cur is not None:
            cur.append(line)
        else:
            pending.append(line)
    settle()
    return cues, title


def _clean(line: str) -> tuple[str | None, str, bool]:
    """A cue line's speaker (from a WebVTT voice tag), its words without markup, and whether a
    dash opened it (the mark of a change of speaker inside one cue)."""
    voice = _VOICE.search(line)
    words = html.unescape(_TAG.sub("", line)).replace("\u00a0", " ")
    words = " ".join(words.split())
    dashed = words[:2] in ("- ", "– ", "— ")
    if dashed:
        words = words[2:].lstrip()
    return (voice.group(1).strip() if voice else None), words, dashed


def read_subtitles(text: str) -> Extracted:
    """Read subtitles into timed paragraphs (see the module's docstring).

    Args:
        text: The decoded file.

    Returns:
        The :class:`Extracted` text (the paragraphs, not the file: offsets refer to it) and
        its blocks. A file with no cue is read as plain text.
    """
    cues, title = _cues(text)
    if not cues:
        if title is not None:
            return Extracted("", (), title=title or None, format="subtitles")  # a header and no cue: nothing said
        from .text import read_text

        return read_text(text)
    paras: list[dict] = []
    previous: set[str] = set()  # the lines of the cue before
    last_end = 0.0
    for start, end, lines in cues:
        said: set[str] = set()
        voice = None
        filled = [n for n, line in enumerate(lines) if line.strip()]
        first, several = (filled[0] if filled else 0), len(filled) > 1
        for n, line in enumerate(lines):
            tag, words, dashed = _clean(line)
            # "<v Ann>" on a line of its own names the lines below it, until a dash hands over.
            voice = tag or (None if dashed else voice)
            if not words or _SOUND.match(words):
                continue
            said.add(words)
            # Rolling captions open each cue with the line the cue before ended on (and repeat it alone
            # in a cue of a few milliseconds): kept once. "Yes." said again in a cue of its own is kept.
            if words in previous and n == first and (several or end - start < 0.5):
                continue
            cur = paras[-1] if paras else None
            size = sum(len(w) + 1 for w in cur["words"]) if cur else 0
            closed = bool(cur) and cur["words"][-1].endswith(_SENTENCE_END)
            label = find_label(words)
            if (cur is None or (voice and voice != cur["voice"]) or label is not None or size >= HARD_CHARS
                    or dashed or (closed and (size >= SOFT_CHARS or start - last_end >= PAUSE_SECONDS))):
                # A paragraph that only breaks a long turn goes on with its speaker; after a dash
                # someone else speaks, unnamed unless a voice tag names them.
                who = voice or (cur["voice"] if cur and label is None and not dashed else None)
                cur = {"start": start, "voice": who, "words": []}
                paras.append(cur)
            cur["words"].append(words)
        previous = said
        last_end = max(last_end, end)
    out, spans = [], []
    pos = 0
    for p in paras:
        clock = f"[{_clock(p['start'])}] "
        head = clock + (f"{p['voice']}: " if p["voice"] else "")
        body = " ".join(p["words"])
        spans.append((pos, pos + len(head) + len(body), pos + len(clock)))
        out.append(head + body)
        pos += len(head) + len(body) + 2
    extracted = "\n\n".join(out)
    blocks = settle_dialogue([paragraph_block(extracted, s, e, headings=False) for s, e, _ in spans],
                             extracted, infer_headings=False)
    # The time is not part of a sentence (nor is a label that settle_dialogue did not keep).
    blocks = [Block("paragraph", b.start, b.end, body_start=after_clock) if b.kind == "paragraph" else b
              for b, (_, _, after_clock) in zip(blocks, spans)]
    return Extracted(extracted, tuple(blocks), title=title or None, format="subtitles")
