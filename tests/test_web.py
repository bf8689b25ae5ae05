"""The real app in a real browser (Debian's Chromium driven by Playwright), plus its API."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
PASSWORD = "test-admin-pw"

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, interview_index):
    corpus, index = interview_index
    base = tmp_path_factory.mktemp("web")
    shutil.copytree(corpus, base / "corpus")
    shutil.copytree(index, base / "index")
    port = _free_port()
    log = open(base / "app.log", "w")
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve().parents[1] / "app.py"), "--port", str(port),
         "--corpus", str(base / "corpus"), "--index", str(base / "index"), "--admin-password", PASSWORD],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail("app exited early:\n" + (base / "app.log").read_text())
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("app did not start:\n" + (base / "app.log").read_text())
    yield url, base
    proc.terminate()
    proc.wait(timeout=30)
    log.close()
    assert "Traceback" not in (base / "app.log").read_text()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        # Never skip silently: `make test` installs Chromium, so its absence is a failure.
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    pg = ctx.new_page()
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.dialogs = dialogs  # type: ignore[attr-defined]
    pg.goto(app_url[0])
    pg.wait_for_selector("#qa-input textarea", timeout=60_000)
    yield pg
    ctx.close()


def ask(page, question: str) -> str:
    """Type a question like a user and return the text of the newest reply."""
    bots = page.locator("#qa-chat .bot")
    before = bots.count()
    box = page.locator("#qa-input textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('#qa-chat .bot').length > n && "
        "!document.querySelector('#qa-chat .pending')", arg=before, timeout=60_000)
    page.wait_for_timeout(300)
    return bots.last.inner_text()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_examples_on_first_screen(page):
    examples = page.locator("#qa-chat").get_by_role("button")
    assert examples.count() >= 2
    shot(page, "first-screen")


def test_dev_question_shows_passage_and_source(page):
    reply = ask(page, "What is the total revenue of the park?")
    assert "120 billion yuan" in reply
    assert "optics_valley_interview.txt" in reply
    assert "Confidence" in reply and "Interviewer" in reply
    assert page.locator("#qa-chat .bot").last.locator("mark").first.inner_text().startswith("The total revenue")
    assert "More passages" in reply
    shot(page, "answer")


def test_held_out_style_question(page):
    reply = ask(page, "Which universities in Hubei have strong biology programs?")
    assert "Huazhong Agricultural University" in reply


def test_off_topic_question_says_no_answer(page):
    reply = ask(page, "What is the weather like in Paris today?")
    assert "Not in the documents" in reply and "You could ask" in reply
    assert "optics_valley_interview.txt" not in reply


def test_too_long_question_gets_a_message(page):
    reply = ask(page, "why " * 400)
    assert "limit is 1,000" in reply


def test_html_in_question_is_inert(page):
    reply = ask(page, "<img src=x onerror=alert(1)> revenue?")
    page.wait_for_timeout(500)
    assert page.dialogs == []
    assert page.locator("#qa-chat img[src='x']").count() == 0
    assert reply


# How long an upload may take to show in the file picker. Gradio sends the file to the server first:
# 10 s was passed on a quiet machine and missed once on a loaded one (a benchmark on the other core).
UPLOAD_SHOWN_MS = 60_000


def _open_corpus(page):
    page.get_by_role("tab", name="Corpus").click()
    page.locator("#qa-password input").fill(PASSWORD)


def _status(page, contains: str) -> str:
    page.wait_for_function(
        "s => (document.querySelector('#qa-status')?.innerText || '').includes(s)", arg=contains, timeout=120_000)
    return page.locator("#qa-status").inner_text()


def _add_text(page, title: str, text: str) -> str:
    """Paste a document in the Corpus tab and wait for the rebuild; returns the status line."""
    _open_corpus(page)
    page.locator("#qa-title textarea, #qa-title input").first.fill(title)
    page.locator("#qa-text textarea").fill(text)
    page.locator("#qa-add").click()
    return _status(page, "Index rebuilt")


def _choose(page, dropdown: str, option: str) -> None:
    page.locator(f"{dropdown} input").click()
    page.get_by_role("option", name=option).click()


def test_add_ask_remove_document(page):
    status = _add_text(page, "Lighthouse notes",
                       "The Pelican Point lighthouse was lit in 1871. Its keeper, Ada Morrow, kept the lamp for 31 years.")
    assert "Added Lighthouse-notes.md" in status
    page.wait_for_function("() => document.querySelector('#qa-text textarea').value === ''", timeout=10_000)
    assert "Lighthouse-notes.md" in page.locator("#qa-docs").inner_text()
    shot(page, "corpus-added")

    page.get_by_role("tab", name="Chat").click()
    reply = ask(page, "Who kept the lamp at Pelican Point lighthouse?")
    assert "Ada Morrow" in reply and "Lighthouse-notes.md" in reply

    _open_corpus(page)
    _choose(page, "#qa-remove-choice", "Lighthouse-notes.md")
    page.locator("#qa-remove").click()  # not confirmed yet: nothing happens
    _status(page, "Nothing was removed")
    assert "Lighthouse-notes.md" in page.locator("#qa-docs").inner_text()
    _choose(page, "#qa-remove-choice", "Lighthouse-notes.md")
    page.locator("#qa-remove-confirm input").check()
    page.locator("#qa-remove").click()
    _status(page, "Removed Lighthouse-notes.md")
    page.get_by_role("tab", name="Chat").click()
    reply = ask(page, "Who kept the lamp at Pelican Point lighthouse?")
    assert "Ada Morrow" not in reply


def test_answers_can_be_kept_to_one_document(page):
    _add_text(page, "Harbour museum",
              "The Harbour Museum keeps 340 ship models. Its newest hall, opened in 2019, shows the park's history.")
    page.get_by_role("tab", name="Chat").click()
    question = "What is the total revenue of the park?"
    assert "120 billion yuan" in ask(page, question)
    _choose(page, "#qa-scope", "Harbour-museum.md")
    reply = ask(page, question)
    assert "120 billion yuan" not in reply and "optics_valley_interview.txt" not in reply
    assert "Harbour-museum.md" in reply and "You could ask" not in reply
    shot(page, "answer-from-one-document")
    _choose(page, "#qa-scope", "All documents")
    assert "120 billion yuan" in ask(page, question)

    # Removing the document chosen puts the choice back to all documents.
    _choose(page, "#qa-scope", "Harbour-museum.md")
    _open_corpus(page)
    _choose(page, "#qa-remove-choice", "Harbour-museum.md")
    page.locator("#qa-remove-confirm input").check()
    page.locator("#qa-remove").click()
    _status(page, "Removed Harbour-museum.md")
    page.get_by_role("tab", name="Chat").click()
    assert page.locator("#qa-scope input").input_value() == "All documents"
    assert "120 billion yuan" in ask(page, question)


def test_wrong_password_is_refused(page):
    page.get_by_role("tab", name="Corpus").click()
    page.locator("#qa-password input").fill("wrong")
    page.locator("#qa-title textarea, #qa-title input").first.fill("x")
    page.locator("#qa-text textarea").fill("Some text.")
    page.locator("#qa-add").click()
    assert "wrong admin password" in _status(page, "wrong admin password")
    page.wait_for_timeout(500)
    assert page.locator("#qa-text textarea").input_value() == "Some text."  # nothing typed is lost


def test_upload_of_bad_type_shows_error(page, tmp_path):
    bad = tmp_path / "payload.exe"
    bad.write_bytes(b"MZ\x90\x00binary")
    _open_corpus(page)
    page.locator("#qa-upload input[type=file]").set_input_files(str(bad))
    # The picker accepts only the supported types: the browser refuses the file before uploading it.
    page.get_by_text("Invalid file type: payload.exe").wait_for(timeout=10_000)
    page.locator("#qa-upload-btn").click()
    assert "Choose one or more" in _status(page, "Choose one or more")


def test_stored_html_is_shown_as_text(page, app_url):
    _add_text(page, "Evil page",
              "The zebra crossing rules say <img src=x onerror=alert(1)> and <script>alert(2)</script> are quoted.")
    page.get_by_role("tab", name="Chat").click()
    reply = ask(page, "What do the zebra crossing rules say?")
    page.wait_for_timeout(800)
    assert "<img src=x onerror=alert(1)>" in reply  # visible as text
    assert page.dialogs == []
    assert page.locator("#qa-chat img[src='x']").count() == 0
    shot(page, "escaped-html")


def test_api_endpoint_with_gradio_client(app_url):
    from gradio_client import Client

    client = Client(app_url[0], verbose=False)
    result = client.predict("How many enterprises are registered in Optics Valley Bio City?", 2, api_name="/ask")
    assert result["found"] is True and len(result["hits"]) == 2
    assert any("1,200" in h["text"] for h in result["hits"])
    bad = client.predict("", 3, api_name="/ask")
    assert bad["found"] is False and "empty" in bad["error"]
    kept = client.predict("How many enterprises are registered in Optics Valley Bio City?", 2, [],
                          ["optics_valley_interview.txt"], api_name="/ask")
    assert [h["text"] for h in kept["hits"]] == [h["text"] for h in result["hits"]]
    unknown = client.predict("How many enterprises are there?", 2, [], ["nope.md"], api_name="/ask")
    assert unknown["found"] is False and unknown["error"].startswith("no document 'nope.md' in the index")
    one = client.predict("How many enterprises are there?", 2, [], "nope.md", api_name="/ask")
    assert one["error"].startswith("no document 'nope.md' in the index")  # a string is one name, not ignored
    assert client.predict("How many enterprises are registered in Optics Valley Bio City?", 2, [], [],
                          api_name="/ask")["hits"] == result["hits"]
    # A lone surrogate ("\ud800" in the JSON) once reached the tokenizer: "internal error".
    # Sent as raw JSON: gradio_client cannot encode it, other clients can. The reply must not echo it
    # back: Gradio's queue (orjson, what the page and gradio_client read) refuses to encode it.
    import httpx

    body = b'{"data": ["How many enterprises are \\ud800 registered in Optics Valley Bio City?", 2, [], null]}'
    event = httpx.post(app_url[0] + "/gradio_api/call/ask", content=body, timeout=60,
                       headers={"Content-Type": "application/json"}).json()["event_id"]
    stream = httpx.get(app_url[0] + f"/gradio_api/call/ask/{event}", timeout=60).text
    assert "\\ud800" not in stream
    odd = json.loads(next(line[5:] for line in stream.splitlines() if line.startswith("data:")))[0]
    assert "error" not in odd and odd["found"] and any("1,200" in h["text"] for h in odd["hits"])
    assert odd["question"] == "How many enterprises are registered in Optics Valley Bio City?"
    huge = client.predict("why " * 50_000, 2, api_name="/ask")
    assert "limit is 1,000" in huge["error"] and len(huge["question"]) == 1000  # not 200,000 characters echoed


def test_mcp_tool_answers(app_url):
    import httpx

    url = app_url[0] + "/gradio_api/mcp/"
    headers = {"Accept": "application/json, text/event-stream"}
    tools = httpx.post(url, headers=headers, timeout=60,
                       json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}).text
    body = tools if tools.lstrip().startswith("{") else next(
        ln[len("data:"):] for ln in tools.splitlines() if ln.startswith("data:"))
    listed = json.loads(body)["result"]["tools"]
    assert [t["name"] for t in listed] == ["ask"]  # editing is not exposed to agents
    # The request is not a tool argument; the conversation so far and the documents to answer from are (optional).
    assert set(listed[0]["inputSchema"]["properties"]) == {"question", "k", "history", "documents"}
    call = httpx.post(url, headers=headers, timeout=60, json={
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "ask", "arguments": {"question": "What is the total revenue of the park?", "k": 1}}}).text
    assert "120 billion yuan" in call
    call = httpx.post(url, headers=headers, timeout=60, json={
        "jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "ask", "arguments": {"question": "What is the total revenue of the park?", "k": 1,
                                                 "documents": ["nope.md"]}}}).text
    assert "no document 'nope.md' in the index" in call


# ---------------------------------------------------------------- conversation, evidence, sources, feedback


def _last_reply(page):
    return page.locator("#qa-chat .bot").last


def test_follow_up_conversation(page):
    first = ask(page, "How many enterprises are registered in Optics Valley Bio City?")
    assert "1,200" in first and "Searched for" not in first  # a question that stands alone is left alone
    reply = ask(page, "And what is its total revenue?")
    assert "Searched for: What is Optics Valley Bio City's total revenue?" in reply
    assert "120 billion yuan" in _last_reply(page).locator(".qa-headline").inner_text()


def test_three_evidence_tiers(page):
    # Tiers come from the calibrated confidence (qa/models/confidence.json): this question's
    # top passage scores above the "answer" threshold, the parks question between the two.
    ask(page, "How many enterprises are registered in Optics Valley Bio City?")
    card = _last_reply(page)
    assert card.locator(".qa-badge-answer").inner_text() == "Answer"
    headline = card.locator(".qa-headline").inner_text()
    assert "1,200 enterprises" in headline and "Interviewer" not in headline
    # The interviewer's question is shown once, labelled, and not again inside the passage.
    assert card.locator(".qa-question .qa-interviewer").first.inner_text().lower() == "interviewer"
    passage = card.locator(".qa-passage").first.inner_text()
    assert "what is the number of enterprises" not in passage.lower() and "Practice 101" not in passage
    shot(page, "answer-card")

    ask(page, "What is the total revenue of the park?")
    assert "respectively Renfu" in _last_reply(page).locator(".qa-passage").first.inner_text()  # glued sentences spaced

    ask(page, "Which parks rank ahead of Optics Valley Bio City?")
    card = _last_reply(page)
    assert "Closest passage, may not answer" in card.locator(".qa-badge-closest").inner_text()
    assert card.locator(".qa-tier-closest").count() == 1 and card.locator(".qa-badge-answer").count() == 0
    weight = card.locator(".qa-headline").evaluate("e => getComputedStyle(e).fontWeight")
    assert int(weight) < 600  # no bold headline for a passage that may not answer
    shot(page, "closest")

    reply = ask(page, "What is the weather like in Paris today?")
    assert "Not in the documents" in reply
    assert _last_reply(page).locator("a.qa-suggest").count() >= 1


def test_open_source_highlights_passage(page):
    ask(page, "What is the total revenue of the park?")
    _last_reply(page).locator("a.qa-open").first.click()
    viewer = page.locator("#qa-viewer")
    viewer.locator("#qa-hl").wait_for(timeout=30_000)
    assert "optics_valley_interview.txt" in viewer.locator(".qa-doc-head").inner_text()
    assert viewer.locator("#qa-hl mark").inner_text().startswith("The total revenue of Guanggu Bio City")
    # The whole document is there, and the passage has been scrolled into view.
    assert "Research Institute of Listed Companies" in viewer.inner_text()
    page.wait_for_timeout(500)
    box, hl = viewer.bounding_box(), viewer.locator("#qa-hl mark").bounding_box()
    assert box["y"] <= hl["y"] <= box["y"] + box["height"]
    shot(page, "source")


def test_suggestion_click_asks_it(page):
    ask(page, "What is the weather like in Paris today?")
    link = _last_reply(page).locator("a.qa-suggest").first
    question = link.inner_text()
    before = page.locator("#qa-chat .bot").count()
    link.click()
    page.wait_for_function("n => document.querySelectorAll('#qa-chat .bot').length > n && "
                           "!document.querySelector('#qa-chat .pending')", arg=before, timeout=60_000)
    page.wait_for_timeout(300)
    assert page.locator("#qa-chat .user").last.inner_text().strip() == question
    assert _last_reply(page).locator(".qa-badge-answer").count() == 1


def test_thumbs_up_is_logged(page, app_url):
    log = app_url[1] / "index" / "feedback.jsonl"
    before = log.read_text().count("\n") if log.exists() else 0
    ask(page, "What is the total revenue of the park?")
    page.locator("#qa-chat .bot").last.hover()
    page.locator("#qa-chat button[aria-label='Like']").last.click()
    deadline = time.time() + 20
    while time.time() < deadline and (not log.exists() or log.read_text().count("\n") <= before):
        time.sleep(0.2)
    vote = json.loads(log.read_text().splitlines()[-1])
    assert vote["vote"] == "up" and vote["question"] == "What is the total revenue of the park?"
    assert vote["hits"][0]["source"] == "optics_valley_interview.txt" and vote["generation"]
    assert "120 billion yuan" in vote["hits"][0]["answer_sentence"]


def test_api_takes_history(app_url):
    from gradio_client import Client

    client = Client(app_url[0], verbose=False)
    out = client.predict("And what is its total revenue?", 1, ["How many companies are in Optics Valley Bio City?"],
                         api_name="/ask")
    assert out["searched_for"] == "What is Optics Valley Bio City's total revenue?"
    assert "120 billion yuan" in out["hits"][0]["text"]
    alone = client.predict("What is the total revenue of the park?", 1,
                           [{"question": "Who is Li Bing?", "answer": "director"}], api_name="/ask")
    assert alone["searched_for"] == "What is the total revenue of the park?"


def test_refused_upload_is_cleared_from_the_picker(page, tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("Caf\xe9 cr\xe8me".encode("latin-1") * 50)
    _open_corpus(page)
    page.locator("#qa-upload input[type=file]").set_input_files(str(bad))
    page.locator("#qa-upload").get_by_text("latin1.txt").wait_for(timeout=UPLOAD_SHOWN_MS)
    page.locator("#qa-upload-btn").click()
    status = _status(page, "latin1.txt")
    assert "⚠️" in status and "Added" not in status
    page.wait_for_function("() => !document.querySelector('#qa-upload').innerText.includes('latin1.txt')",
                           timeout=UPLOAD_SHOWN_MS)


def test_index_times_are_in_words(page):
    page.get_by_role("tab", name="Corpus").click()
    table = page.locator("#qa-docs").inner_text()
    assert " ago (" in table or "just now (" in table
    assert "+00:00" not in table


def test_pdf_upload_is_answered_with_its_page(page, app_url, tmp_path):
    """A PDF over the 1 MB text limit is uploaded through the Corpus tab, indexed, and answered with its page.

    Last in the file: the uploaded document is removed again at the end, but it changes the corpus.
    """
    fixture = (Path(__file__).resolve().parent / "fixtures" / "wikipedia_mozilla_2015.pdf").read_bytes()
    pdf = tmp_path / "wikipedia_mozilla_2015.pdf"
    pdf.write_bytes(fixture + b"\n" + b"\xff" * (1536 * 1024))  # still readable: bytes after its end marker
    _open_corpus(page)
    page.locator("#qa-upload input[type=file]").set_input_files(str(pdf))
    page.locator("#qa-upload").get_by_text(pdf.name).wait_for(timeout=UPLOAD_SHOWN_MS)
    page.locator("#qa-upload-btn").click()
    status = _status(page, "Index rebuilt")
    assert f"Added {pdf.name}" in status and "⚠️" not in status
    assert pdf.name in page.locator("#qa-docs").inner_text()

    from qa.readers import read

    answer = "Firefox uses the Gecko layout engine"
    extracted = read(pdf.name, fixture)
    on_page = extracted.page_at(extracted.text.index(answer))
    page.get_by_role("tab", name="Chat").click()
    reply = ask(page, "Which rendering engine does Firefox use?")
    assert answer in reply and pdf.name in reply
    assert f"{pdf.name} · p. {on_page}" in reply, reply
    shot(page, "pdf-answer")

    (app_url[1] / "corpus" / pdf.name).unlink()
    _open_corpus(page)
    page.locator("#qa-rebuild").click()
    page.wait_for_function("() => (document.querySelector('#qa-status')?.innerText || '').trim()"
                           ".startsWith('Index rebuilt')", timeout=120_000)
    assert pdf.name not in page.locator("#qa-docs").inner_text()
