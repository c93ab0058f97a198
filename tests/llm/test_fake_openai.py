"""The fake OpenAI server itself, driven by the real openai client."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import numpy as np
import openai
import pytest

from tests.fake_openai import FakeOpenAI, Fault, ToolCall, fake_embeddings


@pytest.fixture
def client(fake_openai: FakeOpenAI) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake_openai.base_url, api_key="sk-test", max_retries=0, timeout=2)


def ask(client: openai.OpenAI, text: str = "hello", **kwargs: Any) -> Any:
    """One chat completion (typed loosely: the tests poke at fields the stubs spell as unions)."""
    create: Any = client.chat.completions.create
    return create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}], **kwargs)


def test_scripted_answers_in_order_then_default(fake_openai: FakeOpenAI, client: openai.OpenAI) -> None:
    fake_openai.script_chat("one", {"two": 2}, lambda req: req["messages"][0]["content"][::-1])
    assert ask(client).choices[0].message.content == "one"
    assert json.loads(ask(client).choices[0].message.content or "") == {"two": 2}
    assert ask(client, "abc").choices[0].message.content == "cba"
    assert ask(client).choices[0].message.content == "ok"
    assert ask(client, response_format={"type": "json_object"}).choices[0].message.content == "{}"
    fake_openai.default_chat = lambda req: "custom"
    assert ask(client).choices[0].message.content == "custom"
    assert fake_openai.pending == 0 and fake_openai.chat_calls == 6


def test_usage_counts_words(fake_openai: FakeOpenAI, client: openai.OpenAI) -> None:
    fake_openai.script_chat("three word answer")
    usage = ask(client, "a prompt of five words").usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (5, 3, 8)


def test_tool_calls(fake_openai: FakeOpenAI, client: openai.OpenAI) -> None:
    tools = [{"type": "function", "function": {"name": "save", "parameters": {"type": "object"}}}]
    fake_openai.script_chat(ToolCall("save", {"fact": "likes tea"}), [ToolCall("a"), ToolCall("b", {"x": 1})])
    first = ask(client, tools=tools, tool_choice="auto").choices[0]
    assert first.finish_reason == "tool_calls" and first.message.content is None
    call = first.message.tool_calls[0]
    assert call.function.name == "save" and json.loads(call.function.arguments) == {"fact": "likes tea"}
    second = ask(client, tools=tools).choices[0].message.tool_calls or []
    assert [c.function.name for c in second] == ["a", "b"]
    assert fake_openai.requests[0].json["tools"] == tools
    assert fake_openai.requests[0].json["tool_choice"] == "auto"


def test_faults(fake_openai: FakeOpenAI, client: openai.OpenAI) -> None:
    fake_openai.script_chat(Fault.status(429, times=2, message="slow down"), Fault.malformed(), Fault.empty())
    for _ in range(2):
        with pytest.raises(openai.RateLimitError, match="slow down"):
            ask(client)
    assert (ask(client).choices[0].message.content or "").startswith("Sure!")
    assert ask(client).choices[0].message.content == ""
    assert fake_openai.chat_calls == 4


def test_malformed_is_not_json(fake_openai: FakeOpenAI, client: openai.OpenAI) -> None:
    fake_openai.script_chat(Fault.malformed())
    content = ask(client).choices[0].message.content or ""
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)


def test_reject_response_formats(fake_openai: FakeOpenAI, client: openai.OpenAI) -> None:
    fake_openai.reject_json_schema = True
    schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    with pytest.raises(openai.BadRequestError, match="json_schema is not supported"):
        ask(client, response_format=schema)
    assert ask(client, response_format={"type": "json_object"}).choices[0].message.content == "{}"
    assert fake_openai.response_formats == ["json_schema", "json_object"]


def test_embeddings_and_models(fake_openai: FakeOpenAI, client: openai.OpenAI) -> None:
    res = client.embeddings.create(model="text-embedding-3-small", input=["a b", "c"], dimensions=8)
    got = np.array([d.embedding for d in res.data], dtype=np.float32)
    np.testing.assert_allclose(got, fake_embeddings(["a b", "c"], 8), rtol=1e-6)
    assert res.usage.prompt_tokens == 3
    default = client.embeddings.create(model="text-embedding-3-small", input="hello")  # base64 by default
    assert len(default.data[0].embedding) == 1536
    assert "text-embedding-3-small" in [m.id for m in client.models.list()]
    assert [r.method for r in fake_openai.requests] == ["POST", "POST", "GET"]
    assert fake_openai.requests[0].headers["authorization"] == "Bearer sk-test"


def test_fake_embeddings_are_deterministic_and_lexical() -> None:
    a, b, c = fake_embeddings(["Ada likes green tea", "Ada likes tea", "quantum chromodynamics"], 64)
    assert np.allclose(fake_embeddings(["Ada likes tea"], 64)[0], b)
    assert np.isclose(np.linalg.norm(a), 1.0)
    assert float(a @ b) > float(a @ c)


def test_stop_is_fast_even_with_a_slow_request_in_flight() -> None:
    server = FakeOpenAI().start()
    server.script_chat(Fault.slow(30))
    client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0, timeout=0.2)
    with pytest.raises(openai.APITimeoutError):
        ask(client)
    serving = server._thread
    before = set(threading.enumerate())
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.0
    assert serving is not None and not serving.is_alive()
    time.sleep(0.05)
    assert not [
        t
        for t in before
        if t.is_alive() and t.daemon and t is not threading.current_thread() and "process_request" in repr(t)
    ]
