"""What the web app does, without the web: answering, editing the corpus, rebuilding.

The Gradio layer (:mod:`qa.web`) only wires these methods to components, so
everything here can be tested by calling it directly.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from . import corpus as corpus_mod
from .errors import BuildInProgress, QAError
from .indexing import BuildReport, build_index, is_stale
from .feedback import FEEDBACK_FILE, Shown, Vote
from .feedback import record as record_vote
from .followup import Resolution, resolve, resolve_history
from .search import Answer, Retriever
from .store import SourceDocument, read_manifest
from .suggest import pick_suggestions

log = logging.getLogger("qa.web")

MAX_UPLOAD_BYTES = 1024 * 1024  # per uploaded or pasted document
MAX_FAILED_LOGINS = 5  # wrong passwords allowed per window before edits are refused
LOGIN_WINDOW_SECONDS = 60.0


class EditRefused(QAError):
    """The caller may not edit the corpus."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def readable_name(title: str) -> str:
    """A file name for a pasted document: ``"Lighthouse notes"`` becomes ``lighthouse-notes.md``.

    Letters of any script are kept; everything else becomes single hyphens.
    """
    stem = re.sub(r"[^\w]+", "-", title.strip().lower()).strip("-_")[:80].strip("-_")
    return (stem or "document") + ".md"


def titled(title: str, text: str) -> str:
    """The pasted text with its title as the first line, a Markdown heading (not repeated if already there)."""
    title = " ".join(title.split())
    body = text.lstrip("\n")
    first, _, rest = body.partition("\n")
    if first.lstrip("# ").strip().lower() == title.lower():
        body = rest.lstrip("\n")
    return f"# {title}\n\n{body}"


@dataclass(frozen=True)
class DocumentRow:
    name: str
    passages: int | None
    indexed_at: str | None  # None: in the corpus but not in the index yet


