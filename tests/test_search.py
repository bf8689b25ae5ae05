"""The Python API: typed results, answer quality on the dev questions, abstention, bad input."""
from __future__ import annotations

import dataclasses
import time

import pytest

from qa import Answer, BadQuestion, Hit, QAError, Retriever
from qa.evaluate import evaluate


def test_search_returns_frozen_typed_hits(retriever, interview_text):
    hits = retriever.search("What is the total revenue of the park?", k=5)
    assert len(hits) == 5 and all(isinstance(h, Hit) for h in hits)
    with pytest.raises(dataclasses.FrozenInstanceError):
        hits[0].score = 1.0  # type: ignore[misc]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    top = hits[0]
    assert top.source == "optics_valley_interview.txt"
    assert interview_text[top.start : top.end] == top.text
    assert interview_text[top.answer_start : top.answer_end] == top.answer_sentence
    assert "120 billion yuan" in top.answer_sentence
    assert top.question and "total revenue" in top.question
    assert top.section == "Endogenous motivation: firm belief and firm work"


def test_answer_sentence_is_never_the_interviewers_question(retriever):
    for q in ["What is the total revenue of the park?", "How many enterprises are in Optics Valley Bio City?"]:
        assert not retriever.search(q, k=1)[0].answer_sentence.endswith("?")


def test_no_duplicate_hits(retriever):
    hits = retriever.search("talent policy", k=10)
    assert len({h.text for h in hits}) == len(hits)
    assert len({(h.start, h.end) for h in hits}) == len(hits)


def test_dev_questions_meet_the_bar(retriever, dev_path, off_topic_path):
    report = evaluate(retriever, dev_path, off_topic_path)
    assert report.hit_at_1 >= 0.85, report.misses
    assert report.hit_at_3 >= 0.95, report.misses
    # The bar: "not in the documents" may refuse some answerable questions, but answers >= 90%.
    assert report.answered >= 0.90
    assert report.abstained == 1.0


def test_eval_reads_answers_strictly(retriever, tmp_path):
    path = tmp_path / "q.jsonl"
    # One string is one answer: tested as characters, "zzz" would count almost any passage as right.
    path.write_text('{"question": "What is the total revenue?", "answer_contains": "no passage says zzz"}\n',
                    encoding="utf-8")
    report = evaluate(retriever, path)
    assert report.hit_at_1 == 0.0 and report.hit_at_3 == 0.0 and report.misses[0].rank is None
    for n, bad in enumerate(['{"question": "Who?", "answer": "Lizard Island"}',
                             '{"question": "Who?", "answer_contains": []}',
                             '{"question": "Who?", "answer_contains": [3]}',
                             '{"question": "Who?", "answer_contains": [" "]}',
                             '{"question": "", "answer_contains": ["x"]}',
                             '{"question": ["Who?"], "answer_contains": ["x"]}',
                             '["Who?"]']):
        path.write_text('{"question": "What is the total revenue?", "answer_contains": ["revenue"]}\n' + bad + "\n",
                        encoding="utf-8")
        with pytest.raises(QAError, match=rf"q\.jsonl:2: "):
            evaluate(retriever, path)
    path.write_text('{"question": "' + "word " * 400 + '", "answer_contains": ["x"]}\n', encoding="utf-8")
    with pytest.raises(QAError, match=r"q\.jsonl:1: the question is 1,999 characters; the limit is 1,000"):
        evaluate(retriever, path)


def test_answer_found_and_abstains(retriever, off_topic_questions):
    ans = retriever.answer("How many enterprises are registered in Optics Valley Bio City?", k=3)
    assert isinstance(ans, Answer) and ans.found and len(ans.hits) == 3
    assert ans.message == "Found in optics_valley_interview.txt."
    assert any("1,200" in h.text for h in ans.hits)
    for row in off_topic_questions:
        ans = retriever.answer(row["question"])
        assert not ans.found and ans.hits == [] and "No passage" in ans.message
    d = retriever.answer("total revenue").to_dict()
    assert set(d) == {"question", "found", "tier", "message", "hits"} and "answer_sentence" in d["hits"][0]
    assert d["tier"] in ("answer", "closest") and 0 <= d["hits"][0]["confidence"] <= 1


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "\x00\x01\x02"])
def test_empty_questions_are_refused_clearly(retriever, question):
    with pytest.raises(BadQuestion, match="empty"):
        retriever.search(question)


@pytest.mark.parametrize("k", [0, -1, 51, 2.5, "3", None, True])
def test_k_outside_its_range_is_refused(retriever, k):
    # Before: k=0 and k=-1 returned one hit, 2.5 two, and None raised a bare TypeError.
    with pytest.raises(BadQuestion, match="k must be a whole number from 1 to 50"):
        retriever.search("total revenue", k=k)
    with pytest.raises(BadQuestion, match="k must be a whole number from 1 to 50"):
        retriever.answer("total revenue", k=k)


