"""Follow-up questions: resolved against the previous turn; questions that stand alone are left alone."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.followup import Turn, resolve, resolve_history, stands_alone, turns

DATA = Path(__file__).resolve().parent / "data"
PAIRS = [json.loads(x) for x in (DATA / "followups.jsonl").read_text().splitlines() if x.strip()]
HISTORIES = [
    [Turn("How many enterprises are registered in Optics Valley Bio City?",
          "At present, there are more than 1,200 enterprises with registered capital of more than 500,000 yuan.")],
    [Turn("Who won the Ekstraklasa Championship in 2000?", "Their local rivals, Polonia Warsaw, won it.")],
    [Turn("What does precision diagnosis cover?", "We mainly develop genetic testing."),
     Turn("What about precision treatment?", "")],
]


def test_there_are_enough_pairs_over_two_documents():
    assert len(PAIRS) >= 30
    assert len({p["document"] for p in PAIRS}) >= 6


@pytest.mark.parametrize("history", HISTORIES)
def test_dev_questions_are_left_untouched(dev_questions, history):
    for row in dev_questions:
        res = resolve(row["question"], history)
        assert res.searched == row["question"] and not res.rewritten


@pytest.mark.parametrize("history", HISTORIES)
def test_standalone_wordings_are_left_untouched(history):
    for p in PAIRS:
        assert resolve(p["standalone"], history).searched == p["standalone"]


@pytest.mark.parametrize("said", ["hi", "Thanks!", "ok thank you", "Hello there", "great, thanks", "Good morning"])
def test_greetings_and_thanks_are_not_follow_ups(said):
    # "hi" once became "Who was the hi of the Brackwater lighthouse?".
    assert resolve(said, [Turn("Who was the last keeper of the Brackwater lighthouse?", "")]).searched == said


def test_no_history_means_no_rewrite():
    assert resolve("And what is its total revenue?", []).searched == "And what is its total revenue?"


@pytest.mark.parametrize("question, previous, answer, expected", [
    ("And what is its total revenue?", "How many companies are in Optics Valley Bio City?", "",
     "What is Optics Valley Bio City's total revenue?"),
    ("What about precision treatment?", "What does precision diagnosis cover?", "",
     "What does precision treatment cover?"),
    ("And the largest medical school?", "What is the highest reference hospital in Poland?", "",
     "What is the largest medical school in Poland?"),
    ("How many times did they win the cup?", "Who won the Ekstraklasa Championship in 2000?",
     "Their local rivals, Polonia Warsaw, have significantly fewer supporters, yet they managed to win.",
     "How many times did Polonia Warsaw win the cup?"),
    ("Which are the most prestigious?", "How many museums are in Warsaw?", "",
     "Which are the most prestigious museums in Warsaw?"),
    ("Who returned there on 11 November?", "How long was Warsaw occupied by Germany?", "",
     "Who returned to Warsaw on 11 November?"),
])
def test_shapes_of_follow_ups(question, previous, answer, expected):
    assert resolve(question, [Turn(previous, answer)]).searched == expected


def test_a_pronoun_with_its_own_antecedent_is_not_a_follow_up():
    q = "What suffered considerably for Warsaw when it had an Eastern Bloc economy?"
    assert not resolve(q, HISTORIES[0]).rewritten


def test_history_in_api_shapes():
    got = turns(["How many companies?", {"question": "Q2", "answer": "A2"}, ["Q3", "A3"], 7, {"x": 1}, ""])
    assert got == [Turn("How many companies?"), Turn("Q2", "A2"), Turn("Q3", "A3")]
    chain = resolve_history(["What river does Warsaw straddle?", "How far is it from the Baltic Sea?"])
    assert chain[1].question == "How far is Warsaw from the Baltic Sea?"


def test_stands_alone_for_suggestions():
    assert stands_alone("What is the total revenue of Optics Valley Bio City?")
    assert not stands_alone("What help is provided in the process and what role has it played?")
    assert not stands_alone("Please talk about how this is done?")
    assert not stands_alone("Can you take the two companies as an example?")


def test_follow_ups_find_what_their_standalone_wording_finds(retriever):
    """On the interview pairs: resolved follow-ups' hit@1 >= 0.8 x the stand-alone questions' (bench/followups.py
    measures both documents, split into halves)."""
    rows = [p for p in PAIRS if p["document"] == "optics_valley_interview.txt"]

    def hit1(q, expected):
        hits = retriever.search(q, k=1)
        return any(s in hits[0].text for s in expected)

    resolved = standalone = 0
    for p in rows:
        past: list[Turn] = []
        for h in p["history"]:
            q = resolve(h["question"], past).searched
            past.append(Turn(q, retriever.search(q, k=1)[0].answer_sentence))
        resolved += hit1(resolve(p["followup"], past).searched, p["answer_contains"])
        standalone += hit1(p["standalone"], p["answer_contains"])
    assert standalone >= len(rows) * 0.7
    assert resolved >= 0.8 * standalone
