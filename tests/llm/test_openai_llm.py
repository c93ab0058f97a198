"""OpenAILLM against the fake server, through the real openai client."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import openai
import pytest
from pydantic import BaseModel, Field

from memlayer import registry
from memlayer.errors import LLMError, MemlayerError
from memlayer.llm.base import LLM
from memlayer.llm.openai import OpenAILLM, strict_schema
from memlayer.types import Usage
from tests.fake_openai import FakeOpenAI, Fault, count_tokens

MSGS = [{"role": "system", "content": "You extract facts."}, {"role": "user", "content": "I am Ada, 36."}]


class Person(BaseModel):
    name: str
    age: int = 0


class Fact(BaseModel):
    text: str
    confidence: float | None = None


class Facts(BaseModel):
    owner: Person = Field(description="who the facts are about")
    facts: list[Fact] = []


class Tagged(BaseModel):
    tags: dict[str, str]


def make(server: FakeOpenAI, **kwargs: Any) -> OpenAILLM:
    options: dict[str, Any] = {"base_url": server.base_url, "timeout": 0.5, "backoff": 0.01}
    return OpenAILLM(**{**options, **kwargs})


def prompt_words(request_json: dict[str, Any]) -> int:
    return count_tokens(" ".join(m["content"] for m in request_json["messages"]))


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


async def test_plain_text_chat(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat("Hello Ada, nice to meet you")
    llm = make(fake_openai, temperature=0.3)
    result = await llm.complete(MSGS)
    assert isinstance(llm, LLM)
    assert result.content == "Hello Ada, nice to meet you"
    assert result.parsed is None
    req = fake_openai.requests[-1]
    assert req.json["model"] == "gpt-4o-mini"
    assert req.json["temperature"] == 0.3
    assert req.json["messages"] == MSGS
    assert "response_format" not in req.json
    assert req.headers["authorization"] == "Bearer not-needed"
    assert result.usage == Usage(llm_calls=1, prompt_tokens=prompt_words(req.json), completion_tokens=6)


async def test_api_key_from_env_and_argument(
    fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    await OpenAILLM(timeout=0.5).complete(MSGS)
    await OpenAILLM(api_key="sk-arg", timeout=0.5).complete(MSGS)
    assert [r.headers["authorization"] for r in fake_openai.requests] == ["Bearer sk-env", "Bearer sk-arg"]


async def test_json_object_mode(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat({"name": "Ada", "age": 36})
    result = await make(fake_openai, json_mode="json_object").complete(MSGS, response_model=Person)
    assert result.parsed == Person(name="Ada", age=36)
    assert json.loads(result.content) == {"name": "Ada", "age": 36}
    sent = fake_openai.requests[-1].json
    assert sent["response_format"] == {"type": "json_object"}
    system = sent["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("You extract facts.")
    assert "JSON" in system["content"] and '"age"' in system["content"]  # the schema is in the prompt
    assert sent["messages"][1:] == MSGS[1:]


async def test_json_schema_parses_nested_model(fake_openai: FakeOpenAI) -> None:
    answer = {"owner": {"name": "Ada", "age": 36}, "facts": [{"text": "likes tea", "confidence": None}]}
    fake_openai.script_chat(answer)
    result = await make(fake_openai, json_mode="json_schema").complete(MSGS[1:], response_model=Facts)
    assert result.parsed == Facts(owner=Person(name="Ada", age=36), facts=[Fact(text="likes tea")])
    fmt = fake_openai.requests[-1].json["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Facts" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"] == strict_schema(Facts)
    messages = fake_openai.requests[-1].json["messages"]
    assert messages[0]["role"] == "system" and "JSON" in messages[0]["content"]


def test_strict_schema_shape() -> None:
    schema = strict_schema(Facts)
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["owner", "facts"]
    assert schema["properties"]["owner"] == {"$ref": "#/$defs/Person"}  # description beside $ref dropped
    assert "default" not in schema["properties"]["facts"]
    person = schema["$defs"]["Person"]
    assert person["required"] == ["name", "age"] and person["additionalProperties"] is False
    assert "title" not in person and set(person["properties"]) == {"name", "age"}


def test_strict_schema_keeps_fields_named_like_keywords() -> None:
    class Doc(BaseModel):
        title: str
        default: int = 1
        type: str = "note"

    schema = strict_schema(Doc)
    assert set(schema["properties"]) == {"title", "default", "type"}
    assert schema["required"] == ["title", "default", "type"]
    assert "default" not in schema["properties"]["default"]


async def test_dict_fields_use_non_strict_schema(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat({"tags": {"color": "blue"}})
    result = await make(fake_openai, json_mode="json_schema").complete(MSGS, response_model=Tagged)
    assert result.parsed == Tagged(tags={"color": "blue"})
    assert fake_openai.requests[-1].json["response_format"]["json_schema"]["strict"] is False


async def test_auto_falls_back_to_json_object_and_remembers(fake_openai: FakeOpenAI) -> None:
    fake_openai.reject_json_schema = True
    fake_openai.script_chat({"name": "Ada"}, {"name": "Bob"})
    llm = make(fake_openai)
    first = await llm.complete(MSGS, response_model=Person)
    second = await llm.complete(MSGS, response_model=Person)
    assert (first.parsed, second.parsed) == (Person(name="Ada"), Person(name="Bob"))
    assert fake_openai.response_formats == ["json_schema", "json_object", "json_object"]
    assert first.usage.llm_calls == 1  # the rejected request returned no completion


async def test_auto_falls_back_to_plain_text(fake_openai: FakeOpenAI) -> None:
    fake_openai.reject_json_schema = fake_openai.reject_json_object = True
    fake_openai.script_chat('Here you go: {"name": "Ada", "age": 36}', '{"name": "Bob"}')
    llm = make(fake_openai)
    assert (await llm.complete(MSGS, response_model=Person)).parsed == Person(name="Ada", age=36)
    assert (await llm.complete(MSGS, response_model=Person)).parsed == Person(name="Bob")
    assert fake_openai.response_formats == ["json_schema", "json_object", None, None]


async def test_auto_does_not_remember_a_fallback_that_failed(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat(Fault.status(400, times=3, message="context too long"), {"name": "Ada"})
    llm = make(fake_openai)
    with pytest.raises(LLMError, match="rejected the request: HTTP 400: context too long"):
        await llm.complete(MSGS, response_model=Person)
    assert fake_openai.response_formats == ["json_schema", "json_object", None]
    assert (await llm.complete(MSGS, response_model=Person)).parsed == Person(name="Ada")
    assert fake_openai.response_formats[-1] == "json_schema"


async def test_explicit_json_schema_rejected_is_not_retried(fake_openai: FakeOpenAI) -> None:
    fake_openai.reject_json_schema = True
    with pytest.raises(LLMError, match="json_mode='none'"):
        await make(fake_openai, json_mode="json_schema").complete(MSGS, response_model=Person)
    assert fake_openai.chat_calls == 1


@pytest.mark.parametrize(
    "answer",
    [
        '```json\n{"name": "Ada", "age": 36}\n```',
        'Sure! The person is {"name": "Ada", "age": 36}. Anything else?',
        '{"name": "Ada", "age": 36,}',
        '<think>easy</think>\n```\n{\n  "name": "Ada",\n  "age": 36,\n}\n```',
    ],
)
async def test_tolerant_parsing(fake_openai: FakeOpenAI, answer: str) -> None:
    fake_openai.script_chat(answer)
    result = await make(fake_openai, json_mode="none").complete(MSGS, response_model=Person)
    assert result.parsed == Person(name="Ada", age=36)
    assert fake_openai.chat_calls == 1 and fake_openai.response_formats == [None]


async def test_rate_limit_then_success(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat(Fault.status(429, times=2), "finally")
    result = await make(fake_openai).complete(MSGS)
    assert result.content == "finally"
    assert fake_openai.chat_calls == 3
    assert result.usage.llm_calls == 1


@pytest.mark.parametrize("max_retries", [0, 2])
async def test_server_errors_exhaust_bounded_retries(fake_openai: FakeOpenAI, max_retries: int) -> None:
    fake_openai.script_chat(Fault.status(500, times=10))
    with pytest.raises(LLMError, match=rf"after {max_retries + 1} attempts.*HTTP 500.*check its health"):
        await make(fake_openai, max_retries=max_retries).complete(MSGS)
    assert fake_openai.chat_calls == max_retries + 1


async def test_rate_limit_exhausted_says_so(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat(Fault.status(429, times=5))
    with pytest.raises(LLMError, match="HTTP 429.*rate limiting"):
        await make(fake_openai, max_retries=1).complete(MSGS)
    assert fake_openai.chat_calls == 2


async def test_timeouts_are_retried_then_fail(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat(Fault.slow(2.0, times=2))
    with pytest.raises(LLMError, match=r"after 2 attempts.*timed out after 0.2s.*Raise timeout="):
        await make(fake_openai, timeout=0.2, max_retries=1).complete(MSGS)
    assert fake_openai.chat_calls == 2


async def test_timeout_then_success(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat(Fault.slow(2.0), "fast now")
    result = await make(fake_openai, timeout=0.2).complete(MSGS)
    assert result.content == "fast now" and fake_openai.chat_calls == 2


@pytest.mark.parametrize(
    ("status", "needle"),
    [
        (400, "rejected the request: HTTP 400"),
        (401, "check api_key / OPENAI_API_KEY"),
        (403, "permission denied"),
        (404, "check the model name 'gpt-4o-mini' and the base_url"),
    ],
)
async def test_client_errors_are_not_retried(fake_openai: FakeOpenAI, status: int, needle: str) -> None:
    fake_openai.script_chat(Fault.status(status, times=5))
    with pytest.raises(LLMError, match=needle):
        await make(fake_openai).complete(MSGS)
    assert fake_openai.chat_calls == 1


async def test_connection_refused_is_retried_then_fails() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    llm = OpenAILLM(base_url=f"http://127.0.0.1:{port}/v1", timeout=0.5, backoff=0.01, max_retries=1)
    with pytest.raises(LLMError, match="could not connect.*Check base_url"):
        await llm.complete(MSGS)


async def test_non_json_body_is_retried(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat(Fault.garbage_body(), "ok now")
    assert (await make(fake_openai).complete(MSGS)).content == "ok now"
    assert fake_openai.chat_calls == 2


async def test_malformed_json_is_retried_with_a_repair_note(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat(Fault.malformed(), {"name": "Ada", "age": 36})
    result = await make(fake_openai).complete(MSGS, response_model=Person)
    assert result.parsed == Person(name="Ada", age=36)
    assert fake_openai.chat_calls == 2 and result.usage.llm_calls == 2
    retry_messages = fake_openai.requests[-1].json["messages"]
    assert retry_messages[-2]["role"] == "assistant" and retry_messages[-2]["content"].startswith("Sure!")
    assert retry_messages[-1]["role"] == "user" and "never closed" in retry_messages[-1]["content"]


async def test_malformed_json_every_time_raises(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat(Fault.malformed(times=3))
    with pytest.raises(LLMError, match="after 3 attempts.*JSON object is never closed"):
        await make(fake_openai, max_retries=2).complete(MSGS, response_model=Person)
    assert fake_openai.chat_calls == 3


async def test_wrong_shape_is_retried(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat({"name": "Ada", "age": "old"}, {"name": "Ada", "age": 36})
    result = await make(fake_openai).complete(MSGS, response_model=Person)
    assert result.parsed == Person(name="Ada", age=36) and fake_openai.chat_calls == 2
    assert "does not match Person: age" in fake_openai.requests[-1].json["messages"][-1]["content"]


async def test_empty_answer_is_retried(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat(Fault.empty(), "  ", "there")
    result = await make(fake_openai).complete(MSGS)
    assert result.content == "there" and fake_openai.chat_calls == 3


async def test_empty_answers_every_time_raise(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat(Fault.empty(times=2))
    with pytest.raises(LLMError, match="the answer is empty"):
        await make(fake_openai, max_retries=1).complete(MSGS, response_model=Person)
    assert fake_openai.chat_calls == 2


async def test_usage_counts_every_attempt_that_reached_the_model(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat(Fault.status(429), Fault.malformed(), Fault.empty(), {"name": "Ada"})
    llm = make(fake_openai)
    result = await llm.complete(MSGS, response_model=Person)
    answered = fake_openai.requests[1:]
    expected_prompt = sum(prompt_words(r.json) for r in answered)
    expected_completion = count_tokens('Sure! Here is the result: {"name": "Ada", "age": ') + 0 + 2
    assert result.usage == Usage(3, expected_prompt, expected_completion)
    assert llm.total_usage == result.usage

    fake_openai.script_chat(Fault.malformed(times=4))
    with pytest.raises(LLMError):
        await llm.complete(MSGS, response_model=Person)
    assert llm.total_usage.llm_calls == 3 + 4  # failed calls are still counted
    assert llm.total_usage.prompt_tokens > expected_prompt


async def test_concurrent_calls(fake_openai: FakeOpenAI) -> None:
    fake_openai.default_chat = lambda req: req["messages"][-1]["content"].upper()
    llm = make(fake_openai)
    results = await asyncio.gather(*(llm.complete([{"role": "user", "content": f"n{i}"}]) for i in range(8)))
    assert [r.content for r in results] == [f"N{i}" for i in range(8)]
    assert llm.total_usage.llm_calls == 8


async def test_injected_client_gets_its_retries_disabled(fake_openai: FakeOpenAI) -> None:
    client = openai.AsyncOpenAI(base_url=fake_openai.base_url, api_key="sk-x", max_retries=5)
    fake_openai.script_chat(Fault.status(500, times=5))
    llm = OpenAILLM(client=client, max_retries=1, backoff=0.01, timeout=0.5)
    with pytest.raises(LLMError):
        await llm.complete(MSGS)
    assert fake_openai.chat_calls == 2
    await llm.aclose()


async def test_azure_client(fake_openai: FakeOpenAI) -> None:
    endpoint = fake_openai.base_url.removesuffix("/v1")
    llm = OpenAILLM("my-deployment", azure_endpoint=endpoint, api_version="2024-06-01", api_key="az-key")
    fake_openai.script_chat("from azure")
    assert (await llm.complete(MSGS)).content == "from azure"
    req = fake_openai.requests[-1]
    assert req.path.startswith("/openai/deployments/my-deployment/chat/completions?api-version=2024-06-01")
    assert req.headers["api-key"] == "az-key"


def test_missing_key_is_an_actionable_error() -> None:
    with pytest.raises(LLMError, match="pass api_key=... or set OPENAI_API_KEY"):
        OpenAILLM()


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(LLMError, match="json_mode='yaml' is not one of"):
        OpenAILLM(base_url="http://localhost:1/v1", json_mode="yaml")  # type: ignore[arg-type]
    with pytest.raises(LLMError, match="timeout > 0"):
        OpenAILLM(base_url="http://localhost:1/v1", timeout=0)
    assert issubclass(LLMError, MemlayerError)


def test_registered_under_openai() -> None:
    assert registry.get("llms", "openai") is OpenAILLM
    llm = registry.create("llms", {"provider": "openai", "config": {"base_url": "http://x/v1"}})
    assert isinstance(llm, OpenAILLM) and "sk-" not in repr(llm)