@pytest.mark.parametrize("index", [None, 5])
def test_an_index_that_is_not_a_path_is_refused(index):
    with pytest.raises(QAError, match="the index must be a folder's path"):
        Retriever.load(index)


@pytest.mark.parametrize("sources", [5, [5], ["optics_valley_interview.txt", None]])
def test_sources_that_are_not_names_are_refused(retriever, sources):
    with pytest.raises(BadQuestion, match="sources must be document names"):
        retriever.search("total revenue", sources=sources)


def test_huge_questions_are_refused_quickly(retriever):
    for size in (1001, 100_000, 1_000_000):
        t = time.perf_counter()
        with pytest.raises(BadQuestion, match="limit is 1,000"):
            retriever.answer("why " * (size // 4 + 1))
        assert time.perf_counter() - t < 1.0


def test_odd_questions_get_sane_answers(retriever):
    cleaned = {
        "revenue\x00\x07 of the\x1b[31m park": "revenue of the [31m park",
        "¿Qué? 你好 🙂 " * 5: ("¿Qué? 你好 🙂 " * 5).strip(),
        "<script>alert(1)</script>": "<script>alert(1)</script>",  # kept as text; escaping is the page's job
        "' OR 1=1 --": "' OR 1=1 --",
        "a": "a",
        # Lone surrogates: "\ud800" sent as JSON, and a Latin-1 byte in a shell's argument.
        "revenue \ud800 of the park": "revenue of the park",
        "caf\udce9 revenue": "caf revenue",
    }
    for q, expected in cleaned.items():
        ans = retriever.answer(q)
        assert ans.question == expected
        assert ans.found == bool(ans.hits) and len(ans.hits) <= 3
    ans = retriever.answer("revenue\x00 of the park")
    assert ans.found and ans.question == "revenue of the park" and "120 billion" in ans.hits[0].text


def test_empty_index_answers_nothing(tmp_path):
    from qa import build_index

    (tmp_path / "corpus").mkdir()
    report = build_index(tmp_path / "corpus", tmp_path / "index")
    assert report.passages == 0
    r = Retriever.load(tmp_path / "index")
    assert r.search("anything") == [] and not r.answer("anything").found


def test_a_highlighted_sentence_that_ends_in_a_colon_brings_the_next_one(tmp_path):
    from qa import Retriever, build_index

    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "restart.md").write_text(
        "# Restarting a controller\n\nThe controller restarts in about five minutes. "
        "Restarting or shutting down a controller may fail if:\n\n"
        "- A device update is in progress.\n- The other controller is already restarting.\n", encoding="utf-8")
    build_index(tmp_path / "c", tmp_path / "i")
    hit = Retriever.load(tmp_path / "i").search("Why would a controller restart fail?", k=1)[0]
    assert hit.answer_sentence.startswith("Restarting or shutting down a controller may fail if:")
    assert hit.answer_sentence.endswith("A device update is in progress.")
    assert hit.text[hit.answer_start - hit.start : hit.answer_end - hit.start] == hit.answer_sentence


def test_an_image_alone_is_never_the_highlighted_sentence(tmp_path):
    from qa import Retriever, build_index

    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "portal.md").write_text(
        "# Security questions\n\nWhen users enroll in the portal, they are asked to set up their account. "
        "Each user must select four security questions and give answers to them.\n\n"
        "![Security questions a user selects in the portal](./media/portal/security-questions.png)\n\n"
        "Then the user confirms the answers, and the enrollment ends.\n", encoding="utf-8")
    build_index(tmp_path / "c", tmp_path / "i")
    r = Retriever.load(tmp_path / "i")
    q = "How many security questions does a user select in the portal?"
    hit = r.search(q, k=1)[0]
    assert "![Security questions a user selects" in hit.text  # the image is in the passage, and matches best
    sentences = [hit.text[s - hit.start : e - hit.start] for s, e, _ in r._gen.records[0].sentences]
    assert any(s.startswith("![") for s in sentences)
    assert hit.answer_sentence == "Each user must select four security questions and give answers to them."


def test_a_version_number_is_a_term_of_its_own():
    from qa.lexical import Lexical, tokenize

    assert "0.14.3" in tokenize("Released in 0.14.3.") and "1200" in tokenize("more than 1,200 firms")
    # Each release's entry shares "0", "14" and "3" with the one asked about: only the
    # whole number tells them apart.
    releases = [("0.14.3", "Support for the PATCH method in the mock transport, for Python 3 only."),
                ("0.14.0", "Support for HTTP/3 proxies in the mock transport, from 3 new settings."),
                ("0.13.14", "Support for the 3 retry hooks in the mock transport."),
                ("3.0.14", "Support for streaming uploads in the mock transport, 0 copies.")]
    bm25 = Lexical.build([f"Changelog\n{v} › Added\n{line}" for v, line in releases])
    for i, (version, _) in enumerate(releases):
        scores = bm25.scores(tokenize(f"What did release {version} add to the mock transport?"), len(releases))
        assert int(scores.argmax()) == i, (version, scores)


