"""The Gradio web app: a chat tab, a corpus tab, an ``/ask`` API endpoint and an MCP tool.

All behaviour lives in :class:`qa.service.QAService`; this module only lays
out components and turns results and errors into what the page shows.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home: there is no internet

import gradio as gr  # noqa: E402

from .errors import QAError  # noqa: E402
from .render import answer_html, error_html, esc  # noqa: E402
from .search import MAX_QUESTION_CHARS  # noqa: E402
from .service import MAX_UPLOAD_BYTES, QAService  # noqa: E402

log = logging.getLogger("qa.web")

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


def create_app(service: QAService) -> gr.Blocks:
    """Lay out the app around a service. Call ``.launch()`` on the result, or use :func:`serve`."""

    def respond(message: str) -> str:
        try:
            answer = service.ask(message)
            return answer_html(answer, service.suggestions() if not answer.found else None)
        except QAError as exc:
            return error_html(str(exc))
        except Exception:  # never a traceback in the page
            log.exception("answering failed")
            return error_html("Something went wrong while searching. Please try again.")

    def chat(message: str, history: list[Any] | None) -> tuple[str, list[Any]]:
        # The question is shown escaped, like everything else: displayed, never interpreted.
        shown = message if len(message) <= 300 else message[:300] + " …"
        turn = [{"role": "user", "content": esc(shown)}, {"role": "assistant", "content": respond(message)}]
        return "", list(history or []) + turn

    def chat_example(history: list[Any] | None, evt: gr.SelectData) -> tuple[str, list[Any]]:
        value = evt.value.get("text", "") if isinstance(evt.value, dict) else str(evt.value)
        return chat(value, history)

    def ask(question: str, k: int = 3) -> dict[str, Any]:
        """Find the passages of the document collection that answer a question.

        Args:
            question: A question in plain language, at most 1000 characters.
            k: How many passages to return, from 1 to 10.

        Returns:
            The answer as JSON: found (false when nothing relevant exists), message, and hits (each with text, answer_sentence, source, start and end offsets, section, question and relevance).
        """
        try:
            return service.ask(question, k=max(1, min(10, int(k)))).to_dict()
        except QAError as exc:
            return {"question": question if isinstance(question, str) else "", "found": False,
                    "message": str(exc), "error": str(exc), "hits": []}
        except Exception:
            log.exception("api ask failed")
            return {"question": "", "found": False, "message": "internal error", "error": "internal error",
                    "hits": []}

    def corpus_view(status: str) -> tuple[Any, Any, str]:
        names = [d.name for d in service.documents()]
        return _doc_table(service), gr.update(choices=names, value=None), status

    def rebuild_after(prefix: str, progress: gr.Progress) -> str:
        def tick(stage: str, done: int, total: int) -> None:
            if total:
                progress((done, total), desc=stage, unit="texts" if stage == "embedding" else "steps")

        report = service.rebuild(progress=tick)
        return f"{prefix}Index rebuilt: {esc(report.summary())}."

    def guarded(action):
        def run(*args, progress=gr.Progress()):
            try:
                return corpus_view(action(*args, progress=progress))
            except QAError as exc:
                return corpus_view(f"⚠️ {esc(str(exc))}")
            except Exception:
                log.exception("corpus action failed")
                return corpus_view("⚠️ Something went wrong; the corpus and the index are unchanged.")
        return run

    def add_text(password: str, title: str, text: str, progress: gr.Progress) -> str:
        doc = service.add_text(password, title, text)
        return rebuild_after(f"Added {esc(doc.name)}. ", progress)

    def clear_if_added(status_html: str, title_now: str, text_now: str) -> tuple[str, str]:
        # Keep what was typed when the add failed, so that nothing is lost.
        return ("", "") if status_html.startswith("Added") else (title_now, text_now)

    def add_files(password: str, files: list[str] | None, progress: gr.Progress) -> str:
        if not files:
            return "⚠️ Choose one or more .txt or .md files first."
        added, errors = service.add_files(password, [f if isinstance(f, str) else f.name for f in files])
        msg = "".join(f"⚠️ {esc(e)}<br>" for e in errors)
        if added:
            msg += rebuild_after(f"Added {esc(', '.join(added))}. ", progress)
        return msg

    def remove(password: str, name: str | None, progress: gr.Progress) -> str:
        if not name:
            return "⚠️ Choose a document to remove."
        service.remove(password, name)
        return rebuild_after(f"Removed {esc(name)}. ", progress)

    def rebuild(password: str, progress: gr.Progress) -> str:
        service.check_edit(password)
        return rebuild_after("", progress)

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
                    "Edits are allowed without a password (loopback only)." if service.can_edit_without_password()
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
                which = gr.Dropdown(choices=[d.name for d in service.documents()], label="Document",
                                    elem_id="qa-remove-choice")
                remove_btn = gr.Button("Remove and rebuild", variant="stop", elem_id="qa-remove")
            rebuild_btn = gr.Button("Rebuild index", elem_id="qa-rebuild")

        outputs = [docs, which, status]
        add_btn.click(guarded(add_text), [password, title, text], outputs, api_visibility="private").then(
            clear_if_added, [status, title, text], [title, text], api_visibility="private")
        upload_btn.click(guarded(add_files), [password, files], outputs, api_visibility="private")
        remove_btn.click(guarded(remove), [password, which], outputs, api_visibility="private")
        rebuild_btn.click(guarded(rebuild), [password], outputs, api_visibility="private")
        gr.api(ask, api_name="ask")
    return demo


def serve(corpus: str = "corpus", index: str = "index", host: str = "127.0.0.1", port: int = 7860,
          admin_password: str | None = None, allow_edits: bool = False, block: bool = True) -> gr.Blocks:
    """Build the index if needed, then start the app.

    Args:
        block: Wait until the server stops (False returns the running app, for tests).
    """
    from tqdm import tqdm

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)
    service = QAService(corpus, index, admin_password=admin_password, allow_edits=allow_edits, host=host)
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
    demo.queue(default_concurrency_limit=4)
    demo.launch(server_name=host, server_port=port, mcp_server=True, ssr_mode=False, show_error=False,
                prevent_thread_lock=not block, css=CSS, max_file_size=4 * MAX_UPLOAD_BYTES,
                footer_links=["api"])
    return demo
