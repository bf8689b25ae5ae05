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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from . import corpus as corpus_mod
from .errors import BuildInProgress, DocumentExists, QAError
from .indexing import BuildReport, build_index, is_stale, recorded_digests
from .feedback import FEEDBACK_FILE, Shown, Vote
from .feedback import record as record_vote
from .followup import Resolution, resolve, resolve_history
from .search import Answer, Retriever
from .store import MANIFEST, SourceDocument, read_manifest
from .suggest import pick_suggestions

log = logging.getLogger("qa.web")

MAX_UPLOAD_BYTES = 1024 * 1024  # per uploaded or pasted text document
# PDF and DOCX files carry fonts, images and zip overhead around their text, so real ones are
# often over 1 MB: they may be as large as the readers accept (corpus.MAX_DOCUMENT_BYTES).
BINARY_SUFFIXES = (".pdf", ".docx")
MAX_BINARY_UPLOAD_BYTES = corpus_mod.MAX_DOCUMENT_BYTES


def upload_limit(name: str) -> int:
    """The largest upload accepted for a file of this name, in bytes.

    Args:
        name: The file name; its suffix decides.

    Returns:
        ``MAX_BINARY_UPLOAD_BYTES`` for PDF and DOCX, ``MAX_UPLOAD_BYTES`` for the text formats.
    """
    return MAX_BINARY_UPLOAD_BYTES if Path(name).suffix.lower() in BINARY_SUFFIXES else MAX_UPLOAD_BYTES


def size_text(n: int) -> str:
    """A byte count as people write limits: ``1 MB``, ``5 MB``, ``512 KB``."""
    mb = n / (1024 * 1024)
    return f"{mb:g} MB" if mb >= 1 else f"{n // 1024} KB"


# Wrong passwords allowed per client address in a moving window, before that address is locked out.
LOGIN_LIMIT = "5/minute"
# Questions per client address (chat, /ask and the MCP tool together), in a moving window:
# far above a person typing, low enough that one script cannot starve the others.
ASK_LIMIT = "60/minute"


class EditRefused(QAError):
    """The caller may not edit the corpus."""


class RateLimited(QAError):
    """One client sent too many requests; the message says when to retry."""


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def readable_name(title: str) -> str:
    """A file name for a pasted document: ``"Lighthouse notes"`` becomes ``Lighthouse-notes.md``.

    Letters and digits of any script are kept, with their case; every other run of
    characters becomes one hyphen (so no spaces, slashes or dots); a trailing
    ``.md``/``.txt`` in the title is dropped.
    """
    title = re.sub(r"\.(md|txt)\s*$", "", title.strip(), flags=re.IGNORECASE)
    stem = re.sub(r"[\W_]+", "-", title).strip("-")[:80].strip("-")
    return (stem or "document") + ".md"


def _check_pasted(title: str, text: str) -> None:
    """Refuse a pasted document without a title or over the text limit, before anything is stored."""
    if not (title or "").strip():
        raise corpus_mod.DocumentRejected("give the document a title")
    if len((text or "").encode("utf-8")) > MAX_UPLOAD_BYTES:
        raise corpus_mod.DocumentRejected(f"the text is over the {size_text(MAX_UPLOAD_BYTES)} limit")


def titled(title: str, text: str) -> str:
    """The pasted text with its title as the first line, a Markdown heading (not repeated if already there).

    Raises:
        DocumentRejected: The text is empty (a title alone is not a document).
    """
    title = " ".join(title.split())
    if not text.strip():
        raise corpus_mod.DocumentRejected(f"{readable_name(title)}: the document is empty")
    body = text.lstrip("\n")
    first, _, rest = body.partition("\n")
    if first.lstrip("# ").strip().lower() == title.lower():
        body = rest.lstrip("\n")
    return f"# {title}\n\n{body}"


