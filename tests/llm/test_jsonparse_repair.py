"""What json-repair adds to the tolerant reader, and the repairs we refuse."""

from __future__ import annotations

import pytest

from memlayer.llm.jsonparse import JSONParseError, fenced_blocks, loads_tolerant, parse_model
from memlayer.prompts import ExtractionAnswer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{'name': 'Ada', 'age': 36}", {"name": "Ada", "age": 36}),  # single quotes
        ('{"name": "Ada" "age": 36}', {"name": "Ada", "age": 36}),  # a missing comma
        ('{"tags": ["a" "b"]}', {"tags": ["a", "b"]}),
        ('{"ok": True, "no": False, "none": None}', {"ok": True, "no": False, "none": None}),  # Python literals
        ('{"name": "Ada", // who\n "age": 36 /* years */}', {"name": "Ada", "age": 36}),  # comments
        ('{"text": "line one\nline two"}', {"text": "line one\nline two"}),  # a raw newline in a string
        ("Sure:\n```json\n{'facts': [],}\n```", {"facts": []}),
        ('Here: {"a": {"b": [1, 2,],},} and more {"c": 1}', {"a": {"b": [1, 2]}}),
    ],
)
def test_common_llm_flaws_are_repaired(text: str, expected: object) -> None:
    assert loads_tolerant(text) == expected


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"facts": [{"event": "ADD", "text": "User likes tea"}, {"event": "ADD", "text": "User', "never closed"),
        ('{"name": Ada}', "not valid JSON"),  # a bare word would have to be guessed into a string
        ('{"text": "he said "hi" to me"}', "not valid JSON"),  # a stray quote: which one is meant?
    ],
)
def test_repairs_that_would_guess_are_refused(text: str, needle: str) -> None:
    with pytest.raises(JSONParseError, match=needle):
        loads_tolerant(text)


def test_pathological_input_fails_fast_and_cleanly() -> None:
    with pytest.raises(JSONParseError, match="never closed"):
        loads_tolerant("{" * 200_000)  # one pass over the text, not one per brace
    with pytest.raises(JSONParseError, match="nested too deeply"):
        loads_tolerant("[" * 100_000 + "]" * 100_000)
    assert loads_tolerant('x {"a": 1' + "} {" * 50_000) == {"a": 1}


def test_one_fence_stripper() -> None:
    text = "a\n```json\n{\"a\": 1}\n```\nb\n```\n[2]\n```\n```  ```"
    assert fenced_blocks(text) == ['{"a": 1}', "[2]"]
    assert fenced_blocks("no fences") == []


def test_an_extraction_answer_with_flaws_validates() -> None:
    text = "```json\n{'facts': [{'event': 'add', 'text': 'User likes tea', 'ref': None,}], 'relations': []}\n```"
    answer = parse_model(text, ExtractionAnswer)
    assert [(f.event, f.text, f.ref) for f in answer.facts] == [("ADD", "User likes tea", None)]