class QAService:
    """The state behind one running app.

    Args:
        corpus: Corpus folder.
        index: Index folder.
        admin_password: Required for edits when set.
        allow_edits: Allow edits without a password; honoured only on loopback.
        host: The address the app listens on (decides whether ``allow_edits`` counts).
    """

    def __init__(self, corpus: str | os.PathLike[str] = "corpus", index: str | os.PathLike[str] = "index",
                 *, admin_password: str | None = None, allow_edits: bool = False,
                 host: str = "127.0.0.1") -> None:
        self.corpus = Path(corpus)
        self.index = Path(index)
        self.admin_password = admin_password or None
        self.allow_edits = allow_edits
        self.host = host
        self._retriever: Retriever | None = None
        self._load_lock = threading.Lock()
        self._failures: list[float] = []
        self._failures_lock = threading.Lock()
        self._suggest_lock = threading.Lock()
        self._suggested: tuple[Any, list[str]] = (None, [])
        self.feedback_path = self.index / FEEDBACK_FILE

    # ---------------------------------------------------------------- startup

    def ensure_index(self, progress: Callable[[str, int, int], None] | None = None) -> BuildReport | None:
        """Build the index if it is missing or older than the corpus."""
        if not is_stale(self.corpus, self.index):
            return None
        return build_index(self.corpus, self.index, progress=progress)

    @property
    def retriever(self) -> Retriever:
        with self._load_lock:
            if self._retriever is None:
                self._retriever = Retriever.load(self.index)
            else:
                # Pick up a rebuild made by this app or by `qa build` elsewhere.
                self._retriever.refresh()
            return self._retriever

    # -------------------------------------------------------------- answering

    def ask(self, question: str, k: int = 3, history: list[Any] | None = None) -> Answer:
        """Answer a question, resolved against ``history`` when it is a follow-up.

        Args:
            question: The question as typed.
            k: How many passages to return.
            history: Earlier questions (or ``{question, answer}`` pairs), oldest first.

        Raises:
            QAError: Subclasses for bad input.
        """
        return self.retriever.answer(self.resolve(question, history).searched, k=k)

    def resolve(self, question: str, history: list[Any] | None) -> Resolution:
        """The question as it will be searched, given the earlier turns (see :mod:`qa.followup`)."""
        if not isinstance(question, str):
            return Resolution("", "")
        return resolve(question, resolve_history(history))

    def suggestions(self, n: int = 4) -> list[str]:
        """Questions that stand alone and that the corpus answers well, spread over its documents.

        Candidates are the documents' own questions (interview and FAQ questions,
        headings that are questions) that need no context, then headings turned
        into questions; each is kept only if asking it gives a confident answer.
        Recomputed when the index changes.
        """
        try:
            r = self.retriever
        except QAError:
            return []
        with self._suggest_lock:
            key = (r.generation, n)
            if self._suggested[0] != key:
                self._suggested = (key, pick_suggestions(r, n))
            return list(self._suggested[1])

    def source(self, name: str) -> SourceDocument:
        """The indexed text of a document, for the source viewer.

        Raises:
            DocumentNotFound: It is not in the index (any more).
        """
        return self.retriever.document(name)

    def vote(self, vote: str, question: str, searched: str, answer: Answer) -> Vote:
        """Append a 👍 (``"up"``) or 👎 (``"down"``) on ``answer`` to the feedback log."""
        v = Vote("up" if vote == "up" else "down", question, searched, answer.tier,
                 self.retriever.generation,
                 tuple(Shown(h.source, h.start, h.end, h.answer_start, h.answer_end, h.answer_sentence)
                       for h in answer.hits), time.time())
        record_vote(self.feedback_path, v)
        return v

    # ---------------------------------------------------------------- editing

    def can_edit_without_password(self) -> bool:
        return self.admin_password is None and self.allow_edits and is_loopback(self.host)

    def check_edit(self, password: str | None) -> None:
        """Raise :class:`EditRefused` unless this caller may edit the corpus."""
        if self.admin_password is None:
            if self.can_edit_without_password():
                return
            if self.allow_edits:
                raise EditRefused("editing without a password is only allowed on a loopback address; "
                                  "restart with --admin-password")
            raise EditRefused("editing is off: restart with --admin-password (or --allow-edits on loopback)")
        now = time.monotonic()
        with self._failures_lock:
            self._failures = [t for t in self._failures if now - t < LOGIN_WINDOW_SECONDS]
            if len(self._failures) >= MAX_FAILED_LOGINS:
                wait = int(LOGIN_WINDOW_SECONDS - (now - self._failures[0])) + 1
                raise EditRefused(f"too many wrong passwords; try again in {wait} s")
            if not password or not hmac.compare_digest(password.encode(), self.admin_password.encode()):
                self._failures.append(now)
                raise EditRefused("wrong admin password")

    def add_text(self, password: str | None, title: str, text: str) -> corpus_mod.Document:
        self.check_edit(password)
        if not (title or "").strip():
            raise corpus_mod.DocumentRejected("give the document a title")
        if len((text or "").encode("utf-8")) > MAX_UPLOAD_BYTES:
            raise corpus_mod.DocumentRejected(f"the text is over the {MAX_UPLOAD_BYTES // 1024} KB limit")
        return corpus_mod.add(self.corpus, readable_name(title), titled(title, text or ""))

    def add_files(self, password: str | None, paths: list[str]) -> tuple[list[str], list[str]]:
        """Add uploaded files. Returns (added names, one error line per refused file)."""
        self.check_edit(password)
        added, errors = [], []
        for p in paths or []:
            shown = Path(p).name
            try:
                size = os.path.getsize(p)
                if size > MAX_UPLOAD_BYTES:
                    raise corpus_mod.DocumentRejected(
                        f"{shown}: {size:,} bytes is over the {MAX_UPLOAD_BYTES // 1024} KB upload limit")
                name = corpus_mod.safe_name(shown)
                if not name.lower().endswith(corpus_mod.SUFFIXES) or Path(shown).suffix.lower() not in corpus_mod.SUFFIXES:
                    raise corpus_mod.DocumentRejected(
                        f"{shown}: only {' and '.join(corpus_mod.SUFFIXES)} files can be uploaded")
                added.append(corpus_mod.add(self.corpus, name, Path(p).read_bytes()).name)
            except QAError as exc:
                errors.append(str(exc))
            except OSError as exc:
                errors.append(f"{shown}: cannot be read ({exc.strerror})")
        return added, errors

    def remove(self, password: str | None, name: str) -> None:
        self.check_edit(password)
        corpus_mod.remove(self.corpus, name)

    def rebuild(self, progress: Callable[[str, int, int], None] | None = None) -> BuildReport:
        """Refresh the index; the chat keeps using the old one until this returns.

        Raises:
            BuildInProgress: Another rebuild is running (this one does not wait).
        """
        try:
            report = build_index(self.corpus, self.index, progress=progress, lock_timeout=0)
        except BuildInProgress:
            raise BuildInProgress("a rebuild is already running; wait for it to finish") from None
        self.retriever  # noqa: B018 - load or switch to the generation just written
        return report

    def documents(self) -> list[DocumentRow]:
        """Documents in the corpus and the index, with passage counts and index times."""
        try:
            files: dict[str, Any] = read_manifest(self.index).get("files", {})
        except QAError:
            files = {}
        names = sorted(set(files) | {d.name for d in corpus_mod.scan(self.corpus)[0]})
        return [DocumentRow(n, files.get(n, {}).get("passages"), files.get(n, {}).get("indexed_at"))
                for n in names]
