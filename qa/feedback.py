"""Votes on answers: an append-only log, its summary, and a questions file made from it.

Each 👍/👎 in the chat appends one JSON line to ``index/feedback.jsonl`` (the
folder survives rebuilds: only ``gen-*`` folders are replaced). The question,
the passages shown (source and offsets) and the index generation are kept, so
that a vote can be checked against exactly what the user saw.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import QAError

FEEDBACK_FILE = "feedback.jsonl"
_lock = threading.Lock()


@dataclass(frozen=True)
class Shown:
    """One passage shown with an answer: where it is, and the sentence that led."""

    source: str
    start: int
    end: int
    answer_start: int
    answer_end: int
    answer_sentence: str


@dataclass(frozen=True)
class Vote:
    """One vote on one answer.

    Attributes:
        vote: ``"up"`` or ``"down"``.
        question: As typed.
        searched: As searched (after resolving a follow-up).
        tier: The answer's tier when it was shown.
        generation: The index generation that answered.
        hits: The passages shown, best first.
        time: Seconds since the epoch (UTC).
    """

    vote: str
    question: str
    searched: str
    tier: str
    generation: str
    hits: tuple[Shown, ...] = field(default=())
    time: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["time_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.time))
        return d


def record(path: str | os.PathLike[str], vote: Vote) -> None:
    """Append ``vote`` to the log at ``path`` (one line, written whole)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(vote.to_dict(), ensure_ascii=False) + "\n"
    with _lock, open(p, "a", encoding="utf-8") as fh:
        fh.write(line)


def read(path: str | os.PathLike[str]) -> list[Vote]:
    """Read a votes log; unreadable lines are skipped (a crash can leave half a line).

    Raises:
        QAError: The file cannot be read.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise QAError(f"no feedback at {path}: votes are written there when users click 👍/👎 in the chat") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QAError(f"cannot read {path}: {exc.__class__.__name__}") from None
    votes = []
    for line in lines:
        try:
            d = json.loads(line)
            hits = tuple(Shown(**h) for h in d.get("hits", []))
            votes.append(Vote(d["vote"], d["question"], d.get("searched", d["question"]), d.get("tier", ""),
                              d.get("generation", ""), hits, float(d.get("time", 0.0))))
        except (ValueError, KeyError, TypeError):
            continue
    return votes


@dataclass(frozen=True)
class FeedbackSummary:
    """Counts over a votes log.

    Attributes:
        votes: All votes.
        up: 👍 votes.
        down: 👎 votes.
        by_tier: ``{tier: (up, down)}``.
        down_questions: Questions voted down, most often first (what to fix).
    """

    votes: int
    up: int
    down: int
    by_tier: dict[str, tuple[int, int]]
    down_questions: tuple[tuple[str, int], ...]


def summarize(votes: list[Vote]) -> FeedbackSummary:
    """Count votes overall, per tier, and the questions most often voted down."""
    up = sum(v.vote == "up" for v in votes)
    tiers: dict[str, list[int]] = {}
    for v in votes:
        tiers.setdefault(v.tier or "?", [0, 0])[0 if v.vote == "up" else 1] += 1
    down = Counter(v.searched for v in votes if v.vote != "up")
    return FeedbackSummary(len(votes), up, len(votes) - up, {k: (a, b) for k, (a, b) in tiers.items()},
                           tuple(down.most_common()))


def to_questions(votes: list[Vote]) -> list[dict[str, Any]]:
    """A questions file for ``qa eval`` from the answers users confirmed (👍).

    The sentence that led a confirmed answer is its expected answer; a later
    vote on the same question replaces an earlier one, and a 👎 withdraws it.
    """
    latest: dict[str, Vote] = {}
    for v in votes:
        latest[v.searched] = v
    return [{"question": q, "answer_contains": [v.hits[0].answer_sentence]}
            for q, v in latest.items() if v.vote == "up" and v.hits and v.hits[0].answer_sentence]