@dataclass(frozen=True)
class Caller:
    """Who sent a web request.

    Attributes:
        host: The peer address of the connection (``request.client.host``).
        forwarded_for: Addresses from an ``X-Forwarded-For`` header, if a proxy added one.
    """

    host: str
    forwarded_for: tuple[str, ...] = ()

    @classmethod
    def from_request(cls, request: Any) -> "Caller":
        """Read a ``gr.Request`` (or a Starlette request); unknown parts become empty."""
        client = getattr(request, "client", None)
        host = getattr(client, "host", None) or ""
        headers = getattr(request, "headers", None) or {}
        raw = headers.get("x-forwarded-for", "") if hasattr(headers, "get") else ""
        return cls(host, tuple(a.strip() for a in raw.split(",") if a.strip()))

    @property
    def is_local(self) -> bool:
        """True only for a loopback peer that is not relaying someone else (a reverse proxy)."""
        return is_loopback(self.host) and all(is_loopback(a) for a in self.forwarded_for)

    @property
    def key(self) -> str:
        """The address limits apply to: behind a local proxy, the client the proxy saw."""
        if self.forwarded_for and is_loopback(self.host):
            return self.forwarded_for[-1]
        return self.host or "unknown"


LOCAL = Caller("127.0.0.1")  # in-process calls (tests, scripts): the machine's own user


@dataclass(frozen=True)
class DocumentRow:
    name: str
    passages: int | None
    indexed_at: str | None  # None: in the corpus but not in the index yet


@dataclass(frozen=True)
class EditResult:
    """What an edit from the web page did, told apart step by step.

    Attributes:
        added: Names stored in the corpus by this edit (or found there with the same content).
        removed: Names deleted from the corpus by this edit.
        errors: One line per file that was refused; nothing was stored for it.
        report: The rebuild, when it ran and finished.
        rebuild_error: Why the index was not rebuilt, when the corpus changed but the rebuild failed.
        unchanged: Names that were already in the corpus with exactly this content.
    """

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    report: BuildReport | None = None
    rebuild_error: str | None = None
    unchanged: tuple[str, ...] = field(default=())


