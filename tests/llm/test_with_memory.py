"""The OpenAI providers inside a Memory: the deadline holds for add(), closing the memory closes the
HTTP clients it built, one answer's facts are capped, and prompts come from config."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memlayer import AsyncMemory, Memory
from memlayer.embeddings.hashing import HashingEmbedder
from memlayer.errors import ConfigError, LLMError
from memlayer.llm.openai import OpenAILLM
from tests.fake_openai import FakeOpenAI, Fault


@pytest.fixture
def pooled() -> Iterator[FakeOpenAI]:
    """A fake server that keeps connections alive, so the clients hold pooled connections."""
    with FakeOpenAI(keep_alive=True) as server:
        yield server


def llm_spec(server: FakeOpenAI, **extra: Any) -> dict[str, Any]:
    return {"provider": "openai", "config": {"base_url": server.base_url, "api_key": "k", "model": "fake-model",
                                            "backoff": 0.01, **extra}}


def system_prompt(server: FakeOpenAI) -> str:
    return str(server.calls("/chat/completions")[-1].json["messages"][0]["content"])


def facts(*texts: str) -> dict[str, Any]:
    return {"facts": [{"event": "ADD", "text": t} for t in texts], "relations": []}


# -- the deadline through add() -----------------------------------------------------------------
def test_a_trickling_llm_cannot_hold_add_past_the_deadline(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    with Memory(str(tmp_path), embedder=HashingEmbedder(64), graph=False,
                llm=llm_spec(fake_openai, timeout=2.0, deadline=1.0)) as m:
        fake_openai.script_chat(Fault.trickle(0.2, times=5))
        started = time.monotonic()
        with pytest.raises(LLMError, match="deadline"):
            m.add("I live in Lisbon", user_id="u")
        assert time.monotonic() - started < 1.0 + 2.0  # unbounded, the trickle takes minutes
        assert m.get_all(user_id="u")["results"] == []
        assert m.add("I live in Porto", user_id="u", infer=False)["results"]  # the scope is free again


# -- closing ------------------------------------------------------------------------------------
async def test_closing_a_memory_closes_the_clients_it_built(
    tmp_path: Path, pooled: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    """Used from a running loop (a notebook), a sync Memory's LLM client must not outlive close(): its
    pooled connections belong to the memory's own loop, and closing them later from this loop fails
    with "Task exception was never retrieved ... Event loop is closed"."""
    embedder = {"provider": "openai", "config": {"base_url": pooled.base_url, "dims": 16}}
    m = Memory(str(tmp_path), embedder=embedder, llm=llm_spec(pooled), graph=False)
    pooled.script_chat(facts("User likes tea"))
    assert m.add("I like tea", user_id="u")["results"]
    llm_client = m.async_memory.llm._transport.client  # type: ignore[union-attr]
    embed_client = m.async_memory.embedder._transport.client  # type: ignore[attr-defined]
    m.close()
    assert llm_client.is_closed() and embed_client.is_closed()
    del m, llm_client, embed_client
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        gc.collect()
        await asyncio.sleep(0.05)
        gc.collect()
    assert not [r for r in caplog.records if r.name == "asyncio"], caplog.text


async def test_objects_passed_in_stay_open(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    llm = OpenAILLM("fake-model", base_url=fake_openai.base_url, backoff=0.01)
    async with AsyncMemory(str(tmp_path), embedder=HashingEmbedder(64), llm=llm, graph=False) as m:
        fake_openai.script_chat(facts("User likes tea"))
        await m.add("I like tea", user_id="u")
    fake_openai.script_chat("still usable")
    assert (await llm.complete([{"role": "user", "content": "hi"}])).content == "still usable"
    await llm.aclose()


# -- caps ---------------------------------------------------------------------------------------
def test_one_answer_cannot_create_100k_memories(
    tmp_path: Path, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    answer = {"facts": [{"event": "ADD", "text": f"User owns item {i}"} for i in range(100_000)], "relations": []}
    with Memory(str(tmp_path), embedder=HashingEmbedder(64), graph=False, llm=llm_spec(fake_openai)) as m:
        fake_openai.script_chat(answer)
        with caplog.at_level(logging.WARNING):
            out = m.add("I own a lot of things", user_id="u")
        assert len(out["results"]) == 100  # the default max_facts
        assert len(m.get_all(user_id="u", limit=1000)["results"]) == 100
        assert "the LLM answered 100000 facts for one add(); using the first 100 (max_facts)" in caplog.text


def test_caps_are_configurable(tmp_path: Path, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture) -> None:
    extractor = {"provider": "llm", "config": {"max_facts": 2, "max_relations": 3}}
    with Memory(str(tmp_path), embedder=HashingEmbedder(64), graph="memory", llm=llm_spec(fake_openai),
                extractor=extractor) as m:
        answer = facts("User likes tea", "User likes jam", "User likes figs")
        answer["relations"] = [{"source": "user", "relationship": "LIKES", "destination": d}
                               for d in ("tea", "jam", "figs", "plums", "kale")]
        fake_openai.script_chat(answer)
        with caplog.at_level(logging.WARNING):
            out = m.add("I like tea, jam, figs, plums and kale", user_id="u")
        assert [r["memory"] for r in out["results"]] == ["User likes tea", "User likes jam"]
        assert [r["destination"] for r in out["relations"]["added"]] == ["tea", "jam", "figs"]
        assert "5 relations for one add(); using the first 3 (max_relations)" in caplog.text
    with Memory(":memory:", embedder=HashingEmbedder(8), graph=False, llm=llm_spec(fake_openai),
                extractor={"provider": "llm", "config": {"max_facts": -1}}) as m, \
            pytest.raises(ConfigError, match="max_facts must be a whole number"):
        _ = m.async_memory.extractor


# -- prompts through config ---------------------------------------------------------------------
def test_instructions_and_focus_through_config(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    """The failing case of issue 18: the configured llm reaches an extractor configured by mapping."""
    config = {
        "path": str(tmp_path), "embedder": "hash", "graph": False, "llm": llm_spec(fake_openai),
        "extractor": {"provider": "llm", "config": {
            "focus": "Only the user's food: what they eat, like, avoid or are allergic to.",
            "instructions": "Write every fact in the present tense.",
        }},
    }
    with Memory.from_config(config) as m:
        fake_openai.script_chat(facts("User is allergic to peanuts"))
        assert m.add("I'm allergic to peanuts and I live in Oslo", user_id="u")["results"]
        prompt = system_prompt(fake_openai)
        assert "## What to remember\nOnly the user's food: what they eat" in prompt
        assert "User lives in New York" in prompt or "Deciding against the existing memories" in prompt  # rules kept
        assert "come from, work and studies" not in prompt  # the default focus is replaced
        assert prompt.index("## Additional instructions\nWrite every fact in the present tense.") > prompt.index("## Answer")


def test_a_registered_prompt_by_name_through_config(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    from memlayer.prompts import register_prompts

    def terse(messages: Any, existing: Any, context: Any) -> list[dict[str, str]]:
        return [{"role": "system", "content": "TERSE: reply in JSON."},
                {"role": "user", "content": "\n".join(m.content for m in messages)}]

    register_prompts("terse-test", terse)
    spec = {"provider": "llm", "config": {"prompt": "terse-test", "instructions": "No opinions."}}
    with Memory(str(tmp_path), embedder=HashingEmbedder(64), graph=False, llm=llm_spec(fake_openai), extractor=spec) as m:
        fake_openai.script_chat(facts("User likes tea"))
        m.add("I like tea", user_id="u")
    assert system_prompt(fake_openai).startswith("TERSE: reply in JSON.\n\n## Additional instructions\nNo opinions.")


@pytest.mark.parametrize(("extractor", "needle"), [
    ({"provider": "llm", "config": {"prompt": "no-such-set"}}, "no prompt set named 'no-such-set'"),
    ({"provider": "llm", "config": {"prompt": "default", "focus": "food"}}, "either prompt= .* or focus="),
    ({"provider": "llm", "config": {"focus": "  "}}, "focus must be a non-empty text"),
    ({"provider": "llm", "config": {"instructions": 3}}, "instructions must be a text"),
    ({"provider": "llm", "config": {"promt": "x"}}, "extractor 'llm' does not take these settings"),
])
def test_bad_prompt_config_names_the_problem(fake_openai: FakeOpenAI, extractor: Any, needle: str) -> None:
    with Memory(":memory:", embedder=HashingEmbedder(8), graph=False, llm=llm_spec(fake_openai),
                extractor=extractor) as m, pytest.raises(ConfigError, match=needle):
        _ = m.async_memory.extractor


def test_the_llm_extractor_without_an_llm_says_what_to_do() -> None:
    for extractor in ("llm", {"provider": "llm", "config": {"instructions": "x"}}):
        with Memory(":memory:", embedder=HashingEmbedder(8), graph=False, llm=False, extractor=extractor) as m, \
                pytest.raises(ConfigError, match="needs an LLM: pass llm="):
            _ = m.async_memory.extractor
