"""Measuring answer quality on a file of questions with known answers."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import BadQuestion, QAError
from .search import Retriever, clean_question


@dataclass(frozen=True)
class Miss:
    question: str
    rank: int | None  # 1-based rank of the first correct passage within k, or None
    top_text: str


@dataclass(frozen=True)
class EvalReport:
    """Retrieval quality on one questions file (and optionally an off-topic file).

    Attributes:
        questions: How many questions were asked.
        hit_at_1: Share whose first passage contains an expected string.
        hit_at_3: Share with a correct passage among the first three.
        mrr_at_5: Mean reciprocal rank of the first correct passage, within five.
        answered: Share for which ``answer()`` did not abstain.
        off_topic: How many off-topic questions were asked.
        abstained: Share of off-topic questions for which ``answer()`` abstained.
        misses: Questions whose first passage was wrong.
    """

    questions: int
    hit_at_1: float
    hit_at_3: float
    mrr_at_5: float
    answered: float
    off_topic: int = 0
    abstained: float | None = None
    misses: tuple[Miss, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "misses"}
        d["misses"] = [m.__dict__ for m in self.misses]
        return d


def read_jsonl(path: str | os.PathLike[str], *, answers: bool = False) -> list[dict[str, Any]]:
    """Read a questions file; each line a JSON object with a ``question`` that can be asked.

    Args:
        path: The JSONL file.
        answers: Also require ``answer_contains``: a list of non-empty strings (one string
            is taken as a list of one). Scoring a string as a list would test it one
            character at a time and count nearly every passage as right.

    Returns:
        The rows, in file order.

    Raises:
        QAError: The file cannot be read, or a line is not such an object (the message
            gives its line number): a question that :func:`qa.search.clean_question` refuses
            is one.
    """
    rows = []
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise QAError(f"cannot read {path}: {exc.__class__.__name__}; give a UTF-8 JSONL file") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if not isinstance(row, dict) or "question" not in row:
            raise QAError(f"{path}:{n}: expected a JSON object with a \"question\" field")
        try:
            # Here, not after the searches of every line before it: text, not empty, not too long.
            clean_question(row["question"])
        except BadQuestion as exc:
            raise QAError(f"{path}:{n}: {exc}") from None
        if answers:
            expected = row.get("answer_contains")
            if isinstance(expected, str):
                expected = [expected]
            if (not isinstance(expected, list) or not expected
                    or not all(isinstance(e, str) and e.strip() for e in expected)):
                raise QAError(f"{path}:{n}: \"answer_contains\" must list the strings a right passage "
                              f"holds, as in {{\"question\": \"...\", \"answer_contains\": [\"...\"]}}")
            row["answer_contains"] = expected
        rows.append(row)
    return rows


def evaluate(
    retriever: Retriever,
    questions: str | os.PathLike[str],
    off_topic: str | os.PathLike[str] | None = None,
) -> EvalReport:
    """Ask every question and score the passages against ``answer_contains``.

    Args:
        retriever: A loaded retriever.
        questions: JSONL with ``question`` and ``answer_contains`` (a list of strings;
            a passage containing any of them is correct).
        off_topic: Optional JSONL of questions the corpus cannot answer.

    Returns:
        An :class:`EvalReport`.
    """
    rows = read_jsonl(questions, answers=True)
    if not rows:
        raise QAError(f"{questions} has no questions")
    h1 = h3 = answered = 0
    rr = 0.0
    misses = []
    for row in rows:
        expected = row["answer_contains"]
        hits = retriever.search(row["question"], k=5)
        ranks = [i for i, h in enumerate(hits, 1) if any(s in h.text for s in expected)]
        first = ranks[0] if ranks else None
        h1 += first == 1
        h3 += first is not None and first <= 3
        rr += 1.0 / first if first else 0.0
        answered += retriever.answer(row["question"]).found
        if first != 1:
            misses.append(Miss(row["question"], first, hits[0].text[:120] if hits else ""))
    n = len(rows)
    report = EvalReport(n, h1 / n, h3 / n, rr / n, answered / n, misses=tuple(misses))
    if off_topic:
        off = read_jsonl(off_topic)
        abstained = sum(not retriever.answer(r["question"]).found for r in off)
        report = EvalReport(**{**report.__dict__, "off_topic": len(off),
                               "abstained": abstained / len(off) if off else None})
    return report
