"""Speaker awareness and conversational context come from what a user really sends: OpenAI-style messages
with a role and a name, one add() per turn or one per session; a "speaker" metadata key overrides."""

from __future__ import annotations

import pytest

from memlayer import AsyncMemory
from memlayer.embeddings.hashing import HashingEmbedder
from memlayer.search.config import SearchConfig
from memlayer.search.scope import SearchScope
from memlayer.storage.base import Selection
from memlayer.types import Scope
from tests.search.chat import CHAT

QUERIES = ["Which city did Ann move to last spring?", "What did Bob buy?", "Where does Ann's sister live?",
           "What did Bob and Ann say about cities?"]


def _messages(metadata: bool) -> list[dict]:
    return [{"role": "user", "content": text, "name": who, **({"metadata": {"speaker": who}} if metadata else {})}
            for who, text in CHAT]


async def _answers(how: str) -> dict[str, list[tuple[str, float]]]:
    mem = AsyncMemory(":memory:", embedder=HashingEmbedder(dims=64), graph=False)
    try:
        msgs = _messages(metadata=how == "metadata")
        if how == "per-turn":
            for m in msgs:
                await mem.add([m], user_id="u", infer=False, timestamp="2024-05-01T10:00:00")
        else:
            await mem.add(msgs, user_id="u", infer=False, timestamp="2024-05-01T10:00:00")
        return {q: [(r["memory"], r["score"]) for r in (await mem.search(q, user_id="u", limit=4))["results"]]
                for q in QUERIES}
    finally:
        await mem.close()


async def test_one_add_per_turn_or_per_session_and_metadata_all_rank_the_same():
    per_session = await _answers("per-session")
    assert per_session == await _answers("per-turn") == await _answers("metadata")
    assert per_session["Which city did Ann move to last spring?"][0][0] == "Lisbon, and I love it there."


async def test_the_speaker_comes_from_the_message_name_and_metadata_overrides(mem):
    await mem.add(_messages(metadata=False), user_id="u", infer=False)
    await mem.add([{"role": "user", "content": "A note about Lisbon trams.", "name": "Ann",
                    "metadata": {"speaker": "Zed"}}], user_id="u", infer=False)
    cfg = {"preset": "default", "speaker_boost": 5.0}
    said = {r["memory"] for r in (await mem.search("What did Bob say about a city?", user_id="u", limit=3,
                                                   config=cfg))["results"]}
    assert said == {text for who, text in CHAT if who == "Bob"}
    top = (await mem.search("What did Zed say about Lisbon?", user_id="u", limit=1, config=cfg))["results"][0]
    assert top["memory"] == "A note about Lisbon trams."
    speakers = {m.speaker for m in mem.store.rows(mem.store.select_rids(_sel("u")).tolist()).values()}
    assert speakers == {"Ann", "Bob", "Zed"}


async def test_an_update_naming_another_speaker_moves_the_memory_to_that_speaker(mem):
    first = (await mem.add("went hiking on the weekend", user_id="u", infer=False,
                           metadata={"speaker": "bob"}))["results"][0]["id"]
    await mem.add("went hiking on the weekend too", user_id="u", infer=False, metadata={"speaker": "carol"})
    await mem.update(first, "went hiking on the weekend", metadata={"speaker": "dave"})
    cfg = {"preset": "default", "speaker_boost": 5.0}
    top = (await mem.search("What did dave do on the weekend?", user_id="u", limit=1, config=cfg))["results"][0]
    assert top["id"] == first and top["metadata"] == {"speaker": "dave"}
    scope = SearchScope.read(mem.store, _sel("u"), SearchConfig.preset("default"))
    assert scope.order.all_speakers() == {"dave", "carol"}
    await mem.update(first, "went hiking last weekend", metadata={"mood": "good"})  # no speaker named: it stays
    assert SearchScope.read(mem.store, _sel("u"), SearchConfig.preset("default")).order.all_speakers() == {
        "dave", "carol"}


async def test_roles_are_speakers_when_messages_have_no_name(mem):
    await mem.add([{"role": "user", "content": "I need a laptop for video editing."},
                   {"role": "assistant", "content": "A laptop with a strong GPU and 32 GB of memory."},
                   {"role": "user", "content": "My budget for a laptop is tight."}], user_id="u", infer=False)
    res = await mem.search("What laptop did the assistant suggest?", user_id="u", limit=1,
                           config={"preset": "default", "speaker_boost": 5.0})
    assert res["results"][0]["memory"].startswith("A laptop with a strong GPU")
    scope = SearchScope.read(mem.store, _sel("u"), SearchConfig.preset("default"))
    assert scope.speakers_named("what did the assistant suggest?") == {"assistant"}
    assert scope.strip_names("what did the assistant suggest?") == set()  # a role is a word of the question


def _sel(user: str) -> Selection:
    return Selection(Scope(user))


def test_a_memory_inherits_only_as_a_reply():
    import numpy as np

    from memlayer.search.context import Links, ScopeOrder, propagate
    from memlayer.search.scores import Scores

    base, links = Scores.of_dict({1: 1.0, 2: 0.0}), Links(np.array([2]), np.array([1]), np.array([-1]))

    def said(*speakers: str | None) -> ScopeOrder:
        return ScopeOrder(np.array([1, 2]), np.zeros(2), None, list(speakers))

    def score(order: ScopeOrder | None) -> float:
        return propagate(base, links, 0.8, 0.1, 0.0, order).to_dict()[2]

    assert score(None) == pytest.approx(0.9)  # speakers unknown: a reply
    assert score(said("Ann", None)) == pytest.approx(0.9)
    assert score(said("Ann", "Bob")) == pytest.approx(0.9)
    assert score(said("Ann", "Ann")) == pytest.approx(0.1)  # a continuation


async def test_two_statements_in_one_message_list_do_not_lift_each_other(mem):
    await mem.add(["Alice likes green tea", "Alice has a cat named Miso"], user_id="solo", infer=False)
    top = (await mem.search("what does she drink?", user_id="solo", limit=1))["results"]
    assert [r["memory"] for r in top] == ["Alice likes green tea"]
