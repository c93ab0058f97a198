"""Relative dates, text normalisation and the shared clean-up helpers."""

from __future__ import annotations

from datetime import date

import pytest

from memlayer.extract.common import clean_relation, normalise_attribute, relationship_name
from memlayer.extract.dates import resolve_dates
from memlayer.extract.patterns import hint_attributes, slot_key
from memlayer.extract.text import (
    conjugate,
    is_question,
    normalise,
    split_clauses,
    split_sentences,
    third_person,
    verb3,
)
from tests.extract.helpers import ctx, user

FRIDAY = date(2024, 5, 3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I met Sarah yesterday", "I met Sarah on 2024-05-02"),
        ("see you tomorrow morning", "see you on 2024-05-04"),
        ("the day after tomorrow", "on 2024-05-05"),
        ("next Friday", "on 2024-05-10"),
        ("this Friday", "on 2024-05-03"),
        ("last Friday", "on 2024-04-26"),
        ("next Monday", "on 2024-05-06"),
        ("going next week", "going in the week of 2024-05-06"),
        ("last month", "in April 2024"),
        ("since last year", "since 2023"),
        ("until next month", "until June 2024"),
        ("this weekend", "on the weekend of 2024-05-04"),
        ("3 days ago", "around 2024-04-30"),
        ("two weeks ago", "around 2024-04-19"),
        ("in two weeks", "around 2024-05-17"),
        ("five years ago", "in 2019"),
        ("nothing relative here", "nothing relative here"),
    ],
)
def test_relative_dates(text: str, expected: str) -> None:
    assert resolve_dates(text, FRIDAY) == expected


def test_normalise_contractions_and_quotes() -> None:
    assert normalise("i\u2019m sure i've seen it, i don't know") == "I am sure I have seen it, I do not know"
    assert normalise("it's been great, my name's Bo") == "it has been great, my name is Bo"


def test_sentences_clauses_questions() -> None:
    assert split_sentences("I live in St. Louis. I work at Dr. Pepper! Ok") == [
        "I live in St. Louis.",
        "I work at Dr. Pepper!",
        "Ok",
    ]
    assert split_clauses("I live in Oslo and I work at Equinor; my dog is Rex") == [
        "I live in Oslo",
        "I work at Equinor",
        "my dog is Rex",
    ]
    assert split_clauses("I live in Paris, France") == ["I live in Paris, France"]
    assert is_question("Where do I live") and is_question("do you know my name") and is_question("ok?")
    assert not is_question("When I was young I lived in Rome")


def test_person_and_verb_helpers() -> None:
    assert third_person("visit my mom with me and you") == "visit their mom with them and the assistant"
    assert [conjugate(v) for v in ("like", "go", "study", "watch", "play")] == [
        "likes",
        "goes",
        "studies",
        "watches",
        "plays",
    ]
    assert verb3("am going to") == "is going to" and verb3("met Tom") == "met Tom"
    assert verb3("plan to") == "plans to"


def test_attributes_and_relations_are_normalised() -> None:
    assert normalise_attribute("  Favorite_Color ") == "favourite color"
    assert normalise_attribute("Preference : Cricket") == "preference:cricket"
    assert normalise_attribute("  ") is None
    assert relationship_name("works at") == "WORKS_AT" == relationship_name("worksAt")
    assert clean_relation("I", "lives-in", "Oslo.") is not None
    assert clean_relation("user", "KNOWS", "me") is None  # a self-loop
    assert clean_relation("user", " ", "Oslo") is None
    assert slot_key("preference:hiking") == slot_key("preference:hike")


def test_hint_attributes_cover_spelling_variants() -> None:
    hints = hint_attributes(user("I moved to Rome. I love to hike."), ctx())
    assert {"residence", "preference:hike", "preference:hiking"} <= hints
