"""Filters: every operator, combinators, scope fields, and their errors."""

from __future__ import annotations

import pytest

from memlayer.errors import FilterError

ROWS = [
    ("alpha", {"n": 1, "tag": "red", "tags": ["x", "y"], "flag": True, "note": "hello world"}),
    ("beta", {"n": 2, "tag": "blue", "tags": ["y"], "flag": False}),
    ("gamma", {"n": 3, "tag": "red", "tags": [], "note": "goodbye"}),
    ("delta", {"n": "3", "tag": None}),
    ("epsilon", {}),
]


@pytest.fixture
def filled(memory):
    for text, meta in ROWS:
        memory.add(text, user_id="u", metadata=meta, infer=False)
    memory.add("alpha", user_id="other", metadata={"n": 1, "tag": "red"}, infer=False)
    return memory


def names(memory, filters):
    found = {r["memory"] for r in memory.get_all(user_id="u", filters=filters)["results"]}
    via_search = {r["memory"] for r in memory.search("alpha beta gamma delta epsilon", user_id="u",
                                                     filters=filters, limit=50)["results"]}
    assert found == via_search
    return found


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"tag": "red"}, {"alpha", "gamma"}),
        ({"tag": {"eq": "red"}}, {"alpha", "gamma"}),
        ({"tag": {"ne": "red"}}, {"beta", "delta", "epsilon"}),
        ({"n": {"gt": 1}}, {"beta", "gamma"}),
        ({"n": {"gte": 2}}, {"beta", "gamma"}),
        ({"n": {"lt": 3}}, {"alpha", "beta"}),
        ({"n": {"lte": 1}}, {"alpha"}),
        ({"n": {"gt": 1, "lt": 3}}, {"beta"}),
        ({"n": 3}, {"gamma"}),
        ({"n": "3"}, {"delta"}),
        ({"tag": {"in": ["red", "blue"]}}, {"alpha", "beta", "gamma"}),
        ({"tag": {"nin": ["red"]}}, {"beta", "delta", "epsilon"}),
        ({"tag": {"in": []}}, set()),
        ({"tags": {"contains": "y"}}, {"alpha", "beta"}),
        ({"note": {"contains": "world"}}, {"alpha"}),
        ({"flag": True}, {"alpha"}),
        ({"flag": False}, {"beta"}),
        ({"tag": None}, {"delta"}),
        ({"AND": [{"tag": "red"}, {"n": {"gte": 2}}]}, {"gamma"}),
        ({"OR": [{"tag": "blue"}, {"n": 3}]}, {"beta", "gamma"}),
        ({"NOT": {"tag": "red"}}, {"beta", "delta", "epsilon"}),
        ({"NOT": {"OR": [{"tag": "red"}, {"tag": "blue"}]}}, {"delta", "epsilon"}),
        ({"tag": "red", "tags": {"contains": "x"}}, {"alpha"}),
        ({"user_id": "u"}, {"alpha", "beta", "gamma", "delta", "epsilon"}),
        ({"user_id": {"ne": "u"}}, set()),
        ({"missing": {"ne": 1}}, {"alpha", "beta", "gamma", "delta", "epsilon"}),
        ({'we"ird\'key': 1}, set()),
    ],
)
def test_operator(filled, filters, expected):
    assert names(filled, filters) == expected


def test_scope_filter_cannot_widen_scope(filled):
    assert names(filled, {"user_id": "other"}) == set()
    assert names(filled, {"OR": [{"user_id": "other"}, {"tag": "red"}]}) == {"alpha", "gamma"}


def test_time_filters(filled):
    rows = filled.get_all(user_id="u")["results"]
    newest = max(r["created_at"] for r in rows)
    assert names(filled, {"created_at": {"lte": newest}}) == {r["memory"] for r in rows}
    assert names(filled, {"created_at": {"gt": newest}}) == set()


@pytest.mark.parametrize(
    "bad",
    [{"n": {"between": [1, 2]}}, {"AND": {}}, {"OR": []}, {"n": {"in": 3}}, {"n": {"gt": None}}, {"n": {}},
     {"n": {"eq": {"a": 1}}}, {"NOT": []}],
)
def test_bad_filters(filled, bad):
    with pytest.raises(FilterError):
        filled.get_all(user_id="u", filters=bad)
