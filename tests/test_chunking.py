from __future__ import annotations

import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.chunking import MAX_CHARS, chunk_text, sentence_spans

CHROME = [
    "turn on", "Mobile finance", "Open APP registered log in", "Must not look", "Wonderful recommendation",
    "Editor in charge", "Stock channel", "Top Comments", "comment share it",
]
HEADLINES = [
    "A-share market half-day tour", "Central enterprise reform concept 22 stocks doubled",
    "the big singles grabbed 40 shares", "2.86 trillion pounds", "institutions sold 40 shares",
    "Important announcement of the listed company on Monday", "5G concept staged the ups and downs",
    "Belt and Road", "An accident in Shandong No. 1 Pharmaceutical Factory", "Coal fly color dance",
]


@pytest.fixture(scope="module")
def passages(interview_text):
    return chunk_text(interview_text)


def test_no_page_chrome_or_related_news(passages):
    for p in passages:
        for s in CHROME + HEADLINES:
            assert s not in p.text, f"{s!r} leaked into a passage"


def test_offsets_round_trip_and_sizes(passages, interview_text):
    assert len(passages) >= 10
    for p in passages:
        assert interview_text[p.start : p.end] == p.text
        assert 0 < len(p.text) <= MAX_CHARS
        for s, e in p.sentences:
            assert p.start <= s < e <= p.end


def test_all_content_is_kept(passages, interview_text):
    # Every substantive paragraph of the interview is in some passage.
    body = [ln.strip() for ln in interview_text.splitlines() if len(ln.strip()) > 200]
    assert len(body) > 20
    for para in body:
        assert any(para in p.text for p in passages), para[:60]


def test_questions_are_kept_with_their_answers(passages):
    answers = [p for p in passages if p.kind == "answer"]
    assert len({p.question for p in answers}) == 9  # the interviewer asks nine questions
    revenue = next(p for p in passages if "exceeded 120 billion yuan" in p.text)
    assert revenue.question.startswith("At present, what is the total revenue")
    # The question's own text opens the passage, and the label is not in the question metadata.
    assert revenue.text.startswith("Practice 101 in the financial world:")
    assert not revenue.question.startswith("Practice 101")
    # A long answer is split, and every part still carries the question.
    parts = [p for p in answers if p.question and p.question.startswith("What is the current industrial positioning")]
    assert len(parts) >= 2
    assert parts[1].text.startswith("Specifically, front-end prevention")


def test_speaker_label_variants_are_answers(passages):
    # "Li B:" answers the last question like "Li Brigade:" does the others.
    last = next(p for p in passages if "not forget the original heart" in p.text)
    assert last.kind == "answer" and last.question.startswith("If you want to use a few key words")


def test_sections_and_background(passages):
    sections = {p.section for p in passages}
    assert {"Ten years: the stack of Optics Valley Bio Citygeneration", "Differentiation: Innovation can't stop",
            "Endogenous motivation: firm belief and firm work"} <= sections
    backgrounds = [p for p in passages if p.kind == "background"]
    assert len(backgrounds) == 3 and all(p.text.startswith("【Background information】") for p in backgrounds)
    # Sentences skip labels, so embeddings see content only.
    for p in backgrounds:
        s, _ = p.sentences[0]
        assert not p.text[s - p.start :].startswith("【")


def test_plain_text_splits_by_paragraph_then_sentence():
    paras = [f"Paragraph {i} talks about topic {i}. " + "It has several sentences of text. " * 12 for i in range(8)]
    text = "\n\n".join(paras)
    out = chunk_text(text)
    assert len(out) >= 3
    for p in out:
        assert text[p.start : p.end] == p.text and len(p.text) <= MAX_CHARS
        assert p.question is None and p.kind == "text"
    joined = " ".join(p.text for p in out)
    assert all(f"Paragraph {i} talks" in joined for i in range(8))


def test_markdown_headings_become_sections():
    text = "# Guide\n\n## Setup\n\nInstall the thing. Then run it.\n\n## Usage\n\nCall the function with care.\n"
    out = chunk_text(text)
    assert [p.section for p in out] == ["Setup", "Usage"]
    assert out[0].title == "Guide"


@pytest.mark.parametrize("text", ["", "   \n\t\n  ", "\ufeff", "\r\n\r\n"])
def test_empty_input_gives_no_passages(text):
    assert chunk_text(text) == []


def test_one_enormous_paragraph_is_bounded():
    text = "word " * 100_000  # 500 KB, no sentence ends at all
    out = chunk_text(text)
    assert out and all(len(p.text) <= MAX_CHARS for p in out)
    assert all(text[p.start : p.end] == p.text for p in out)
    assert sum(len(p.text.split()) for p in out) == 100_000


def test_no_whitespace_at_all_is_bounded():
    text = "x" * 10_000
    out = chunk_text(text)
    assert "".join(p.text for p in out) == text and all(len(p.text) <= MAX_CHARS for p in out)


def test_sentence_split_handles_glued_sentences_and_abbreviations():
    text = "It grew fast.Our positioning is innovation. Dr. Li spoke to J. Smith. Done!"
    got = [text[s:e] for s, e in sentence_spans(text)]
    assert got == ["It grew fast.", "Our positioning is innovation.", "Dr. Li spoke to J. Smith.", "Done!"]


