"""Confidence and tiers: probabilities, order, the models on disk, and what users are told."""
from __future__ import annotations

import json
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