def test_how_many_asks_for_a_count_and_many_is_not_a_term_of_it():
    from qa.lexical import query_tokens, tokenize

    assert query_tokens("How many enterprises are in the park?") == tokenize("enterprises park")
    assert query_tokens("How much money was raised?") == tokenize("money raised")
    assert "mani" in query_tokens("Which of the many parks is oldest?")  # not after "how": a term


@pytest.mark.parametrize("name,title", [
    ("fosdem_2016_dave_neary_interview.txt", "fosdem 2016 dave neary interview"),
    ("talks/Super_Bowl_50.md", "Super Bowl 50"),
    ("Bed002.txt", None), ("IMG_2345.pdf", None), ("notes.md", None), ("2024-03-01.md", None),
])
def test_a_file_name_that_reads_as_words_is_a_title(name, title):
    from qa.corpus import name_title

    assert name_title(name) == title


def test_a_question_naming_what_only_the_file_name_says_finds_that_file(tmp_path):
    # Two interviews with the same questions and no title inside: only their file names say
    # who answers, so without them both questions get the same passage first.
    from qa import Retriever, build_index

    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "interview_maria_lopez.txt").write_text(
        "Q: Where do you work?\n\nA: At a small bakery near the old harbour, for nine years now.\n", encoding="utf-8")
    (corpus / "interview_tom_becker.txt").write_text(
        "Q: Where do you work?\n\nA: At a shipyard by the river, since I left school.\n", encoding="utf-8")
    build_index(corpus, tmp_path / "i")
    r = Retriever.load(tmp_path / "i")
    assert {rec.title for rec in r._gen.records} == {"interview maria lopez", "interview tom becker"}
    for person, doc in (("Maria Lopez", "interview_maria_lopez.txt"), ("Tom Becker", "interview_tom_becker.txt")):
        assert r.search(f"Where does {person} work?", k=2)[0].source == doc


def test_a_search_can_be_kept_to_some_documents(mixed_index):
    from qa import DocumentNotFound, Retriever

    r = Retriever.load(mixed_index[1])
    interview, page, pdf = "optics_valley_interview.txt", "ebb_org_blog_post.html", "wikipedia_mozilla_2015.pdf"
    q = "How many enterprises are in the park?"
    everywhere = r.search(q, k=5)
    assert {h.source for h in everywhere} == {interview}
    # With every document named, the exact scoring inside them gives what the indexes give.
    assert [(h.source, h.start) for h in r.search(q, k=5, sources=[interview, page, pdf])] == \
        [(h.source, h.start) for h in everywhere]
    # None, an empty list, a string and repeated names mean what they say.
    assert [h.start for h in r.search(q, k=5, sources=[])] == [h.start for h in everywhere]
    assert [h.start for h in r.search(q, k=5, sources=interview)] == [h.start for h in everywhere]
    assert [h.start for h in r.search(q, k=5, sources=[interview, interview])] == [h.start for h in everywhere]
    kept = r.search(q, k=5, sources=[page])
    assert kept and {h.source for h in kept} == {page}
    assert {h.source for h in r.search(q, k=8, sources=(page, pdf))} == {page, pdf}
    # The whole page is reachable, not only the few of its passages in the pool of the whole index.
    on_page = [rec for rec in r._gen.records if rec.source == page]
    assert len(r.search(q, k=50, sources=[page])) == len(on_page) > 5
    # A passage's evidence is normalized by the whole index's pool, as the models were fitted:
    # the same passage gets the same score with the filter and without it.
    unfiltered = {(h.source, h.start): h.score for h in r.search(q, k=50)}
    shared = [(h.score, unfiltered[(h.source, h.start)]) for h in r.search(q, k=50, sources=[page])
              if (h.source, h.start) in unfiltered]
    assert shared and all(a == pytest.approx(b) for a, b in shared)
    ans = r.answer(q, sources=[page])
    assert not ans.found and ans.message == f"No passage in {page} answers this question."
    assert "Eich" in r.answer("Who was the CEO named in the controversy?", sources=pdf).hits[0].text
    with pytest.raises(DocumentNotFound, match=r"no document 'nope\.md' in the index; indexed: .*ebb_org_blog_post\.html"):
        r.search(q, sources=["nope.md"])
