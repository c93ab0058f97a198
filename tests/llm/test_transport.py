"""The shared OpenAI transport: a total deadline per call (trickling and hung servers), Retry-After,
and the defaults a user gets. Bounds on elapsed time are generous: each one separates "bounded by the
deadline" from "held for as long as the server likes" (tens of seconds), not fast from slow."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import pytest
from pydantic import BaseModel

from memlayer.embeddings.openai import OpenAIEmbedder
from memlayer.errors import LLMError, ProviderError
from memlayer.llm.openai import OpenAILLM
from memlayer.openai_transport import DEFAULT_DEADLINE, DEFAULT_TIMEOUT, retry_after
from tests.fake_openai import FakeOpenAI, Fault

MSGS = [{"role": "user", "content": "I am Ada."}]
SLACK = 2.0  # seconds allowed past a deadline for a loaded CI machine; the unbounded case takes minutes


class Person(BaseModel):
    name: str


def llm(server: FakeOpenAI, **kwargs: Any) -> OpenAILLM:
    return OpenAILLM(**{"base_url": server.base_url, "backoff": 0.01, **kwargs})


def embedder(server: FakeOpenAI, **kwargs: Any) -> OpenAIEmbedder:
    return OpenAIEmbedder(**{"base_url": server.base_url, "backoff": 0.01, **kwargs})


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


# -- the deadline ---------------------------------------------------------------------------------
@pytest.mark.parametrize("body_only", [False, True], ids=["status-line-and-headers", "body"])
async def test_a_trickling_server_cannot_hold_a_call_past_the_deadline(fake_openai: FakeOpenAI, body_only: bool) -> None:
    # One byte every 0.2 s: a reply of ~400 bytes would take 80 s, and no read ever waits 2 s.
    fake_openai.script_chat(Fault.trickle(0.2, times=10, body_only=body_only))
    started = time.monotonic()
    with pytest.raises(LLMError, match=r"within the 1s deadline after 1 attempt.*Raise deadline="):
        await llm(fake_openai, timeout=2.0, deadline=1.0).complete(MSGS, response_model=Person)
    assert time.monotonic() - started < 1.0 + SLACK
    assert fake_openai.chat_calls == 1


async def test_the_deadline_bounds_retries_whatever_the_per_attempt_timeout(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat(Fault.slow(30.0, times=20))  # a hung server
    started = time.monotonic()
    with pytest.raises(LLMError, match="deadline"):
        await llm(fake_openai, max_retries=20, deadline=1.0).complete(MSGS)  # default timeout: 30 s
    assert time.monotonic() - started < 1.0 + SLACK
    assert fake_openai.chat_calls == 1


async def test_attempts_share_the_deadline(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat(Fault.slow(5.0, times=20))
    started = time.monotonic()
    with pytest.raises(LLMError, match=r"within the 1.2s deadline after [2-5] attempt\(s\); last problem: timed out after 0.3s"):
        await llm(fake_openai, timeout=0.3, max_retries=20, deadline=1.2).complete(MSGS)
    assert time.monotonic() - started < 1.2 + SLACK
    assert 2 <= fake_openai.chat_calls <= 5


async def test_no_deadline_means_attempts_and_timeouts_only(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat(Fault.slow(0.6), "late but fine")
    result = await llm(fake_openai, timeout=0.2, deadline=None).complete(MSGS)
    assert result.content == "late but fine" and fake_openai.chat_calls == 2


def test_defaults_do_not_wait_minutes(fake_openai: FakeOpenAI) -> None:
    """A hung server with the default config costs one deadline: 60 s, not 4 x 30 s plus backoff."""
    assert (DEFAULT_TIMEOUT, DEFAULT_DEADLINE) == (30.0, 60.0)
    chat, emb = OpenAILLM(base_url=fake_openai.base_url), OpenAIEmbedder(base_url=fake_openai.base_url)
    assert (chat.timeout, chat.deadline, emb.timeout, emb.deadline) == (30.0, 60.0, 30.0, 60.0)


@pytest.mark.parametrize("bad", [{"deadline": 0}, {"deadline": -1.0}, {"timeout": 0}, {"max_retries": -1}])
def test_bad_deadline_settings_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(LLMError, match="deadline > 0"):
        OpenAILLM(base_url="http://localhost:1/v1", **bad)


def test_the_sync_embedder_stops_a_trickling_body_at_the_deadline(fake_openai: FakeOpenAI) -> None:
    emb = embedder(fake_openai, dims=8, timeout=2.0, deadline=1.0)
    fake_openai.script_embeddings(Fault.trickle(0.2, body_only=True))
    started = time.monotonic()
    with pytest.raises(ProviderError, match=r"embedding failed within the 1s deadline"):
        emb.embed(["hello"])
    assert time.monotonic() - started < 1.0 + SLACK
    assert emb.embed(["hello"]).shape == (1, 8)  # the connection pool is still usable


def test_the_sync_embedder_deadline_bounds_retries(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_embeddings(Fault.slow(5.0, times=20))
    started = time.monotonic()
    with pytest.raises(ProviderError, match="deadline"):
        embedder(fake_openai, timeout=0.3, max_retries=20, deadline=1.0).embed(["a"])
    assert time.monotonic() - started < 1.0 + SLACK


# -- Retry-After ----------------------------------------------------------------------------------
def _gap(server: FakeOpenAI, path: str) -> float:
    first, second = server.calls(path)[:2]
    return second.at - first.at


async def test_llm_honours_retry_after(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat(Fault.status(429, retry_after=0.5), "after the wait")
    assert (await llm(fake_openai).complete(MSGS)).content == "after the wait"
    assert _gap(fake_openai, "/chat/completions") >= 0.45  # our own backoff alone would be ~0.01 s


def test_embedder_honours_retry_after(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_embeddings(Fault.status(503, retry_after=0.5))
    assert embedder(fake_openai).embed(["a"]).shape == (1, 1536)
    assert _gap(fake_openai, "/embeddings") >= 0.45


async def test_a_retry_after_past_the_deadline_fails_at_once(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat(Fault.status(429, retry_after=30, times=3))
    started = time.monotonic()
    with pytest.raises(LLMError, match=r"asked to wait 30s before retrying, longer than the .*s left of the 5s deadline"):
        await llm(fake_openai, deadline=5.0).complete(MSGS)
    assert fake_openai.chat_calls == 1 and time.monotonic() - started < 5.0


def test_retry_after_forms() -> None:
    assert retry_after({"retry-after": "2"}) == 2.0
    assert retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None and retry_after(None) is None
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    assert 25 <= (retry_after({"retry-after": format_datetime(when, usegmt=True)}) or 0) <= 30
    past = datetime.now(timezone.utc) - timedelta(seconds=30)
    assert retry_after({"retry-after": format_datetime(past, usegmt=True)}) == 0.0


async def test_without_a_deadline_a_retry_after_past_a_minute_fails_at_once(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat(Fault.status(503, retry_after=120, times=3))
    with pytest.raises(LLMError, match=r"asked to wait 120s before retrying, longer than the 60s memlayer waits at most"):
        await llm(fake_openai, deadline=None).complete(MSGS)
    assert fake_openai.chat_calls == 1
