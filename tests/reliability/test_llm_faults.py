"""LLM and embedder faults (fake OpenAI server): bounded retries, a clear LLMError/ProviderError, and the
store either unchanged (compared through a full dump) or fully updated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memlayer import Memory
from memlayer.errors import LLMError, ProviderError
from tests.fake_openai import FakeOpenAI, Fault
from tests.reliability.helpers import audit, dump, open_memory

RETRIES = 2
CONVERSATION = [{"role": "user", "content": "I moved to Lisbon and I work at Acme now."}]
STATS = {"faults": 0}


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def mem(tmp_path: Path, fake: FakeOpenAI) -> Iterator[Memory]:
    llm = {"provider": "openai", "config": {"base_url": fake.base_url, "api_key": "x", "max_retries": RETRIES,
                                            "backoff": 0.01, "timeout": 0.5}}
    m = open_memory(tmp_path / "store", graph="memory", llm=llm)
    for text in ("User lives in Porto", "User works at Initech", "User likes green tea"):
        m.add(text, user_id="u", infer=False)
    fake.script_chat({"facts": [{"event": "ADD", "text": "User has a cat named Tom"}],
                      "relations": [{"source": "user", "relationship": "HAS_PET", "destination": "Tom"}]})
    m.add("I have a cat named Tom", user_id="u")
    yield m
    m.close()


def _ids(mem: Memory) -> dict[str, str]:
    return {r["memory"]: r["id"] for r in mem.get_all(user_id="u")["results"]}


FAULTS: list[tuple[str, Any]] = [
    ("rate limited (429)", Fault.status(429, times=RETRIES + 1)),
    ("server error (500)", Fault.status(500, times=RETRIES + 1)),
    ("unavailable (503)", Fault.status(503, times=RETRIES + 1)),
    ("timeout", Fault.slow(2.0, times=RETRIES + 1)),
    ("malformed JSON", Fault.malformed(times=RETRIES + 1)),
    ("empty answer", Fault.empty(times=RETRIES + 1)),
    ("non-JSON body", Fault.garbage_body(times=RETRIES + 1)),
    ("mixed", [*Fault.status(429), *Fault.malformed(), *Fault.status(500)]),
]


@pytest.mark.parametrize(("name", "faults"), FAULTS, ids=[f[0] for f in FAULTS])
def test_persistent_fault_leaves_the_store_unchanged(mem: Memory, fake: FakeOpenAI, name: str, faults: Any) -> None:
    before, calls = dump(mem), fake.chat_calls
    fake.script_chat(faults)
    with pytest.raises(LLMError) as info:
        mem.add(CONVERSATION, user_id="u")
    assert fake.chat_calls - calls == RETRIES + 1, "retries must be bounded by max_retries"
    assert str(info.value) and "attempt" in str(info.value)
    assert dump(mem) == before
    audit(mem)
    STATS["faults"] += 1


@pytest.mark.parametrize("code", [400, 401, 403, 404])
def test_permanent_errors_fail_at_once(mem: Memory, fake: FakeOpenAI, code: int) -> None:
    before, calls = dump(mem), fake.chat_calls
    fake.script_chat(Fault.status(code, times=5))
    with pytest.raises(LLMError):
        mem.add(CONVERSATION, user_id="u")
    assert fake.chat_calls - calls <= 3  # 400 walks the json_schema -> json_object -> none fallback
    assert dump(mem) == before


@pytest.mark.parametrize("faults", [Fault.status(429, times=RETRIES), Fault.slow(2.0, times=RETRIES),
                                    [*Fault.malformed(), *Fault.empty()]], ids=["429", "timeout", "malformed+empty"])
def test_transient_fault_then_success_updates_fully(mem: Memory, fake: FakeOpenAI, faults: Any) -> None:
    ids = _ids(mem)
    fake.script_chat(faults, {
        "facts": [{"event": "ADD", "text": "User works at Acme"},
                  {"event": "DELETE", "text": "User works at Initech", "ref": 1},
                  {"event": "UPDATE", "text": "User lives in Lisbon", "ref": 0}],
        "relations": [{"source": "user", "relationship": "WORKS_AT", "destination": "Acme"}],
    })
    out = mem.add(CONVERSATION, user_id="u")
    events = {r["event"] for r in out["results"]}
    assert "ADD" in events
    current = _ids(mem)
    assert "User works at Acme" in current
    for r in out["results"]:
        row = mem.get(r["id"])
        assert row is not None
        if r["event"] == "DELETE":
            assert row["valid_to"] is not None
        elif r["event"] in ("ADD", "UPDATE"):
            assert row["memory"] == r["memory"] and row["valid_to"] is None
    assert out["relations"]["added"]
    assert set(ids.values()) <= {r[0] for r in _all_ids(mem)}
    audit(mem)


def _all_ids(mem: Memory) -> list[tuple[str]]:
    return [(r["id"],) for r in mem.get_all(user_id="u", include_expired=True, limit=1000)["results"]]


@pytest.mark.parametrize("answer", [
    {"facts": [{"event": "UPDATE", "text": "User lives on Mars", "ref": 99},
               {"event": "DELETE", "text": "x", "ref": -1}, {"event": "NONE", "text": "y", "ref": 7}]},
    {"facts": [{"event": "DELETE", "text": "User lives in Porto", "ref": "abc"}]},
    {"facts": [{"event": "EXPLODE", "text": "boom"}]},
    {"facts": "not a list", "relations": {"x": 1}},
    {"unexpected": True},
    [],
    {"facts": [{"event": "ADD", "text": ""}, {"event": "ADD", "text": None}], "relations": [{"source": ""}]},
], ids=["invented-refs", "non-int-ref", "unknown-event", "wrong-types", "wrong-keys", "a-list", "empty-texts"])
def test_invented_ids_and_bad_shapes_change_nothing(mem: Memory, fake: FakeOpenAI, answer: Any) -> None:
    before = dump(mem)
    fake.script_chat(*([answer] * (RETRIES + 1)))
    try:
        out = mem.add(CONVERSATION, user_id="u")
    except LLMError:
        assert dump(mem) == before
        return
    assert all(r["event"] != "UPDATE" and r["event"] != "DELETE" for r in out["results"]), out
    after = dump(mem)
    assert after["memories"] == before["memories"], "an answer with invented refs changed existing memories"
    assert after["vector_ids"] == before["vector_ids"]
    audit(mem)


def test_embedder_fault_leaves_the_store_unchanged(tmp_path: Path, fake: FakeOpenAI) -> None:
    embedder = {"provider": "openai", "config": {"base_url": fake.base_url, "api_key": "x", "dims": 32,
                                                 "max_retries": RETRIES, "backoff": 0.01, "timeout": 0.5}}
    with Memory(str(tmp_path / "e"), embedder=embedder, graph=False) as m:
        m.add("User lives in Porto", user_id="u", infer=False)
        before = dump(m)
        for fault in (Fault.status(500, times=RETRIES + 1), Fault.slow(2.0, times=RETRIES + 1),
                      Fault.garbage_body(times=RETRIES + 1)):
            fake.script_embeddings(fault)
            with pytest.raises(ProviderError):
                m.add("User likes tea", user_id="u", infer=False)
            fake.script_embeddings(fault)
            with pytest.raises(ProviderError):
                m.update(before["memories"][0][1], "User lives in Faro")
            assert dump(m) == before
            fake.script_embeddings(fault)
            with pytest.raises(ProviderError):
                m.search("tea", user_id="u")
        assert m.add("User likes tea", user_id="u", infer=False)["results"]
        audit(m)


def test_embedder_fault_after_a_good_llm_answer_changes_nothing(tmp_path: Path, fake: FakeOpenAI) -> None:
    """The LLM answered, then embedding the new facts failed: nothing of the add may be committed."""
    config = {"base_url": fake.base_url, "api_key": "x", "max_retries": RETRIES, "backoff": 0.01, "timeout": 0.5}
    embedder = {"provider": "openai", "config": {**config, "dims": 32}}
    with Memory(str(tmp_path / "e"), embedder=embedder, llm={"provider": "openai", "config": config},
                graph="memory") as m:
        m.add("User lives in Porto", user_id="u", infer=False)
        before, llm_calls = dump(m), fake.chat_calls
        fake.script_chat({"facts": [{"event": "ADD", "text": "User has a cat named Tom"},
                                    {"event": "DELETE", "text": "User lives in Porto", "ref": 0}],
                          "relations": [{"source": "user", "relationship": "HAS_PET", "destination": "Tom"}]})
        fake.script_embeddings(*Fault.slow(0.0), *Fault.status(500, times=RETRIES + 1))  # lookup ok, then fails
        with pytest.raises(ProviderError):
            m.add("I have a cat named Tom and I left Porto", user_id="u")
        assert fake.chat_calls == llm_calls + 1
        assert dump(m) == before
        audit(m)
