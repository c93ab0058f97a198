"""Facts added out of time order (an importer backfilling old conversations after newer ones): an add never
closes, rewrites or re-times a memory stated after its own timestamp; what it says is stored as history,
valid until the next value of the slot."""

from __future__ import annotations

from typing import Any

from memlayer import AsyncMemory, Memory
from memlayer.clock import ManualClock
from memlayer.ops.add import write
from memlayer.ops.plan import Planned, WriteItem
from memlayer.types import Message, Scope, to_utc

SF, NY, BOSTON = "User lives in San Francisco", "User lives in New York", "User lives in Boston"


def at(day: str) -> str:
    return f"{day}T00:00:00+00:00"


def residences(m: Memory, **when: Any) -> list[str]:
    return [r["memory"] for r in m.get_all(user_id="u", **when)["results"]]


def cities(m: Memory, **when: Any) -> set[str]:
    return {r["destination"] for r in m.search("San Francisco New York Boston", user_id="u", **when)["relations"]}


def test_a_reverse_chronological_import_keeps_every_period(tmp_path, hash_embedder) -> None:
    with Memory(str(tmp_path), embedder=hash_embedder, graph="memory") as m:
        sf = m.add("I moved to San Francisco.", user_id="u", timestamp="2025-06-01")["results"][0]
        ny = m.add("I live in New York.", user_id="u", timestamp="2025-03-01")["results"]
        assert [(r["event"], r["memory"], r["superseded_by"], r["valid_to"]) for r in ny] == [
            ("ADD", NY, sf["id"], at("2025-06-01"))]  # the answer says it is history; San Francisco is not touched
        boston = m.add("I live in Boston.", user_id="u", timestamp="2024-01-01")["results"]
        # the extractor was shown San Francisco (current), but the next value after 2024-01-01 is New York
        assert [(r["superseded_by"], r["valid_to"]) for r in boston] == [(ny[0]["id"], at("2025-03-01"))]

        assert residences(m) == [SF] and m.get(sf["id"])["valid_to"] is None
        assert residences(m, as_of="2025-06-15") == [SF]
        assert residences(m, as_of="2025-04-01") == [NY]
        assert residences(m, as_of="2024-06-01") == [BOSTON]
        assert residences(m, as_of="2023-06-01") == []
        assert [h["event"] for h in m.history(sf["id"])] == ["ADD"]
        [added, closed] = m.history(ny[0]["id"])
        assert (added["event"], added["created_at"]) == ("ADD", at("2025-03-01"))
        assert (closed["event"], closed["created_at"]) == ("DELETE", at("2025-06-01"))
        assert "stated later" in closed["reason"]
        assert closed["source_messages"][0]["content"] == "I live in New York."

        assert cities(m) == {"San Francisco"}  # the graph agrees, period by period
        assert cities(m, as_of=to_utc("2025-04-01")) == {"New York"}
        assert cities(m, as_of=to_utc("2024-06-01")) == {"Boston"}


def test_in_time_order_nothing_changes(tmp_path, hash_embedder) -> None:
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        ny = m.add("I live in New York.", user_id="u", timestamp="2025-03-01")["results"][0]
        moved = m.add("I moved to San Francisco.", user_id="u", timestamp="2025-06-01")["results"]
        assert sorted(r["event"] for r in moved) == ["ADD", "DELETE"]
        assert all("valid_to" not in r for r in moved)
        assert m.get(ny["id"])["valid_to"] == at("2025-06-01")


async def test_the_async_face_backfills_the_same_way(tmp_path, hash_embedder) -> None:
    m = AsyncMemory(str(tmp_path), embedder=hash_embedder, graph=False)
    try:
        sf = (await m.add("I moved to San Francisco.", user_id="u", timestamp="2025-06-01"))["results"][0]
        ny = (await m.add("I live in New York.", user_id="u", timestamp="2025-03-01"))["results"][0]
        assert (ny["superseded_by"], ny["valid_to"]) == (sf["id"], at("2025-06-01"))
        assert [r["memory"] for r in (await m.get_all(user_id="u"))["results"]] == [SF]
        then = (await m.get_all(user_id="u", as_of="2025-04-01"))["results"]
        assert [r["memory"] for r in then] == [NY]
    finally:
        await m.close()


def test_an_older_update_leaves_the_newer_text_and_keeps_the_old_as_history(tmp_path, hash_embedder, llm_config,
                                                                           fake_openai) -> None:
    fact = {"event": "ADD", "text": SF, "ref": None, "attribute": "residence"}
    fake_openai.script_chat({"facts": [fact], "relations": []},
                            {"facts": [{**fact, "event": "UPDATE", "text": NY, "ref": 0}], "relations": []})
    with Memory(str(tmp_path), embedder=hash_embedder, llm=llm_config, graph=False) as m:
        sf = m.add("I moved to San Francisco.", user_id="u", timestamp="2025-06-01")["results"][0]
        [ny] = m.add("I live in New York.", user_id="u", timestamp="2025-03-01")["results"]
        assert (ny["event"], ny["memory"], ny["superseded_by"], ny["valid_to"]) == (
            "ADD", NY, sf["id"], at("2025-06-01"))
        assert m.get(sf["id"])["memory"] == SF and [h["event"] for h in m.history(sf["id"])] == ["ADD"]
        assert residences(m) == [SF] and residences(m, as_of="2025-04-01") == [NY]
        assert [hit["memory"] for hit in m.search("New York", user_id="u", as_of="2025-04-01")["results"]] == [NY]


def test_an_older_restatement_counts_but_keeps_the_newer_lifetime(tmp_path, hash_embedder) -> None:
    clock = ManualClock("2025-06-04T12:00:00Z")
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False, clock=clock) as m:
        mid = m.add("on call this week", user_id="u", infer=False, timestamp="2025-06-02",
                    expires_at="2025-06-09")["results"][0]["id"]
        again = m.add("on call this week", user_id="u", infer=False, timestamp="2025-05-01", expires_at="2025-05-03")
        assert again["results"][0]["event"] == "NONE"
        assert m.get(mid)["expires_at"] == at("2025-06-09")  # said before: it does not shorten the later statement's
        m.add("on call this week", user_id="u", infer=False, timestamp="2025-06-04", expires_at="2025-06-05")
        assert m.get(mid)["expires_at"] == at("2025-06-05")  # said after: an explicit lifetime replaces it


def test_an_unseen_holder_stated_later_ends_the_new_fact_instead(tmp_path, hash_embedder) -> None:
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        sf = m.add("I moved to San Francisco.", user_id="u", timestamp="2025-06-01")["results"][0]
        engine = m._async._engine  # a plan whose extractor never saw San Francisco (a concurrent add)
        plan = Planned("ADD", NY, attribute="residence")
        item = WriteItem(Scope("u"), [Message("user", "I live in New York.")], to_utc("2025-03-01").timestamp(),
                         [plan], inferred=True)
        write(engine, [item])
        assert plan.result is not None and (plan.result.superseded_by, plan.result.valid_to) == (
            sf["id"], at("2025-06-01"))
        assert residences(m) == [SF] and residences(m, as_of="2025-04-01") == [NY]
        assert m.get(sf["id"])["valid_to"] is None
