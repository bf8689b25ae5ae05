"""Confidence and tiers: probabilities, order, the models on disk, and what users are told."""
from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest

from qa.confidence import (CONF_FEATURES, MODELS, RANK_FEATURES, SENTENCE_FEATURES, LinearModel, expected_type,
                           load_model, type_mask)
from qa.search import Tiers

QUESTIONS = ["What is the total revenue of the park?", "How many enterprises are in the park?",
             "talent policy", "Who painted the Mona Lisa?", "What does the park lack in terms of talent?"]


def test_confidence_is_a_probability_that_never_rises_down_the_ranking(retriever):
    for q in QUESTIONS:
        hits = retriever.search(q, k=5)
        conf = [h.confidence for h in hits]
        assert all(0.0 <= c <= 1.0 for c in conf), conf
        assert conf == sorted(conf, reverse=True), (q, conf)


@pytest.mark.parametrize("name,features", [("ranker", RANK_FEATURES), ("sentence", SENTENCE_FEATURES),
                                           ("confidence", CONF_FEATURES)])
def test_models_are_json_and_load_without_pickle(monkeypatch, name, features):
    def refuse(*a, **k):
        raise AssertionError("pickle used")

    for attr in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, attr, refuse)
    load_model.cache_clear()
    try:
        model = load_model(name, features)
    finally:
        load_model.cache_clear()
    assert model is not None, f"qa/models/{name}.json is missing: run bench/tune.py"
    assert model.features == features and np.isfinite(model.coef).all()
    raw = json.loads((MODELS / f"{name}.json").read_text())
    assert raw["trained_on"], "each model says what it was fitted on"


def test_a_model_for_other_features_is_refused():
    data = json.loads((MODELS / "confidence.json").read_text())
    with pytest.raises(ValueError, match="re-run bench/tune.py"):
        LinearModel.from_json(data, CONF_FEATURES[:-1])


def test_tier_thresholds_live_in_one_place_with_their_precision():
    fitted = json.loads((MODELS / "confidence.json").read_text())["tiers"]
    tiers = Tiers()
    assert tiers.answer == fitted["answer"]["threshold"] and tiers.closest == fitted["closest"]["threshold"]
    assert 0.0 < tiers.closest <= tiers.answer < 1.0
    assert all(0.0 < fitted[t]["precision"] <= 1.0 and fitted[t]["why"] for t in ("answer", "closest"))
    assert [tiers.of(c) for c in (tiers.answer, tiers.closest, tiers.closest - 1e-9)] == ["answer", "closest", "none"]


def test_off_topic_questions_are_not_in_the_documents(retriever, off_topic_questions):
    for row in off_topic_questions:
        ans = retriever.answer(row["question"])
        assert ans.tier == "none" and not ans.found and ans.hits == [], (row["question"], ans.message)


def test_a_question_the_interview_answers_is_an_answer(retriever):
    ans = retriever.answer("How many enterprises are registered in Optics Valley Bio City?")
    assert ans.tier == "answer" and ans.found
    assert "1,200" in ans.hits[0].answer_sentence
    assert ans.hits[0].confidence >= Tiers().answer


def test_answer_types_by_pattern():
    assert expected_type("How many enterprises are in the park?") == "number"
    assert expected_type("In what year was the bio city built?") == "date"
    assert expected_type("Who founded the company?") == "person"
    assert expected_type("What percentage of revenue comes from drugs?") == "percent"
    assert expected_type("Why does the park need talent?") is None
    assert type_mask("There are more than 1,200 enterprises.") & 1
    assert not type_mask("there are many enterprises in the park") & 1
    # A digit inside a name is not a number; a number next to a word still is.
    assert not type_mask("Node is part of the V8 CI, on x86 and arm64.") & 1
    assert type_mask("That has been the case for 1-2 years.") & 1 and type_mask("COVID-19 and $5m") & 1


MEETING = """Project Manager: Welcome to the kickoff meeting. Today we start designing a new remote control.

Marketing: I brought a slogan for the campaign. The motto is we put the fashion in electronics.

Project Manager: Thank you. The budget is twelve euros and fifty cents per remote.

Industrial Designer: My favourite animal is a cow. I drew one on the whiteboard.

Marketing: Customers want something sleek and stylish. They also lose their remotes often.
"""