class QAService:
    """The state behind one running app.

    Args:
        corpus: Corpus folder.
        index: Index folder.
        admin_password: Required for edits when set.
        allow_edits: Allow edits without a password, to loopback clients only.
        host: The address the app listens on (only for the hint shown on the page).
        ask_limit: Questions per client in a moving window (``limits`` notation, e.g. ``"60/minute"``).
        login_limit: Wrong passwords per client in a moving window before it is locked out.
    """

    def __init__(self, corpus: str | os.PathLike[str] = "corpus", index: str | os.PathLike[str] = "index",
                 *, admin_password: str | None = None, allow_edits: bool = False,
                 host: str = "127.0.0.1", ask_limit: str = ASK_LIMIT, login_limit: str = LOGIN_LIMIT) -> None:
        self.corpus = Path(corpus)
        self.index = Path(index)
        self.admin_password = admin_password or None
        self.allow_edits = allow_edits
        self.host = host
        self._retriever: Retriever | None = None
        self._load_lock = threading.Lock()  # the first load only: there is nothing to answer from before it
        self._refresh_lock = threading.Lock()  # one refresher at a time; the others do not wait for it
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._ask_limit: RateLimitItem = parse(ask_limit)
        self._login_limit: RateLimitItem = parse(login_limit)
        self._suggest_lock = threading.Lock()
        self._suggested: tuple[Any, list[str]] = (None, [])
        self.feedback_path = self.index / FEEDBACK_FILE

    # ---------------------------------------------------------------- startup

    def ensure_index(self, progress: Callable[[str, int, int], None] | None = None) -> BuildReport | None:
        """Build the index if it is missing or older than the corpus.

        With no corpus folder, a new app starts on an empty one (documents can be uploaded), and
        an app with an index serves it: rebuilding from nothing would empty it.
        """
        if not self.corpus.is_dir():
            if (self.index / MANIFEST).exists():
                log.warning("no corpus folder at %s: serving the index at %s as it is", self.corpus, self.index)
                return None
            self.corpus.mkdir(parents=True, exist_ok=True)
        if not is_stale(self.corpus, self.index):
            return None
        return build_index(self.corpus, self.index, progress=progress)

    @property
    def retriever(self) -> Retriever:
        """The retriever, switched to the newest good generation.

        A new generation is loaded outside any lock that questions wait on:
        while one thread loads it, the others answer from the current one.
        """
        current = self._retriever
        if current is None:
            with self._load_lock:
                if self._retriever is None:
                    self._retriever = Retriever.load(self.index)
                return self._retriever
        # Pick up a rebuild made by this app or by `qa build` elsewhere.
        if self._refresh_lock.acquire(blocking=False):
            try:
                current.refresh()
            finally:
                self._refresh_lock.release()
        return current

    def check_rate(self, caller: Caller | None) -> None:
        """Raise :class:`RateLimited` when ``caller`` has asked too often (in-process calls are not limited)."""
        if caller is None:
            return
        if not self._limiter.hit(self._ask_limit, "ask", caller.key):
            wait = self._retry_after(self._ask_limit, "ask", caller.key)
            raise RateLimited(f"too many requests from your address; try again in {wait} s")

    def _retry_after(self, limit: RateLimitItem, *keys: str) -> int:
        reset = self._limiter.get_window_stats(limit, *keys).reset_time
        return max(1, int(reset - time.time()) + 1)

    # -------------------------------------------------------------- answering

    def ask(self, question: str, k: int = 3, caller: Caller | None = None,
            history: list[Any] | None = None, sources: list[str] | None = None) -> Answer:
        """Answer a question, resolved against ``history`` when it is a follow-up.

        Args:
            question: The question as typed.
            k: Passages to return.
            caller: The web client, whose questions are rate-limited; ``None`` for in-process calls.
            history: Earlier questions (or ``{question, answer}`` pairs), oldest first.
            sources: Answer from these documents only; ``None`` or empty: from all of them.

        Raises:
            RateLimited: ``caller`` asked too often.
            BadQuestion: The question is empty or too long.
            DocumentNotFound: A name in ``sources`` is not in the index.
        """
        self.check_rate(caller)
        return self.retriever.answer(self.resolve(question, history).searched, k=k, sources=sources)

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

    def can_edit_without_password(self, caller: Caller | None = None) -> bool:
        """True when edits need no password: ``--allow-edits``, no password set, and a local caller."""
        return self.admin_password is None and self.allow_edits and (caller or LOCAL).is_local

    def check_edit(self, password: str | None, caller: Caller | None = None) -> None:
        """Raise :class:`EditRefused` unless this caller may edit the corpus.

        Args:
            password: What the caller typed.
            caller: The web client; ``None`` for in-process calls (treated as local).
        """
        caller = caller or LOCAL
        if self.admin_password is None:
            if self.can_edit_without_password(caller):
                return
            if self.allow_edits:
                raise EditRefused("editing without a password is only allowed from this machine (a loopback "
                                  "client, not through a proxy); restart with --admin-password")
            raise EditRefused("editing is off: restart with --admin-password (or --allow-edits, for this machine only)")
        # The lockout is per client address: another visitor's guesses cannot lock the admin out.
        if not self._limiter.test(self._login_limit, "login", caller.key):
            wait = self._retry_after(self._login_limit, "login", caller.key)
            raise EditRefused(f"too many wrong passwords from your address; try again in {wait} s")
        if not password or not hmac.compare_digest(password.encode(), self.admin_password.encode()):
            self._limiter.hit(self._login_limit, "login", caller.key)
            raise EditRefused("wrong admin password")

    def _store(self, name: str, content: str | bytes) -> tuple[str, bool]:
        """Add one document. Returns (stored name, True if it was already there with this content).

        A retry after a failed rebuild sends the same content again: that is not
        an error, the document is simply there already.
        """
        try:
            return corpus_mod.add(self.corpus, name, content).name, False
        except DocumentExists:
            fname = corpus_mod.safe_name(name)
            data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
            try:
                same = (self.corpus / fname).read_bytes() == data
            except OSError:
                same = False
            if same:
                return fname, True
            raise

    def add_text(self, password: str | None, title: str, text: str,
                 caller: Caller | None = None) -> corpus_mod.Document:
        """Store a pasted document (without rebuilding; see :meth:`add_text_and_rebuild`)."""
        self.check_edit(password, caller)
        _check_pasted(title, text)
        return corpus_mod.add(self.corpus, readable_name(title), titled(title, text or ""))

    def add_files(self, password: str | None, paths: list[str],
                  caller: Caller | None = None) -> tuple[list[str], list[str]]:
        """Add uploaded files. Returns (added names, one error line per refused file)."""
        added, errors, _same = self._add_files(password, paths, caller, accept_same=False)
        return added, errors

    def _add_files(self, password: str | None, paths: list[str], caller: Caller | None,
                   accept_same: bool) -> tuple[list[str], list[str], list[str]]:
        self.check_edit(password, caller)
        added, errors, same = [], [], []
        for p in paths or []:
            shown = Path(p).name
            try:
                size = os.path.getsize(p)
                limit = upload_limit(shown)
                if size > limit:
                    kind = "PDF and DOCX files" if limit == MAX_BINARY_UPLOAD_BYTES else "text files"
                    raise corpus_mod.DocumentRejected(
                        f"{shown}: {size:,} bytes is over the {size_text(limit)} upload limit for {kind}")
                name = corpus_mod.safe_name(shown)
                if not name.lower().endswith(corpus_mod.SUFFIXES) or Path(shown).suffix.lower() not in corpus_mod.SUFFIXES:
                    raise corpus_mod.DocumentRejected(
                        f"{shown}: only {' and '.join(corpus_mod.SUFFIXES)} files can be uploaded")
                data = Path(p).read_bytes()
                if accept_same:
                    stored, was_there = self._store(name, data)
                    (same if was_there else added).append(stored)
                else:
                    added.append(corpus_mod.add(self.corpus, name, data).name)
            except QAError as exc:
                errors.append(str(exc))
            except OSError as exc:
                errors.append(f"{shown}: cannot be read ({exc.strerror})")
        return added, errors, same

    def remove(self, password: str | None, name: str, caller: Caller | None = None) -> None:
        self.check_edit(password, caller)
        corpus_mod.remove(self.corpus, name)

    def _rebuild_after_edit(self, result: EditResult,
                            progress: Callable[[str, int, int], None] | None) -> EditResult:
        try:
            return replace(result, report=self.rebuild(progress=progress))
        except QAError as exc:
            log.warning("corpus changed but the index was not rebuilt: %s", exc)
            return replace(result, rebuild_error=str(exc))

    def add_text_and_rebuild(self, password: str | None, title: str, text: str, caller: Caller | None = None,
                             progress: Callable[[str, int, int], None] | None = None) -> EditResult:
        """Store a pasted document and rebuild; a failed rebuild is reported, not hidden.

        Raises:
            EditRefused, DocumentRejected, DocumentExists: Nothing was stored.
        """
        self.check_edit(password, caller)
        _check_pasted(title, text)
        name, was_there = self._store(readable_name(title), titled(title, text or ""))
        result = EditResult(unchanged=(name,)) if was_there else EditResult(added=(name,))
        return self._rebuild_after_edit(result, progress)

    def add_files_and_rebuild(self, password: str | None, paths: list[str], caller: Caller | None = None,
                              progress: Callable[[str, int, int], None] | None = None) -> EditResult:
        """Store uploaded files and rebuild if any was stored (or was already there unindexed)."""
        added, errors, same = self._add_files(password, paths, caller, accept_same=True)
        result = EditResult(added=tuple(added), errors=tuple(errors), unchanged=tuple(same))
        if not added and not same:
            return result
        return self._rebuild_after_edit(result, progress)

    def remove_and_rebuild(self, password: str | None, name: str, caller: Caller | None = None,
                           progress: Callable[[str, int, int], None] | None = None) -> EditResult:
        """Delete a document and rebuild; a failed rebuild is reported, not hidden."""
        self.remove(password, name, caller)
        return self._rebuild_after_edit(EditResult(removed=(name,)), progress)

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
            manifest: dict[str, Any] = read_manifest(self.index)
        except QAError:
            manifest = {}
        files: dict[str, Any] = manifest.get("files", {})
        try:
            recorded = recorded_digests(manifest)
        except ValueError:
            recorded = None
        if recorded is not None:
            # By digests, as staleness is: listing the tab must not run every reader. A file the
            # build skipped stays out while its bytes are the same; a new file is listed until a
            # build reads it (and drops it again if it has nothing to index).
            fresh = {n for n, d in corpus_mod.file_digests(self.corpus).items() if n in files or recorded.get(n) != d}
        else:
            fresh = {d.name for d in corpus_mod.scan(self.corpus)[0]}
        names = sorted(set(files) | fresh)
        return [DocumentRow(n, files.get(n, {}).get("passages"), files.get(n, {}).get("indexed_at"))
                for n in names]
