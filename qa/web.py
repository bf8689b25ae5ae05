"""The Gradio web app: a chat tab, a corpus tab, an ``/ask`` API endpoint and an MCP tool.

All behaviour lives in :class:`qa.service.QAService`; this module only lays
out components and turns results and errors into what the page shows.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from datetime import datetime, timezone
from typing import Any, Callable

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home: there is no internet

import gradio as gr  # noqa: E402

from .errors import BadQuestion, QAError  # noqa: E402
from .render import answer_html, error_html, esc, parse_source_link, source_html  # noqa: E402
from .corpus import SUFFIXES  # noqa: E402
from .search import MAX_QUESTION_CHARS  # noqa: E402
from .service import (ASK_LIMIT, MAX_BINARY_UPLOAD_BYTES, MAX_UPLOAD_BYTES, Caller, EditResult, QAService,  # noqa: E402
                      size_text)

log = logging.getLogger("qa.web")

QUEUE_MAX_SIZE = 64  # requests waiting for a worker, all clients together

# One font family everywhere (the default theme asks for a web font that is not
# there offline, and bold text fell back glyph by glyph); tiers look different.
FONT = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Noto Sans", "DejaVu Sans", "sans-serif"]
CSS = """
.prose h1, .prose h2, .prose h3, .prose b, .prose strong, h1, h2, h3, b, strong { font-family: inherit; }
.qa-hidden { display: none !important; }
.qa-badge { display: inline-block; font-size: .8em; font-weight: 600; padding: .1em .6em; border-radius: 1em;
  margin-bottom: .4em; }
