from __future__ import annotations

import pytest
from pydantic import BaseModel

from memlayer.llm.jsonparse import (
    JSONParseError,
    find_object,
    loads_tolerant,
    parse_model,
    strip_trailing_commas,
)


class Person(BaseModel):
    name: str
    age: int = 0


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "Ada", "age": 36}',
        '  \n{"name": "Ada", "age": 36}\n',
        '```json\n{"name": "Ada", "age": 36}\n```',
        '```\n{"name": "Ada", "age": 36}\n```',
        'Sure! Here it is:\n```JSON\n{"name": "Ada", "age": 36}\n```\nAnything else?',
        'Here is the answer: {"name": "Ada", "age": 36}. Hope that helps!',
        '{"name": "Ada", "age": 36,}',
        '{\n  "name": "Ada",\n  "age": 36,\n}\n',
        '<think>they want {json} maybe</think>{"name": "Ada", "age": 36}',
        '\ufeff{"name": "Ada", "age": 36}',
        'first {not json} then {"name": "Ada", "age": 36}',
        '{"name": "Ada", "age": 36}\n{"name": "Bob"}',
    ],
)
def test_recovers_the_object(text: str) -> None:
    assert loads_tolerant(text) == {"name": "Ada", "age": 36}


def test_trailing_commas_in_nested_lists_and_strings_untouched() -> None:
    text = '{"tags": ["a", "b",], "note": "x ,}", "inner": {"k": [1, 2 , ] , },}'
    assert loads_tolerant(text) == {"tags": ["a", "b"], "note": "x ,}", "inner": {"k": [1, 2]}}
    assert strip_trailing_commas("[1, 2,\n ]") == "[1, 2\n ]"
    assert strip_trailing_commas('"a,]"') == '"a,]"'


def test_braces_and_escaped_quotes_inside_strings() -> None:
    text = 'Result: {"text": "he said \\"}{\\" twice", "n": 1} done'
    assert loads_tolerant(text) == {"text": 'he said "}{" twice', "n": 1}


def test_plain_arrays_and_scalars_parse_directly() -> None:
    assert loads_tolerant("[1, 2, 3,]") == [1, 2, 3]
    assert loads_tolerant('```json\n[{"a": 1}]\n```') == [{"a": 1}]


def test_find_object_returns_none_without_object() -> None:
    assert find_object("no braces here") is None
    assert find_object("{broken") is None


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("<think>hmm</think>", "empty"),
        ("I cannot help with that.", "no JSON object"),
        ('Sure: {"name": "Ada", "age": ', "never closed"),
        ("{name: Ada}", "not valid JSON"),
    ],
)
def test_errors_say_what_is_wrong(text: str, needle: str) -> None:
    with pytest.raises(JSONParseError, match=needle):
        loads_tolerant(text)


def test_parse_model_validates() -> None:
    assert parse_model('```json\n{"name": "Ada",}\n```', Person) == Person(name="Ada")
    with pytest.raises(JSONParseError, match=r"does not match Person: age: .*integer"):
        parse_model('{"name": "Ada", "age": "old"}', Person)
    with pytest.raises(JSONParseError, match="name: Field required"):
        parse_model('{"age": 3}', Person)
    assert issubclass(JSONParseError, ValueError)
