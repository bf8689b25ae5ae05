"""Take the README's screenshots (docs/answer.png, docs/closest.png, docs/source.png) in Chromium.

Starts the app on a copy of corpus/ (and index/, if built) in a temporary folder, asks
questions like a user and photographs the chat. Usage: python docs/screenshots.py
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ask(page, question: str) -> None:
    before = page.locator("#qa-chat .bot").count()
    page.locator("#qa-input textarea").fill(question)
    page.locator("#qa-input textarea").press("Enter")
    page.wait_for_function("n => document.querySelectorAll('#qa-chat .bot').length > n && "
                           "!document.querySelector('#qa-chat .pending')", arg=before, timeout=60_000)
    page.wait_for_timeout(500)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        shutil.copytree(ROOT / "corpus", base / "corpus")
        if (ROOT / "index").exists():
            shutil.copytree(ROOT / "index", base / "index")
        port = _port()
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), "--corpus",
                                 str(base / "corpus"), "--index", str(base / "index")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(600):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.5)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS, headless=True)
                for name, question, source in (("answer", "What is the total revenue of the park?", False),
                                               ("closest", "How are employees trained?", False),
                                               ("source", "Which two companies have revenue above 10 billion yuan?",
                                                True)):
                    page = browser.new_page(viewport={"width": 1280, "height": 860})
                    page.goto(f"http://127.0.0.1:{port}")
                    page.wait_for_selector("#qa-input textarea", timeout=120_000)
                    _ask(page, question)
                    # Show the reply from its top (the chat scrolls to its end).
                    page.evaluate("() => { const b = [...document.querySelectorAll('#qa-chat .bot')].pop();"
                                  " b.scrollIntoView({block: 'start'}); window.scrollTo(0, 0); }")
                    if source:
                        page.locator("#qa-chat .bot").last.locator("a.qa-open").first.click()
                        page.locator("#qa-viewer #qa-hl").wait_for(timeout=30_000)
                        page.wait_for_timeout(800)
                    page.screenshot(path=str(ROOT / "docs" / f"{name}.png"))
                    page.close()
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
