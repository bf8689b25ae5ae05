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
    assert "Relevance" in reply and "Interviewer asked" in reply
    assert page.locator("#qa-chat .bot").last.locator("mark").first.inner_text().startswith("The total revenue")
    assert "More passages" in reply
    shot(page, "answer")


def test_held_out_style_question(page):
    reply = ask(page, "Which universities in Hubei have strong biology programs?")
    assert "Huazhong Agricultural University" in reply


def test_off_topic_question_says_no_answer(page):
    reply = ask(page, "What is the weather like in Paris today?")
    assert "found no answer" in reply and "You could ask" in reply
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


def _open_corpus(page):
    page.get_by_role("tab", name="Corpus").click()
    page.locator("#qa-password input").fill(PASSWORD)


def _status(page, contains: str) -> str:
    page.wait_for_function(
        "s => (document.querySelector('#qa-status')?.innerText || '').includes(s)", arg=contains, timeout=120_000)
    return page.locator("#qa-status").inner_text()


def test_add_ask_remove_document(page):
    _open_corpus(page)
    page.locator("#qa-title textarea, #qa-title input").first.fill("Lighthouse notes")
    page.locator("#qa-text textarea").fill(
        "The Pelican Point lighthouse was lit in 1871. Its keeper, Ada Morrow, kept the lamp for 31 years.")
    page.locator("#qa-add").click()
    status = _status(page, "Index rebuilt")
    assert "Added Lighthouse notes.md" in status
    page.wait_for_function("() => document.querySelector('#qa-text textarea').value === ''", timeout=10_000)
    assert "Lighthouse notes.md" in page.locator("#qa-docs").inner_text()
    shot(page, "corpus-added")

    page.get_by_role("tab", name="Chat").click()
    reply = ask(page, "Who kept the lamp at Pelican Point lighthouse?")
    assert "Ada Morrow" in reply and "Lighthouse notes.md" in reply

    _open_corpus(page)
    page.locator("#qa-remove-choice input").click()
    page.get_by_role("option", name="Lighthouse notes.md").click()
    page.locator("#qa-remove").click()  # not confirmed yet: nothing happens
    _status(page, "Nothing was removed")
    assert "Lighthouse notes.md" in page.locator("#qa-docs").inner_text()
    page.locator("#qa-remove-choice input").click()
    page.get_by_role("option", name="Lighthouse notes.md").click()
    page.locator("#qa-remove-confirm input").check()
    page.locator("#qa-remove").click()
    _status(page, "Removed Lighthouse notes.md")
    page.get_by_role("tab", name="Chat").click()
    reply = ask(page, "Who kept the lamp at Pelican Point lighthouse?")
    assert "Ada Morrow" not in reply


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
    page.wait_for_timeout(1000)
    page.locator("#qa-upload-btn").click()
    status = _status(page, "payload")
    assert "not accepted" in status or "only .txt and .md" in status


def test_stored_html_is_shown_as_text(page, app_url):
    _open_corpus(page)
    page.locator("#qa-title textarea, #qa-title input").first.fill("Evil page")
    page.locator("#qa-text textarea").fill(
        "The zebra crossing rules say <img src=x onerror=alert(1)> and <script>alert(2)</script> are quoted.")
    page.locator("#qa-add").click()
    _status(page, "Index rebuilt")
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
    assert set(listed[0]["inputSchema"]["properties"]) == {"question", "k"}  # the request is not a tool argument
    call = httpx.post(url, headers=headers, timeout=60, json={
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "ask", "arguments": {"question": "What is the total revenue of the park?", "k": 1}}}).text
    assert "120 billion yuan" in call