def _one_document_retriever(tmp_path, name: str, text: str):
    from qa import Retriever, build_index

    (tmp_path / "c").mkdir()
    (tmp_path / "c" / name).write_text(text, encoding="utf-8")
    build_index(tmp_path / "c", tmp_path / "i")
    return Retriever.load(tmp_path / "i")


def test_speaker_features_follow_the_turns_inside_a_transcript_passage(tmp_path):
    from qa.confidence import _speaker_match, query_terms
    from qa.lexical import tokenize

    r = _one_document_retriever(tmp_path, "meeting.txt", MEETING)
    gen = r._gen
    tables = r._tables(gen)
    said = {}
    for rec in gen.records:
        a = int(gen.sentence_first[rec.id])
        for j, (s, e, _) in enumerate(rec.sentences):
            said[rec.text[s - rec.start : e - rec.start]] = tables.sent_speaker[a + j]
    assert said["The motto is we put the fashion in electronics."] == "marketing"
    assert said["The budget is twelve euros and fifty cents per remote."] == "project manager"
    assert said["I drew one on the whiteboard."] == "industrial designer"

    q = "What slogan did the marketing expert bring?"
    qt = query_terms(q, tokenize(q), tables)
    assert _speaker_match(qt, "marketing") == 1.0 and _speaker_match(qt, "project manager") == 0.0
    qt2 = query_terms("What did the professor think?", tokenize("professor think"), tables)
    assert _speaker_match(qt2, "professor b") == 0.5 and _speaker_match(qt2, "phd a") == 0.0
    _, cands = r._stage(gen, q, r.encode([q]), 5)
    named, anyone = RANK_FEATURES.index("speaker_named"), RANK_FEATURES.index("speaker_any")
    x = cands[0].evidence.rank_x
    # Marketing says 4 of the passage's 9 sentences: a share strictly between none and all.
    assert x[anyone] == 1.0 and 0.2 < x[named] < 0.8


@pytest.mark.parametrize("question,label,put", [
    ("Which languages did Robert Griesemer grow up with?", "robert griesemer", "which languages did you grow up with?"),
    ("What was Rob Pike's view on generics?", "rob pike", "what was your view on generics?"),
    ("What did the professor think of the plan?", "professor b", "what did you think of the plan?"),
    ("What did the marketing expert bring?", "project manager", None),
])
def test_a_question_is_put_to_the_speaker_it_names(question, label, put):
    from qa.confidence import QueryTerms, put_to

    qt = QueryTerms(frozenset(), {}, 1.0, (), (), 0.0, None, False, frozenset(), frozenset(),
                    " ".join(question.lower().split()), {})
    assert put_to(qt, label) == put


def test_where_a_named_speaker_speaks_their_name_says_who_not_what(tmp_path):
    # A speaker says "I brought a slogan", never "Marketing brought a slogan", and a host's
    # introduction names every guest: in the meeting every sentence is scored against "what slogan
    # did you bring?", and the name is no term to cover; in a document where nobody called
    # Marketing speaks, the name is what the question is about.
    from qa import Retriever, build_index
    from qa.late import query_matrix
    from qa.lexical import tokenize
    from qa.store import reconstruct

    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "meeting.txt").write_text(MEETING, encoding="utf-8")
    (tmp_path / "c" / "notes.txt").write_text(
        "Marketing brought a slogan to the trade fair. The slogan was printed on every leaflet.\n",
        encoding="utf-8")
    build_index(tmp_path / "c", tmp_path / "i")
    r = Retriever.load(tmp_path / "i")
    gen = r._gen
    q = "What slogan did Marketing bring?"
    qt, cands = r._stage(gen, q, r.encode([q]), 10)
    put = r._embedder.encode(["what slogan did you bring?"])[0]
    by_doc = {c.record.source: c for c in cands}
    assert set(by_doc) == {"meeting.txt", "notes.txt"}
    col = RANK_FEATURES.index
    for doc, c in by_doc.items():
        first = int(gen.sentence_first[c.record.id])
        rows = np.arange(first, first + len(c.sent_cos))
        terms = set(tokenize(c.record.text))
        if doc == "meeting.txt":
            np.testing.assert_allclose(c.spoken_cos, reconstruct(gen.sentence_index, rows) @ put, atol=1e-5)
            kept = {t: w for t, w in qt.idf.items() if t not in tokenize("marketing")}
        else:
            np.testing.assert_allclose(c.spoken_cos, c.sent_cos, atol=1e-6)
            kept = qt.idf
        want = sum(w for t, w in kept.items() if t in terms) / sum(kept.values())
        assert c.evidence.rank_x[col("cov_passage")] == pytest.approx(want)
        assert c.evidence.rank_x[col("best_cos")] == pytest.approx(float(c.spoken_cos.max()))
    tv = r._embedder.encode_query_tokens(q)[1]
    assert len(query_matrix(tv, ("marketing",))) == len(query_matrix(tv)) - 1
    meeting, notes = by_doc["meeting.txt"].evidence.rank_x, by_doc["notes.txt"].evidence.rank_x
    assert meeting[col("cov_passage")] < notes[col("cov_passage")]