def test_a_month_or_page_abbreviation_before_a_number_does_not_end_a_sentence():
    text = "OAKLAND, Calif., Nov. 4, 2009 — Subversion joins. See p. 12 for details. We met in Nov. The end."
    got = [text[s:e] for s, e in sentence_spans(text)]
    assert got == ["OAKLAND, Calif., Nov. 4, 2009 — Subversion joins.", "See p. 12 for details.",
                   "We met in Nov.", "The end."]


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=3000))
def test_random_text_never_breaks_invariants(text):
    for p in chunk_text(text):
        assert text[p.start : p.end] == p.text
        assert 0 < len(p.text) <= MAX_CHARS
        assert p.text == p.text.strip()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from([
    "Q: What is it?", "A: It is a thing.", "\r\n", "\n\n", "Heading line", "【Note】 text here.",
    "word " * 400, "...!!!???", "\ufeffBOM start", "Home > News > Item", "04-16 11:30", "Related news",
]), max_size=40))
def test_structured_noise_never_breaks_invariants(parts):
    text = "\n".join(parts)
    for p in chunk_text(text):
        assert text[p.start : p.end] == p.text and 0 < len(p.text) <= MAX_CHARS


@pytest.mark.parametrize("text", [
    "The Pelican Point lighthouse was lit in 1871",  # one line, no full stop
    "Opening hours\nMonday to Friday 9 to 5",  # two short lines
    "Shopping list\n\n- eggs\n- flour\n- milk",
])
def test_short_notes_are_content_not_chrome(text):
    out = chunk_text(text)
    assert out, "a short note must still produce a passage"
    kept = " ".join(p.text for p in out)
    for word in ("1871", "Monday", "flour"):
        if word in text:
            assert word in kept


def test_lists_inside_prose_are_kept():
    text = ("The park offers several services to the companies that settle there, as described below.\n\n"
            "- shared equipment platform\n- financial service center\n- talent housing\n\n"
            "Each sub-park also has a management company that solves problems for its enterprises.")
    kept = " ".join(p.text for p in chunk_text(text))
    assert "financial service center" in kept and "talent housing" in kept


def _question_of(passages, snippet: str) -> str | None:
    return next(p for p in passages if snippet in p.text).question


def test_a_question_is_carried_only_until_its_asker_moves_on_or_another_is_asked():
    # A panel: Host asks (an interviewer: most turns are questions); the co-host asks now and then
    # (not an interviewer); guests answer. The host's first question must not become the question
    # of the talk after the co-host asks another, nor after the host comments without asking.
    turns = [
        ("Host", "Why did you build a new language?"),
        ("Ada", "We were tired of waiting for builds of forty-five minutes every day."),
        ("Bob", "And the concurrency story of the old language was poor."),
        ("Cohost", "Do you remember when the first compiler ran?"),
        ("Ada", "The first compiler ran in the spring of the next year."),
        ("Cohost", "That is a great story and a nice place to stop."),
        ("Host", "What about the formatter?"),
        ("Bob", "The formatter grew out of code review frustration."),
        ("Host", "Right, thanks for that."),
        ("Ada", "Gardening is how I spend my weekends now."),
        ("Host", "How do you pick names?"),
        ("Bob", "We argue about names for a long time."),
    ]
    text = "\n\n".join(f"{who}: {said}" for who, said in turns) + "\n"
    passages = chunk_text(text, target_chars=60)
    q_of = functools.partial(_question_of, passages)
    assert q_of("forty-five minutes") == "Why did you build a new language?"
    assert q_of("concurrency story") == "Why did you build a new language?"  # a second guest answers it too
    assert q_of("spring of the next year") is None  # the co-host asked something else
    assert q_of("code review frustration") == "What about the formatter?"
    assert q_of("Gardening") is None  # the host moved on without a question
    assert q_of("argue about names") == "How do you pick names?"


def test_a_question_ends_when_its_asker_moves_on_after_a_chrome_line_too():
    # A running footer between an answer and the host's next turn splits the passage; the pair's
    # asker must survive the split, or the host's comment no longer ends the question.
    from dataclasses import replace

    from qa.chunking import pack
    from qa.readers.text import read_text

    turns = [("Host", "What about the formatter?"), ("Bob", "The formatter grew out of code review frustration."),
             ("Footer", "FOOTER"), ("Host", "Right, thanks for that."),
             ("Ada", "Gardening is how I spend my weekends now."), ("Host", "How do you pick names?"),
             ("Bob", "We argue about names for a long time.")]
    text = "\n\n".join("Page 2 of 9" if who == "Footer" else f"{who}: {said}" for who, said in turns) + "\n"
    doc = read_text(text)
    at = text.index("Page 2 of 9")
    blocks = tuple(replace(b, kind="chrome", rule="page footer", label=None, body_start=None)
                   if b.start <= at < b.end else b for b in doc.blocks)
    assert sum(b.kind == "chrome" for b in blocks) == 1
    passages = pack(replace(doc, blocks=blocks), target_chars=60)
    q_of = functools.partial(_question_of, passages)
    assert q_of("code review frustration") == "What about the formatter?"
    assert not any("Page 2 of 9" in p.text for p in passages)
    assert q_of("Gardening") is None  # the host moved on without a question, after the footer
    assert q_of("argue about names") == "How do you pick names?"
