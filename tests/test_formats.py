"""HTML, PDF and DOCX end to end: added from the CLI and the service, answered with their sources."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa import Retriever, build_index
from qa.service import QAService

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def qa(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def formats_index(tmp_path_factory):
    base = tmp_path_factory.mktemp("formats")
    corpus = base / "corpus"
    corpus.mkdir()
    for name in ("wikipedia_mozilla_2015.pdf", "docusaurus_2021_recap.docx", "v8_blog_standalone_wasm.html"):
        shutil.copy(FIXTURES / name, corpus / name)
    build_index(corpus, base / "index")
    return corpus, base / "index"


def test_every_format_is_indexed_with_its_extracted_text(formats_index):
    _, index = formats_index
    r = Retriever.load(index)
    assert r.documents() == ["docusaurus_2021_recap.docx", "v8_blog_standalone_wasm.html", "wikipedia_mozilla_2015.pdf"]
    for name in r.documents():
        doc = r.document(name)
        assert doc.text and doc.title
    hit = r.search("Which rendering engine does Firefox use?", k=3)
    pdf = next(h for h in hit if h.source.endswith(".pdf"))
    doc = r.document(pdf.source)
    assert doc.text[pdf.start:pdf.end] == pdf.text and pdf.page == doc.page_at(pdf.start) and pdf.page >= 1
    html = r.search("How do you build a standalone WebAssembly file with Emscripten?", k=3)[0]
    assert html.source.endswith(".html") and r.document(html.source).text[html.start:html.end] == html.text


def test_cli_adds_pdf_docx_html_and_answers_with_page(tmp_path, formats_index):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "note.txt").write_text("The shop sells fresh bread every morning from seven o'clock.\n")
    paths = [str(FIXTURES / n) for n in ("wikipedia_mozilla_2015.pdf", "docusaurus_2021_recap.docx",
                                         "v8_blog_standalone_wasm.html")]
    out = qa("add", *paths, "--corpus", str(corpus), "--index", str(index))
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("added ") == 3 and "4 files" in out.stdout
    out = qa("ask", "Which rendering engine does Firefox use?", "--index", str(index), "--corpus", str(corpus))
    assert out.returncode == 0 and "wikipedia_mozilla_2015.pdf, p. " in out.stdout
    # The recap names no author, so "who wrote it" may rightly get "not in the documents";
    # who created the project, it does say.
    out = qa("ask", "Who created Docusaurus?", "--json", "--index", str(index), "--corpus", str(corpus))
    top = json.loads(out.stdout)["hits"][0]
    assert top["source"] == "docusaurus_2021_recap.docx" and "Joel Marcey for creating" in top["answer_sentence"]
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 this is not a PDF")
    out = qa("add", str(bad), "--corpus", str(corpus), "--index", str(index))
    assert out.returncode == 1 and "not a readable PDF" in out.stderr and "Traceback" not in out.stderr
    assert not (corpus / "broken.pdf").exists()
    # One line, "error: ...": pypdf's own warnings ("invalid pdf header") are not printed beside it.
    bad.write_bytes(bytes(range(256)) * 16)
    out = qa("add", str(bad), "--corpus", str(corpus), "--index", str(index))
    assert out.returncode == 1 and out.stderr.strip().splitlines() == [
        "error: broken.pdf: not a readable PDF (PdfStreamError); re-save or export it again"], out.stderr


def test_inspect_shows_passages_and_dropped_lines():
    out = qa("inspect", str(FIXTURES / "wikipedia_mozilla_2015.pdf"))
    assert out.returncode == 0, out.stderr
    assert "pdf, title 'Mozilla'" in out.stdout and " p. 3" in out.stdout
    assert "chrome (running header or footer): Mozilla - Wikipedia - page 2" in out.stdout
    data = json.loads(qa("inspect", "--json", str(FIXTURES / "opensource_com_eda_coloring_book_interview.md")).stdout)
    assert {d["rule"] for d in data["dropped"]} >= {"link reference"}
    assert sum(1 for p in data["passages"] if p["question"]) >= 6
    # A byline is indexed as a passage of its own, so it is not listed as set aside.
    data = json.loads(qa("inspect", "--json", str(FIXTURES / "v8_blog_standalone_wasm.html")).stdout)
    assert any(p["text"] == "Posted by Alon Zakai." for p in data["passages"])
    assert not any("Alon Zakai" in d["text"] for d in data["dropped"])
    # A document with no title shows the one its file name gives to what is indexed.
    out = qa("inspect", str(FIXTURES / "fosdem_2016_dave_neary_interview.txt"))
    assert "text, title 'fosdem 2016 dave neary interview' (from the file name, where no heading gives one)," in out.stdout
    data = json.loads(qa("inspect", "--json", str(FIXTURES / "fosdem_2016_dave_neary_interview.txt")).stdout)
    assert data["title"] is None and data["indexed_title"] == "fosdem 2016 dave neary interview"


def test_inspect_says_no_title_rather_than_none(tmp_path):
    # A file name that gives no title ("notes.txt" names no subject) and one paragraph.
    path = tmp_path / "notes.txt"
    path.write_text("The boiler is serviced every spring by the landlord.\n", encoding="utf-8")
    out = qa("inspect", str(path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "notes.txt: text, no title, 1 passage, 0 blocks set aside"


def test_service_accepts_uploaded_pdf_and_docx(tmp_path):
    service = QAService(tmp_path / "corpus", tmp_path / "index", admin_password="pw")
    added, errors = service.add_files("pw", [str(FIXTURES / "wikipedia_mozilla_2015.pdf"),
                                             str(FIXTURES / "docusaurus_2021_recap.docx"), str(FIXTURES / "FIXTURES.md")])
    assert sorted(added) == ["FIXTURES.md", "docusaurus_2021_recap.docx", "wikipedia_mozilla_2015.pdf"] and not errors