FAQ = """# Frequently asked questions

## Is it really free?

Yes. The service costs nothing for personal use, and there is no trial period.

## Can I run it offline?

Only the desktop edition works without a network connection.
"""


def test_a_faq_heading_question_is_compared_with_the_users_question(tmp_path):
    r = _one_document_retriever(tmp_path, "faq.md", FAQ)
    gen = r._gen
    q = "Does it cost any money?"
    qv = r.encode([q])
    _, cands = r._stage(gen, q, qv, 5)
    faq = next(c for c in cands if c.record.question == "Is it really free?")
    # The heading is not a sentence of the passage, so its vector is encoded on demand.
    assert r._tables(gen).question_row[faq.record.id] == -1
    expected = float(r.encode(["Is it really free?"])[0] @ qv[0])
    assert faq.evidence.rank_x[RANK_FEATURES.index("question_cos")] == pytest.approx(expected, abs=1e-5)
    assert faq.evidence.rank_x[RANK_FEATURES.index("has_question")] == 1.0


def test_the_rarest_terms_do_not_depend_on_the_process(tmp_path):
    # Terms of equal IDF used to be ordered by set iteration, which differs between Python
    # processes (hash randomization): the same question got other confidence features, and so
    # another confidence, after a restart.
    import subprocess
    import sys

    script = (
        "from collections import Counter\n"
        "from qa.confidence import query_terms\n"
        "class T:\n"
        "    df = Counter()\n"
        "    def idf(self, t):\n"
        "        return 2.0 if t == 'zeta' else 1.0\n"
        "words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta']\n"
        "print(query_terms(' '.join(words), words, T()).rare)\n"
    )
    seen = {subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONHASHSEED": str(seed)},
                           capture_output=True, text=True, check=True).stdout for seed in range(6)}
    assert len(seen) == 1 and seen.pop().startswith("('zeta',")


CHANGELOG = """# Changelog

## 0.14.3 (September 2nd, 2020)

### Added

- Add 103 Early Hints and 425 Too Early status codes.

## 0.14.0 (August 7th, 2020)

### Added

- Support for HTTP/2 proxies and 3 new timeout settings.

## 0.13.0 (May 22nd, 2020)

### Removed

- Drop UDS support, for 3 reasons.
"""


def test_a_term_in_the_passage_heading_is_not_missing(tmp_path):
    # In a changelog the version is written only in the heading above its entries: the
    # "missing term" features used to read the passage's sentences alone, so naming the version
    # made the right passage look as if it lacked the question's rarest term.
    r = _one_document_retriever(tmp_path, "CHANGELOG.md", CHANGELOG)
    gen = r._gen
    q = "Which status codes were added in 0.14.3?"
    qt, cands = r._ranked(gen, q, r.encode([q]), 4)
    i = next(i for i, c in enumerate(cands) if "103 Early Hints" in c.record.text)
    assert "0.14.3" in (cands[i].record.section or "") and "0.14.3" not in cands[i].record.text
    x = dict(zip(CONF_FEATURES, r._confidence_x(gen, qt, cands, i)))
    assert x["numbers_missing"] == 0.0 and x["rare_missing"] == 0.0
    other = next(j for j, c in enumerate(cands) if "UDS" in c.record.text)
    y = dict(zip(CONF_FEATURES, r._confidence_x(gen, qt, cands, other)))
    assert y["numbers_missing"] == 1.0 and y["rare_missing"] > 0.0
    assert x["terms_missing"] < y["terms_missing"]
