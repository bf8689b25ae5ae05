"""The Gradio web app: a chat tab, a corpus tab, an ``/ask`` API endpoint and an MCP tool.

All behaviour lives in :class:`qa.service.QAService`; this module only lays
out components and turns results and errors into what the page shows.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Callable

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home: there is no internet

import gradio as gr  # noqa: E402

from .errors import QAError  # noqa: E402
from .render import answer_html, error_html, esc  # noqa: E402
from .search import MAX_QUESTION_CHARS  # noqa: E402
from .service import ASK_LIMIT, MAX_UPLOAD_BYTES, Caller, EditResult, QAService  # noqa: E402

log = logging.getLogger("qa.web")

QUEUE_MAX_SIZE = 64  # requests waiting for a worker, all clients together

CSS = """
.qa-sentence { font-size: 1.05em; margin-bottom: .4em; }
.qa-question { color: #555; margin-bottom: .3em; }
.qa-passage { border-left: 3px solid #c7d2fe; margin: .4em 0; padding-left: .7em; white-space: normal; }
.qa-passage mark { background: #fde68a; padding: 0 .1em; }
.qa-meta { font-size: .85em; color: #555; }
.qa-more { margin-top: .6em; }
.qa-hit + .qa-hit { margin-top: .8em; }
"""


def _doc_table(service: QAService) -> list[list[Any]]:
    return [[d.name, d.passages if d.passages is not None else "—", d.indexed_at or "not indexed yet"]
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


def create_app(service: QAService) -> gr.Blocks:
    """Lay out the app around a service. Call ``.launch()`` on the result, or use :func:`serve`."""

    def respond(message: str, caller: Caller | None = None) -> str:
        try:
            answer = service.ask(message, caller=caller)
            return answer_html(answer, service.suggestions() if not answer.found else None)
        except QAError as exc:
            return error_html(str(exc))
        except Exception:  # never a traceback in the page
            log.exception("answering failed")
            return error_html("Something went wrong while searching. Please try again.")

    def chat(message: str, history: list[Any] | None, request: gr.Request) -> tuple[str, list[Any]]:
        # The question is shown escaped, like everything else: displayed, never interpreted.
        shown = message if len(message) <= 300 else message[:300] + " …"
        reply = respond(message, Caller.from_request(request))
        turn = [{"role": "user", "content": esc(shown)}, {"role": "assistant", "content": reply}]
        return "", list(history or []) + turn

    def chat_example(history: list[Any] | None, evt: gr.SelectData, request: gr.Request) -> tuple[str, list[Any]]:
        value = evt.value.get("text", "") if isinstance(evt.value, dict) else str(evt.value)
        return chat(value, history, request)

    def ask(question: str, k: int = 3, request: gr.Request = None) -> dict[str, Any]:
        """Find the passages of the document collection that answer a question.

        Args:
            question: A question in plain language, at most 1000 characters.
            k: How many passages to return, from 1 to 10.

        Returns:
            The answer as JSON: found (false when nothing relevant exists), message, and hits (each with text, answer_sentence, source, start and end offsets, section, question and relevance).
        """
        try:
            caller = Caller.from_request(request) if request is not None else Caller("unknown")
            return service.ask(question, k=max(1, min(10, int(k))), caller=caller).to_dict()
        except QAError as exc:
            return {"question": question if isinstance(question, str) else "", "found": False,
                    "message": str(exc), "error": str(exc), "hits": []}
        except Exception:
            log.exception("api ask failed")
            return {"question": "", "found": False, "message": "internal error", "error": "internal error",
                    "hits": []}

    def corpus_view(status: str) -> tuple[Any, Any, Any, str]:
        names = [d.name for d in service.documents()]
        # Nothing is preselected and the confirmation is cleared after every action.
        return _doc_table(service), gr.update(choices=names, value=None), gr.update(value=False), status

    def ticker(progress: gr.Progress) -> Any:
        def tick(stage: str, done: int, total: int) -> None:
            if total:
                progress((done, total), desc=stage, unit="texts" if stage == "embedding" else "steps")
        return tick

    def guarded(action: Callable[[], str]) -> tuple[Any, Any, Any, str]:
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

    def add_files(password: str, files: list[str] | None, request: gr.Request, progress=gr.Progress()):
        if not files:
            return corpus_view("⚠️ Choose one or more .txt or .md files first.")
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
            chatbot = gr.Chatbot(
                height=560, label="Answers", latex_delimiters=[], elem_id="qa-chat", sanitize_html=True,
                placeholder="Ask a question about the documents, or start with an example:",
                examples=[{"text": q} for q in service.suggestions()] or None,
            )
            with gr.Row():
                box = gr.Textbox(placeholder=f"Ask a question (up to {MAX_QUESTION_CHARS} characters)",
                                 elem_id="qa-input", show_label=False, scale=8, submit_btn=True)
            box.submit(chat, [box, chatbot], [box, chatbot], api_visibility="private")
            chatbot.example_select(chat_example, [chatbot], [box, chatbot], api_visibility="private")
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
                                label=f".txt or .md files, up to {MAX_UPLOAD_BYTES // 1024} KB each")
                upload_btn = gr.Button("Upload and rebuild", elem_id="qa-upload-btn")
            with gr.Accordion("Remove a document", open=True):
                which = gr.Dropdown(choices=[d.name for d in service.documents()], value=None, label="Document",
                                    elem_id="qa-remove-choice")
                confirm = gr.Checkbox(value=False, label="Yes, delete this document from the corpus",
                                      elem_id="qa-remove-confirm")
                remove_btn = gr.Button("Remove and rebuild", variant="stop", elem_id="qa-remove")
            rebuild_btn = gr.Button("Rebuild index", elem_id="qa-rebuild")

        outputs = [docs, which, confirm, status]
        add_btn.click(add_text, [password, title, text], outputs, api_visibility="private").then(
            clear_if_added, [status, title, text], [title, text], api_visibility="private")
        upload_btn.click(add_files, [password, files], outputs, api_visibility="private")
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
                prevent_thread_lock=not block, css=CSS, max_file_size=4 * MAX_UPLOAD_BYTES,
                footer_links=["api"])
    return demo
