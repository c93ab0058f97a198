"""Integrity defects found by attacking the store (issue 15), each kept as a test:
scopes of decisions, plans made without a lock and re-checked at commit, id calls with a scope, limits."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from memlayer import Memory
from memlayer.errors import FilterError, MemlayerError, NotFoundError
from memlayer.extract.base import ExtractContext, RelatedLookup
from memlayer.extract.patterns import PatternExtractor
from memlayer.types import Decision, Extraction, Message


class Recording:
    """An extractor that shows what the lookup gave it and decides UPDATE on every memory it was shown."""

    def __init__(self) -> None:
        self.shown: list[str] = []

    async def extract(self, messages: list[Message], *, lookup: RelatedLookup, context: ExtractContext) -> Extraction:
        related = await lookup([m.content for m in messages], {"residence"})
        self.shown += [m.id for m in related]
        return Extraction(decisions=[Decision("UPDATE", "rewritten by a decision", m.ref) for m in related])


@pytest.mark.parametrize("scope", [{"agent_id": "bot"}, {"run_id": "r1"}, {"agent_id": "bot", "run_id": "r1"}])
def test_a_partial_scope_add_decides_only_on_its_exact_scope(tmp_path, hash_embedder, scope):
    extractor = Recording()
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False, extractor=extractor) as m:
        alice = m.add("I live in Paris", user_id="alice", agent_id="bot", run_id="r1", infer=False)["results"][0]["id"]
        out = m.add("I live in Paris now", **scope)
        assert alice not in extractor.shown, "another user's memory was shown to the extractor"
        assert m.get(alice)["memory"] == "I live in Paris"
        assert all(r["event"] != "UPDATE" for r in out["results"])


class Gate:
    """An extractor (the pattern one) that waits at a gate before answering, like a slow LLM."""

    def __init__(self) -> None:
        self.inner = PatternExtractor()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.shown: list[str] = []

    async def extract(self, messages: list[Message], *, lookup: RelatedLookup, context: ExtractContext) -> Extraction:
        async def seen(texts: list[str], attributes: set[str] | None = None) -> Any:
            found = await lookup(texts, attributes)
            self.shown += [m.id for m in found]
            return found

        answer = await self.inner.extract(messages, lookup=seen, context=context)
        self.entered.set()
        await asyncio.to_thread(self.release.wait, 30)
        return answer


def _in_thread(fn: Any) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}
    t = threading.Thread(target=lambda: box.setdefault("value", fn()))
    t.start()
    return t, box


def test_no_lock_is_held_while_the_extractor_thinks(tmp_path, hash_embedder):
    gate = Gate()
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False, extractor=gate) as m:
        slow, box = _in_thread(lambda: m.add("I live in Oslo", user_id="u"))
        assert gate.entered.wait(30)
        # the same scope, while the "LLM" is still thinking: verbatim adds and reads go through at once
        assert m.add("a note", user_id="u", infer=False)["results"][0]["event"] == "ADD"
        assert m.search("note", user_id="u")["results"]
        gate.release.set()
        slow.join(30)
        assert box["value"]["results"][0]["event"] == "ADD"


def test_a_decision_on_a_memory_changed_meanwhile_is_skipped(tmp_path, hash_embedder):
    gate = Gate()
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        home = m.add("I live in Oslo", user_id="u")["results"][0]["id"]
        m.async_memory.engine._extractor = gate
        slow, box = _in_thread(lambda: m.add("I moved to Bergen", user_id="u"))
        assert gate.entered.wait(30) and home in gate.shown
        m.update(home, "User lives in Tromsø")  # changed while the extractor was deciding on it
        gate.release.set()
        slow.join(30)
        events = {r["id"]: r["event"] for r in box["value"]["results"]}
        assert events.get(home) is None, "the stale DELETE of the changed memory must be skipped"
        assert m.get(home)["memory"] == "User lives in Tromsø" and m.get(home)["valid_to"] is None


def test_concurrent_moves_leave_one_current_residence(tmp_path, hash_embedder):
    first, second = Gate(), Gate()
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        oslo = m.add("I live in Oslo", user_id="u")["results"][0]["id"]
        m.async_memory.engine._extractor = first
        t1, _ = _in_thread(lambda: m.add("I moved to Bergen", user_id="u"))
        assert first.entered.wait(30)
        m.async_memory.engine._extractor = second
        t2, _ = _in_thread(lambda: m.add("I moved to Tromsø", user_id="u"))
        assert second.entered.wait(30)
        first.release.set()
        t1.join(30)
        second.release.set()  # decided against Oslo only: it never saw Bergen
        t2.join(30)
        current = [r for r in m.get_all(user_id="u")["results"] if r["attribute"] == "residence"]
        assert [r["memory"] for r in current] == ["User lives in Tromsø"]
        bergen = next(r for r in m.get_all(user_id="u", include_expired=True)["results"] if "Bergen" in r["memory"])
        assert bergen["valid_to"] is not None and bergen["superseded_by"] == current[0]["id"]
        assert m.get(oslo)["valid_to"] is not None
        assert m.history(bergen["id"])[-1]["event"] == "DELETE"


def test_id_calls_with_a_scope_only_reach_that_scope(memory):
    mid = memory.add("secret plan", user_id="alice", agent_id="bot", infer=False)["results"][0]["id"]
    assert memory.get(mid, user_id="bob") is None
    assert memory.history(mid, user_id="bob") == []
    for call in (lambda: memory.update(mid, "hijacked", user_id="bob"), lambda: memory.delete(mid, agent_id="other")):
        with pytest.raises(NotFoundError, match="no memory with id"):
            call()
    assert memory.get(mid)["memory"] == "secret plan"
    assert memory.get(mid, user_id="alice")["id"] == mid and memory.get(mid, agent_id="bot")["id"] == mid
    assert memory.history(mid, user_id="alice")[0]["event"] == "ADD"
    assert memory.update(mid, "revised plan", user_id="alice")["memory"] == "revised plan"
    memory.delete(mid, user_id="alice", agent_id="bot")
    assert memory.get(mid) is None


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda m: m.search("x", user_id="u", limit=2**63), MemlayerError, "at most"),
        (lambda m: m.get_all(user_id="u", limit=-1), MemlayerError, "non-negative"),
        (lambda m: m.get_all(user_id="u", limit=2**63), MemlayerError, "at most"),
        (lambda m: m.search("x", user_id="u", max_tokens=2**70), MemlayerError, "at most"),
        (lambda m: m.search("x", user_id="u", filters={"n": 10**100}), FilterError, "64 bits"),
        (lambda m: m.search("x", user_id="u", filters={"n": {"lt": float("inf")}}), FilterError, "finite"),
        (lambda m: m.search("x" * 200_000, user_id="u"), MemlayerError, "characters"),
        (lambda m: m.get(123), MemlayerError, "memory id"),
        (lambda m: m.bulk_add([], batch_size=True), MemlayerError, "batch_size"),
    ],
)
def test_numeric_and_size_arguments_are_checked(memory, call, error, message):
    with pytest.raises(error, match=message):
        call(memory)


def test_deeply_nested_filters_are_refused_cleanly(memory):
    deep: dict[str, Any] = {"k": 1}
    for _ in range(500):
        deep = {"NOT": deep}
    with pytest.raises(FilterError, match="nest"):
        memory.search("x", user_id="u", filters=deep)
    wide = {"OR": [{"k": i} for i in range(5_000)]}
    with pytest.raises(FilterError, match="at most"):
        memory.get_all(user_id="u", filters=wide)


def test_close_on_a_full_disk_raises_a_store_error(tmp_path, hash_embedder, monkeypatch):
    import os

    from memlayer.errors import StoreError

    m = Memory(str(tmp_path), embedder=hash_embedder, graph=False)
    m.add("something to snapshot", user_id="u", infer=False)

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(StoreError, match="No space left"):
        m.close()
