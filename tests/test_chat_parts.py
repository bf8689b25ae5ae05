"""The pieces behind the chat: votes log, pasted titles, suggestions, answer cards and the source viewer."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from qa import feedback as fb
from qa.cli import main
from qa.render import answer_html, card, parse_source_link, source_html, source_link, spans_html
from qa.service import QAService, readable_name, titled
from qa.store import SourceDocument


def test_votes_are_appended_summarized_and_become_questions(tmp_path, workspace):
    corpus, index = workspace
    service = QAService(corpus, index)
    answer = service.ask("What is the total revenue of the park?")
    service.vote("up", "What is the total revenue of the park?", "What is the total revenue of the park?", answer)
    service.vote("down", "How are employees trained?", "How are employees trained?",
                 service.ask("How are employees trained?"))
    lines = (index / "feedback.jsonl").read_text().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["vote"] == "up" and first["generation"] == service.retriever.generation
    assert first["hits"][0]["start"] == answer.hits[0].start and first["time_utc"].endswith("Z")

    out = tmp_path / "confirmed.jsonl"
    res = CliRunner().invoke(main, ["eval", "--index", str(index), "--feedback", "--write-questions", str(out)])
    assert res.exit_code == 0, res.output
    assert "votes 2: 👍 1  👎 1" in res.output and "How are employees trained?" in res.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert rows == [{"question": "What is the total revenue of the park?",
                     "answer_contains": [answer.hits[0].answer_sentence]}]
    again = CliRunner().invoke(main, ["eval", str(out), "--index", str(index)])
    assert again.exit_code == 0 and "hit@1 1.000" in again.output


def test_feedback_log_missing_is_one_line(tmp_path):
    res = CliRunner().invoke(main, ["eval", "--feedback", str(tmp_path / "none.jsonl")])
    assert res.exit_code == 1 and "no feedback at" in res.output and "Traceback" not in res.output


def test_half_written_vote_lines_are_skipped(tmp_path):
    p = tmp_path / "f.jsonl"
    fb.record(p, fb.Vote("up", "q", "q", "answer", "g", (fb.Shown("a.md", 0, 5, 0, 3, "abc"),), 1.0))
    with open(p, "a") as fh:
        fh.write('{"vote": "up", "quest')
    assert len(fb.read(p)) == 1


def test_pasted_title_is_heading_and_readable_name(workspace):
    assert readable_name("Lighthouse notes") == "Lighthouse-notes.md"
    assert readable_name("  Été à Paris!  ") == "Été-à-Paris.md"
    assert readable_name("../../etc/passwd") == "etc-passwd.md" and readable_name("a/b/c.md") == "a-b-c.md"
    assert readable_name("../../") == "document.md"
    assert titled("Lighthouse notes", "The lamp was lit.") == "# Lighthouse notes\n\nThe lamp was lit."
    assert titled("Lighthouse notes", "Lighthouse notes\n\nThe lamp.") == "# Lighthouse notes\n\nThe lamp."
    corpus, index = workspace
    service = QAService(corpus, index, allow_edits=True)
    doc = service.add_text(None, "Lighthouse notes", "The Pelican Point lighthouse was lit in 1871.")
    assert doc.name == "Lighthouse-notes.md"
    assert (corpus / doc.name).read_text().startswith("# Lighthouse notes\n\n")


def test_suggestions_stand_alone_and_are_answered(workspace):
    corpus, index = workspace
    service = QAService(corpus, index)
    tips = service.suggestions()
    assert 2 <= len(tips) <= 4
    for q in tips:
        assert service.ask(q).tier == "answer"
        assert " it " not in f" {q.lower()} " and "this" not in q.lower() and "you" not in q.lower()


def test_answer_card_shows_question_once_and_spaces_glued_words(retriever):
    answer = retriever.answer("Which two companies have revenue above 10 billion yuan?")
    html = answer_html(answer)
    hit = answer.hits[0]
    c = card(hit)
    assert c.interviewer == "Practice 101 in the financial world"
    assert html.count("what is the total revenue of Optics Valley Bio City") == 1
    assert "respectively Renfu Medicine And Hubei" in html
    assert hit.text[c.headline[0] - hit.start:c.headline[1] - hit.start].startswith("At present, there are two")
    assert '<span class="qa-speaker">Li Brigade</span>' in html and "financial world:" not in html
    assert retriever.document(hit.source).text[hit.start:hit.end] == hit.text  # offsets untouched


def test_glue_is_display_only_and_spares_names():
    assert spans_html("respectivelyRenfu MedicineAnd", 0, []) == "respectively Renfu Medicine And"
    assert spans_html("JavaScript and PowerPoint, U.S.A. Have,Donghu", 0, []) == \
        "JavaScript and PowerPoint, U.S.A. Have, Donghu"


def test_source_viewer_escapes_marks_and_shows_pages():
    text = "Page one <b>bold</b>.\nPage two has the answer here. End."
    doc = SourceDocument("r.pdf", "Report <x>", text, ((0, 22, 1), (22, len(text), 2)))
    a = text.index("Page two")
    b = text.index("End") - 1
    html = source_html(doc, (a, len(text), a, b))
    assert "<b>bold" not in html and "&#60;b&#62;bold" in html and "Report &#60;x&#62;" in html
    assert 'id="qa-hl"' in html and '<mark class="qa-hl-answer">Page two has the answer here.</mark>' in html
    assert '<span class="qa-page">p. 2</span>' in html and html.count("qa-pagebreak") == 2
    untitled = source_html(SourceDocument("notes.txt", None, "Some notes.", ()))
    assert untitled.startswith('<div class="qa-doc-head"><code>notes.txt</code></div>')  # named once, not twice


def test_source_links_round_trip():
    class H:
        source, start, end, answer_start, answer_end = "dir/a b:c.md", 1, 9, 2, 5
    assert parse_source_link(source_link(H)) == ("dir/a b:c.md", (1, 9, 2, 5))


def test_the_apis_documents_argument_is_names_or_refused():
    from qa.errors import BadQuestion
    from qa.web import _document_names

    assert _document_names(None) is None and _document_names("") is None and _document_names([]) is None
    assert _document_names("a.md") == ["a.md"] and _document_names(["a.md", "b.pdf"]) == ["a.md", "b.pdf"]
    for bad in ([1, 2], ["a.md", None], {"a.md": 1}, 3):
        with pytest.raises(BadQuestion, match="documents must be a list of document names"):
            _document_names(bad)