.qa-badge-answer { background: #dcfce7; color: #166534; }
.qa-badge-closest { background: #fef3c7; color: #92400e; }
.qa-badge-none { background: #e5e7eb; color: #374151; }
.qa-headline { font-size: 1.05em; font-weight: 600; margin-bottom: .4em; }
.qa-tier-closest { border: 1px dashed #d97706; border-radius: 8px; padding: .5em .7em; background: #fafaf9; }
.qa-tier-closest, .qa-tier-closest .qa-passage, .qa-tier-closest .qa-question, .qa-tier-closest .qa-speaker,
.qa-tier-closest .qa-meta, .qa-tier-closest b { color: #78716c !important; }
.qa-tier-closest .qa-headline { font-weight: normal; font-style: italic; }
.qa-tier-closest .qa-passage { border-left-color: #e5e7eb; }
.qa-tier-closest .qa-passage mark { background: #f3f4f6; color: inherit; }
.qa-searched { font-size: .85em; color: #6b7280; margin-bottom: .3em; }
.qa-question { color: #555; margin-bottom: .3em; }
.qa-interviewer, .qa-speaker { font-variant: small-caps; font-weight: 600; margin-right: .3em; }
.qa-interviewer { color: #6b7280; }
.qa-speaker { color: #1d4ed8; }
.qa-passage { border-left: 3px solid #c7d2fe; margin: .4em 0; padding-left: .7em; white-space: normal; }
.qa-passage mark { background: #fde68a; padding: 0 .1em; }
.qa-meta { font-size: .85em; color: #555; }
.qa-more { margin-top: .6em; }
.qa-hit + .qa-hit { margin-top: .8em; }
.qa-doc { white-space: pre-wrap; line-height: 1.5; font-size: .92em; position: relative; max-height: 560px;
  overflow-y: auto; border: 1px solid #e5e7eb; border-radius: 6px; padding: .5em .8em; }
.qa-doc-head { padding: .3em 0; }
.qa-hl { background: #e0e7ff; }
.qa-hl-answer { background: #fde68a; }
.qa-pagebreak { display: block; color: #6b7280; font-size: .8em; border-top: 1px dashed #d1d5db; margin-top: .6em; }
"""

# Clicks on links inside chat replies (which are sanitized HTML, so they carry
# data attributes, not handlers): a source link asks the server for the document,
# a suggestion is typed into the box and submitted.
HEAD = """<script>
document.addEventListener('click', (e) => {
  const open = e.target.closest && e.target.closest('a.qa-open');
  const sug = e.target.closest && e.target.closest('a.qa-suggest');
  if (!open && !sug) return;
  e.preventDefault();
  const put = (sel, value) => {
    const box = document.querySelector(sel);
    box.value = value;
    box.dispatchEvent(new Event('input', {bubbles: true}));
  };
  if (open) {
    put('#qa-source-req textarea', open.getAttribute('href') + '#' + Date.now());
    setTimeout(() => document.querySelector('#qa-source-btn').click(), 60);
  } else {
    put('#qa-input textarea', sug.innerText.trim());
    setTimeout(() => document.querySelector('#qa-input button.submit-button, #qa-input button').click(), 60);
  }
});
</script>"""
# Scroll the document panel (only it, not the page) so that the passage sits a third of the way down.
SCROLL_JS = ("() => { const d = document.querySelector('#qa-viewer .qa-doc'); const m = document.querySelector('#qa-hl');"
             " if (d && m) d.scrollTop = Math.max(0, m.offsetTop - d.clientHeight / 3); }")



def when(iso: str | None, now: datetime | None = None) -> str:
    """An index time for people: "3 minutes ago (27 Nov 2026, 01:02)", in the server's local time.

    Args:
        iso: An ISO 8601 time with its zone, as the manifest stores it; None if not indexed.
        now: The current time (for tests).
    """
    if not iso:
        return "not indexed yet"
    try:
        t = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    secs = int((now - t).total_seconds())
    if secs < 60:
        ago = "just now"
    else:
        for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
            if secs >= size:
                n = secs // size
                ago = f"{n} {unit}{'s' if n != 1 else ''} ago"
                break
    return f"{ago} ({t.astimezone().strftime('%d %b %Y, %H:%M')})"


def _doc_table(service: QAService) -> list[list[Any]]:
    return [[d.name, d.passages if d.passages is not None else "—", when(d.indexed_at)]
            for d in service.documents()]


def edit_status(result: EditResult) -> str:
    """What an edit did, in one status line: what was stored or removed, and whether the index followed."""
    parts = [f"⚠️ {esc(e)}<br>" for e in result.errors]
    done = []
    if result.added:
        done.append(f"Added {esc(', '.join(result.added))}")
    if result.unchanged:
        done.append(f"{esc(', '.join(result.unchanged))} was already in the corpus with the same content")
    if result.removed:
        done.append(f"Removed {esc(', '.join(result.removed))}")
    if not done:
        return "".join(parts)
    line = "; ".join(done)
    if result.rebuild_error:
        line = (f"⚠️ {line}, but the index was not rebuilt: {esc(result.rebuild_error)}. "
                "The chat still answers from the previous index; press <b>Rebuild index</b> to try again.")
    elif result.report is not None:
        line += f". Index rebuilt: {esc(result.report.summary())}."
    return "".join(parts) + line


def remove_status(service: QAService, password: str | None, name: str | None, confirmed: bool,
                  caller: Caller | None, progress: Any = None) -> str:
    """Remove a document only when one is chosen and the removal is confirmed."""
    if not name:
        return "⚠️ Choose a document to remove."
    if not confirmed:
        return (f"⚠️ Nothing was removed: tick “Yes, delete this document from the corpus” to confirm "
                f"removing {esc(name)}.")
    return edit_status(service.remove_and_rebuild(password, name, caller, progress))


def _document_names(documents: Any) -> list[str] | None:
    """The API's ``documents`` argument as names: one string is one name; anything but strings is refused
    (answering from every document instead would look like an answer from the ones asked for)."""
    if documents is None or isinstance(documents, str):
        return [documents] if documents else None
    if isinstance(documents, list) and all(isinstance(d, str) for d in documents):
        return documents or None
    raise BadQuestion("documents must be a list of document names, as each hit's \"source\" gives them")


def _sendable(text: str) -> str:
    """``text`` without lone surrogates: the question is echoed, and Gradio's queue (orjson) and the
    MCP server refuse to encode them, so the reply itself would fail."""
    return _SURROGATES.sub("", text) if isinstance(text, str) else ""


_SURROGATES = re.compile("[\ud800-\udfff]")


def _passages(k: Any) -> int:
    """The API's ``k``, held to the 1 to 10 that the page offers (a number out of range is clamped)."""
    try:
        return max(1, min(10, int(k)))
    except (TypeError, ValueError, OverflowError):
        raise BadQuestion(f"k must be a whole number from 1 to 10, not {k!r:.40}") from None


def _scopes(names: list[str]) -> list[tuple[str, str]]:
    """The chat's "Answer from" choices: every document, or one (the empty value is all of them)."""
    return [("All documents", "")] + [(n, n) for n in names]


def create_app(service: QAService) -> gr.Blocks:
    """Lay out the app around a service. Call ``.launch()`` on the result, or use :func:`serve`."""

    def respond(message: str, turns: list[dict[str, Any]], caller: Caller | None = None, scope: str = ""
                ) -> tuple[str, dict[str, Any]]:
        """The reply to ``message`` and the turn to remember (for follow-ups and votes);
        ``scope`` is one document's name, or empty for all of them."""
        turn: dict[str, Any] = {"question": message, "searched": message, "answer": None}
        try:
            res = service.resolve(message, [{"question": t["searched"], "answer": t.get("sentence", "")}
                                            for t in turns if t.get("answer") is not None])
            answer = service.ask(res.searched, caller=caller, sources=[scope] if scope else None)
            turn.update(searched=res.searched, answer=answer,
                        sentence=answer.hits[0].answer_sentence if answer.hits else "")
            # Suggestions are asked of every document: none when one document was chosen.
            tips = service.suggestions() if answer.tier == "none" and not scope else None
            return answer_html(answer, tips, res.searched if res.rewritten else None), turn
        except QAError as exc:
            return error_html(str(exc)), turn
        except Exception:  # never a traceback in the page
            log.exception("answering failed")
            return error_html("Something went wrong while searching. Please try again."), turn

    def chat(message: str, history: list[Any] | None, turns: list[dict[str, Any]] | None, scope: str | None,
             request: gr.Request) -> tuple[str, list[Any], list[dict[str, Any]]]:
        # The question is shown escaped, like everything else: displayed, never interpreted.
        shown = message if len(message) <= 300 else message[:300] + " …"
        turns = list(turns or [])
        html, turn = respond(message, turns, Caller.from_request(request), scope or "")
        msgs = [{"role": "user", "content": esc(shown)}, {"role": "assistant", "content": html}]
        return "", list(history or []) + msgs, turns + [turn]

    def chat_example(history: list[Any] | None, turns: list[dict[str, Any]] | None, scope: str | None,
                     evt: gr.SelectData, request: gr.Request) -> tuple[str, list[Any], list[dict[str, Any]]]:
        value = evt.value.get("text", "") if isinstance(evt.value, dict) else str(evt.value)
        return chat(value, history, turns, scope, request)

    def on_like(turns: list[dict[str, Any]] | None, evt: gr.LikeData) -> None:
        # Each exchange adds two messages (question, reply), so reply i belongs to turn i // 2.
        i = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        turns = turns or []
        if not isinstance(i, int) or not 0 <= i // 2 < len(turns) or evt.liked not in (True, False):
            return
        t = turns[i // 2]
        if t.get("answer") is None:
            return
        try:
            service.vote("up" if evt.liked else "down", t["question"], t["searched"], t["answer"])
        except (OSError, QAError):
            log.exception("could not record a vote")
            gr.Warning("Your vote could not be saved.")

    def open_source(request: str) -> str:
        try:
            # The page script appends "#<time>" so that clicking the same link twice still fires.
            name, span = parse_source_link((request or "").rsplit("#", 1)[0])
            return source_html(service.source(name), span)
        except QAError as exc:
            return error_html(str(exc))
        except ValueError:
            return error_html("That source link is not valid; ask the question again.")

    def indexed() -> list[str]:
        try:
            return service.retriever.documents()
        except QAError:  # no index yet, or a damaged one: the chat says so when asked
            return []

    def first_screen() -> tuple[Any, Any]:
        # The document list as indexed now: another visitor or `qa build` may have changed it.
        return (gr.update(examples=[{"text": q} for q in service.suggestions()] or None),
                gr.update(choices=_scopes(indexed()), value=""))

    def ask(question: str, k: int = 3, history: list[Any] | None = None, documents: list[str] | None = None,
            request: gr.Request = None) -> dict[str, Any]:
        """Find the passages of the document collection that answer a question.

        Args:
            question: A question in plain language, at most 1000 characters.
            k: How many passages to return, from 1 to 10.
            history: Optional earlier questions of the conversation, oldest first (strings, or objects with "question" and "answer"), so that a follow-up such as "and how many people work there?" is understood.
            documents: Optional names of the documents to answer from (as in each hit's "source"); all of them when empty.

        Returns:
            The answer as JSON: found (false when nothing relevant exists), tier ("answer", "closest" or "none"), searched_for (the question as understood), message, and hits (each with text, answer_sentence, source, start and end offsets, page, section, question, confidence).
        """
        try:
            caller = Caller.from_request(request) if request is not None else Caller("unknown")
            hist = history if isinstance(history, list) else []
            searched = service.resolve(question, hist).searched
            out = service.ask(searched, k=_passages(k), caller=caller,
                              sources=_document_names(documents)).to_dict()
            return {**out, "asked": _sendable(question), "searched_for": _sendable(searched)}
        except QAError as exc:
            # Not the whole of a refused 1 MB question back to the caller.
            asked = _sendable(question[:MAX_QUESTION_CHARS]) if isinstance(question, str) else ""
            return {"question": asked, "found": False, "message": str(exc), "error": str(exc), "hits": []}
        except Exception:
            log.exception("api ask failed")
            return {"question": "", "found": False, "message": "internal error", "error": "internal error",
                    "hits": []}

    def corpus_view(status: str) -> tuple[Any, Any, Any, str, Any]:
        names = [d.name for d in service.documents()]
        # Nothing is preselected and the confirmation is cleared after every action; the chat's
        # document choice goes back to all of them, since the one chosen may be gone.
        return (_doc_table(service), gr.update(choices=names, value=None), gr.update(value=False), status,
                gr.update(choices=_scopes(indexed()), value=""))

    def ticker(progress: gr.Progress) -> Any:
        def tick(stage: str, done: int, total: int) -> None:
            if total:
                progress((done, total), desc=stage, unit="texts" if stage == "embedding" else "steps")
        return tick

    def guarded(action: Callable[[], str]) -> tuple[Any, Any, Any, str, Any]:
        try:
            return corpus_view(action())
        except QAError as exc:
            return corpus_view(f"⚠️ {esc(str(exc))}")
        except Exception:
            log.exception("corpus action failed")
            return corpus_view("⚠️ Something went wrong; press Rebuild index, then check the document list.")

    # Gradio fills in `request` and `progress` by their annotation and default, so each handler
    # spells out its parameters.
    def add_text(password: str, title: str, text: str, request: gr.Request, progress=gr.Progress()):
        return guarded(lambda: edit_status(service.add_text_and_rebuild(
            password, title, text, Caller.from_request(request), ticker(progress))))

    def clear_if_added(status_html: str, title_now: str, text_now: str) -> tuple[str, str]:
        # Keep what was typed unless it was stored, so that nothing is lost.
        stored = status_html.startswith(("Added", "⚠️ Added")) or "already in the corpus with the same" in status_html
        return ("", "") if stored else (title_now, text_now)

    def clear_files() -> Any:
        # A refused file must not stay in the box looking accepted; an accepted one is done with.
        return None

    def add_files(password: str, files: list[str] | None, request: gr.Request, progress=gr.Progress()):
        if not files:
            return corpus_view(f"⚠️ Choose one or more {', '.join(SUFFIXES)} files first.")
        paths = [f if isinstance(f, str) else f.name for f in files]
        return guarded(lambda: edit_status(service.add_files_and_rebuild(
            password, paths, Caller.from_request(request), ticker(progress))))

    def remove(password: str, name: str | None, confirmed: bool, request: gr.Request, progress=gr.Progress()):
        return guarded(lambda: remove_status(service, password, name, confirmed, Caller.from_request(request),
                                             ticker(progress)))

    def rebuild(password: str, request: gr.Request, progress=gr.Progress()):
        def run() -> str:
            service.check_edit(password, Caller.from_request(request))
            return f"Index rebuilt: {esc(service.rebuild(progress=ticker(progress)).summary())}."
        return guarded(run)

    with gr.Blocks(title="Ask the documents") as demo:
        gr.Markdown("## Ask the documents\nAnswers are passages quoted from the documents, with their sources.")
        with gr.Tab("Chat", id="chat"):
            turns = gr.State([])
            with gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(
                        height=560, label="Answers", latex_delimiters=[], elem_id="qa-chat", sanitize_html=True,
                        placeholder="Ask a question about the documents, or start with an example:",
                        examples=[{"text": q} for q in service.suggestions()] or None,
                        feedback_options=("Like", "Dislike"),
                    )
                    box = gr.Textbox(placeholder=f"Ask a question (up to {MAX_QUESTION_CHARS} characters)",
                                     elem_id="qa-input", show_label=False, submit_btn=True)
                    scope = gr.Dropdown(choices=_scopes(indexed()), value="", label="Answer from",
                                        elem_id="qa-scope")
                with gr.Column(scale=2):
                    viewer = gr.HTML('<div class="qa-meta">Click a source under an answer to read the whole '
                                     "document here, with the passage highlighted.</div>",
                                     elem_id="qa-viewer", label="Source")
            source_req = gr.Textbox(elem_id="qa-source-req", elem_classes="qa-hidden", show_label=False)
            source_btn = gr.Button("open source", elem_id="qa-source-btn", elem_classes="qa-hidden")
            box.submit(chat, [box, chatbot, turns, scope], [box, chatbot, turns], api_visibility="private")
            chatbot.example_select(chat_example, [chatbot, turns, scope], [box, chatbot, turns],
                                   api_visibility="private")
            chatbot.like(on_like, [turns], None, api_visibility="private")
            chatbot.clear(lambda: [], None, [turns], api_visibility="private")
            source_btn.click(open_source, [source_req], [viewer], api_visibility="private").then(
                None, None, None, js=SCROLL_JS, api_visibility="private")
            demo.load(first_screen, None, [chatbot, scope], api_visibility="private")
        with gr.Tab("Corpus", id="corpus"):
            docs = gr.Dataframe(value=_doc_table(service), headers=["Document", "Passages", "Indexed at"],
                                interactive=False, label="Documents", elem_id="qa-docs")
            status = gr.Markdown(elem_id="qa-status")
            hint = ("Edits need the admin password." if service.admin_password else
                    "Edits are allowed without a password, from this machine only." if service.allow_edits
                    else "Editing is off: start the app with --admin-password.")
            password = gr.Textbox(type="password", label="Admin password", info=hint, elem_id="qa-password")
            with gr.Accordion("Add a document by pasting text", open=True):
                title = gr.Textbox(label="Title", elem_id="qa-title")
                text = gr.Textbox(label="Text", lines=8, elem_id="qa-text")
                add_btn = gr.Button("Add and rebuild", variant="primary", elem_id="qa-add")
            with gr.Accordion("Upload files", open=True):
                files = gr.File(file_count="multiple", type="filepath", elem_id="qa-upload",
                                file_types=list(SUFFIXES),
                                label=f"{', '.join(SUFFIXES)} files, up to {size_text(MAX_UPLOAD_BYTES)} each "
                                      f"({size_text(MAX_BINARY_UPLOAD_BYTES)} for .pdf and .docx)")
                upload_btn = gr.Button("Upload and rebuild", elem_id="qa-upload-btn")
            with gr.Accordion("Remove a document", open=True):
                which = gr.Dropdown(choices=[d.name for d in service.documents()], value=None, label="Document",
                                    elem_id="qa-remove-choice")
                confirm = gr.Checkbox(value=False, label="Yes, delete this document from the corpus",
                                      elem_id="qa-remove-confirm")
                remove_btn = gr.Button("Remove and rebuild", variant="stop", elem_id="qa-remove")
            rebuild_btn = gr.Button("Rebuild index", elem_id="qa-rebuild")

        outputs = [docs, which, confirm, status, scope]
        add_btn.click(add_text, [password, title, text], outputs, api_visibility="private").then(
            clear_if_added, [status, title, text], [title, text], api_visibility="private")
        upload_btn.click(add_files, [password, files], outputs, api_visibility="private").then(
            clear_files, None, [files], api_visibility="private")
        remove_btn.click(remove, [password, which, confirm], outputs, api_visibility="private")
        rebuild_btn.click(rebuild, [password], outputs, api_visibility="private")
        gr.api(ask, api_name="ask")
    return demo


def serve(corpus: str = "corpus", index: str = "index", host: str = "127.0.0.1", port: int = 7860,
          admin_password: str | None = None, allow_edits: bool = False, block: bool = True,
          rate_limit: str = ASK_LIMIT) -> gr.Blocks:
    """Build the index if needed, then start the app.

    Args:
        rate_limit: Questions per client address (``limits`` notation, e.g. ``"60/minute"``).
        block: Wait until the server stops (False returns the running app, for tests).
    """
    from tqdm import tqdm

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)
    service = QAService(corpus, index, admin_password=admin_password, allow_edits=allow_edits, host=host,
                        ask_limit=rate_limit)
    bar: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "embedding" and total:
            bar.setdefault("b", tqdm(total=total, desc="building index", unit="text", file=sys.stderr))
            bar["b"].n = done
            bar["b"].refresh()

    report = service.ensure_index(progress=progress)
    if "b" in bar:
        bar["b"].close()
    if report:
        print(f"index built: {report.summary()}", file=sys.stderr)
    service.retriever  # noqa: B018 - load the model and index before the first question
    demo = create_app(service)
    # A bounded queue: past it, a visitor gets "the queue is full" at once instead of waiting forever.
    demo.queue(default_concurrency_limit=4, max_size=QUEUE_MAX_SIZE)
    demo.launch(server_name=host, server_port=port, mcp_server=True, ssr_mode=False, show_error=False,
                prevent_thread_lock=not block, css=CSS, head=HEAD, theme=gr.themes.Default(font=FONT),
                # Above our own limits, so that a file a little too big gets the message that says them.
                max_file_size=2 * max(MAX_UPLOAD_BYTES, MAX_BINARY_UPLOAD_BYTES), footer_links=["api"])
    return demo
