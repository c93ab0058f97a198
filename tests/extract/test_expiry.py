"""Time-bound facts: the offline extractor proposes an expiry for the common phrasings, the LLM answers one in
its single call; both resolved against the conversation's time, and they reach the stored memory."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from memlayer import Memory
from memlayer.clock import ManualClock
from memlayer.extract.expiry import in_past_tense, time_bound
from memlayer.extract.llm import LLMExtractor, to_decisions
from memlayer.extract.patterns import parse_facts
from memlayer.prompts import ExtractionAnswer
from memlayer.prompts.extraction import build_system_prompt
from tests.extract.helpers import FakeLLM, FakeLookup, ctx, memories, user

WED = datetime(2025, 6, 4, 10, tzinfo=timezone.utc)  # a Wednesday


@pytest.mark.parametrize(("clause", "ends"), [
    ("I am in Lisbon this week", "2025-06-09T00:00"),
    ("I am in Berlin this weekend", "2025-06-09T00:00"),
    ("I am in Rome for the weekend", "2025-06-09T00:00"),
    ("I am at the cinema tonight", "2025-06-05T06:00"),
    ("I am working from home today", "2025-06-05T00:00"),
    ("I am busy this afternoon", "2025-06-05T00:00"),
    ("I am off sugar this month", "2025-07-01T00:00"),
    ("I am training hard this year", "2026-01-01T00:00"),
    ("I am staying in Lisbon until Friday", "2025-06-07T00:00"),
    ("I am free until Wednesday", "2025-06-05T00:00"),  # said on a Wednesday: today
    ("I am away until next Monday", "2025-06-10T00:00"),
    ("I am in London until tomorrow", "2025-06-06T00:00"),
    ("I am out till tonight", "2025-06-05T06:00"),
    ("I am on call until the end of the week", "2025-06-09T00:00"),
    ("I am at Acme until the end of the month", "2025-07-01T00:00"),
    ("I am in Oslo until next week", "2025-06-09T00:00"),
    ("I am on leave until June 20", "2025-06-21T00:00"),
    ("I am on leave until 3 July", "2025-07-04T00:00"),
    ("I am on leave till the 10th", "2025-06-11T00:00"),
    ("I am on leave until 2025-06-30", "2025-07-01T00:00"),
    ("I am on leave until May 2", "2026-05-03T00:00"),  # the next May 2
    ("I am visiting my parents for the next 3 days", "2025-06-07T10:00"),
    ("I am traveling for the next two weeks", "2025-06-18T10:00"),
    ("I am out for the next couple of hours", "2025-06-04T12:00"),
    ("I am here for a few more days", "2025-06-07T10:00"),
    ("I am staying for another month", "2025-07-04T10:00"),
    ("I have a cold this week", "2025-06-09T00:00"),
    ("I have been sick this week", "2025-06-09T00:00"),  # a state still going on
    ("I am sick today and this week", "2025-06-05T00:00"),  # the earliest end
])
def test_time_bound_phrasings(clause: str, ends: str) -> None:
    bound = time_bound(clause, WED)
    assert bound is not None and bound.end.isoformat().startswith(ends)


@pytest.mark.parametrize("clause", [
    "I live in Paris", "I started a new job this week", "I had a cold this week", "I have moved to Paris this month",
    "I was in Lisbon this week", "I am going to Paris next week", "I have a meeting tomorrow", "I work here for 3 years",
    "I went there today", "I am on leave until 1999-01-01",
])
def test_no_end_for_lasting_facts_past_events_and_starts(clause: str) -> None:
    assert time_bound(clause, WED) is None


def test_past_tense() -> None:
    assert in_past_tense("I moved to Oslo") and in_past_tense("I have taken a course") and in_past_tense("I had one")
    assert not in_past_tense("I need coffee") and not in_past_tense("I have a dog") and not in_past_tense("I am here")


def test_pattern_facts_carry_the_end_and_a_temporary_state_rule() -> None:
    facts = parse_facts(user("I'm in Lisbon this week. I live in Paris. I am on leave until Friday."), ctx(WED))
    got = [(f.text, f.attribute, f.expires_at and f.expires_at.isoformat()) for f in facts]
    assert ("User is in Lisbon in the week of 2025-06-02", "current location", "2025-06-09T00:00:00+00:00") in got
    assert ("User lives in Paris", "residence", None) in got
    assert ("User is on leave until Friday (2025-06-06)", None, "2025-06-07T00:00:00+00:00") in got
    hotel = parse_facts(user("I am staying at Hotel Lux until Friday"), ctx(WED))
    assert [(f.text, f.attribute) for f in hotel] == [("User is staying at Hotel Lux until Friday (2025-06-06)",
                                                       "current location")]
    lisbon = next(f for f in facts if "Lisbon" in f.text)
    assert [(r.source, r.relationship, r.destination) for r in lisbon.relations] == [("user", "IS_IN", "Lisbon")]
    assert parse_facts(user("I'm sure this week"), ctx(WED)) == []  # conversational, not a state


def test_through_memory_an_extracted_stay_lapses_and_the_next_one_replaces_it(tmp_path, hash_embedder) -> None:
    clock = ManualClock("2025-06-04T10:00:00Z")
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False, clock=clock,
                retention={"sweep_interval": None}) as m:
        lisbon = m.add("I'm in Lisbon this week", user_id="u")["results"][0]
        assert m.get(lisbon["id"])["expires_at"] == "2025-06-09T00:00:00+00:00"
        clock.set("2025-06-06T10:00:00Z")
        porto = m.add("I'm in Porto this weekend", user_id="u", timestamp="2025-06-05T09:00:00Z")["results"]
        assert [r["event"] for r in porto] == ["DELETE", "ADD"]  # one current location at a time
        assert m.get(porto[1]["id"])["expires_at"] == "2025-06-09T00:00:00+00:00"
        clock.set("2025-06-20T00:00:00Z")
        assert m.get_all(user_id="u")["results"] == []
        # said in another week (a timestamp is never later than the clock): resolved against the conversation's time
        faro = m.add("I'm in Faro this weekend", user_id="u", timestamp="2025-06-13T09:00:00Z")["results"]
        assert [r["event"] for r in faro] == ["ADD"]
        assert m.get(faro[0]["id"])["expires_at"] == "2025-06-16T00:00:00+00:00"  # not the clock's weekend (06-23)
        assert m.get_all(user_id="u")["results"] == []  # lapsed before the clock's now
        assert m.add("I live in Paris", user_id="u", ttl="2d")["results"][0]["event"] == "ADD"
        paris = m.get_all(user_id="u")["results"][0]
        assert paris["expires_at"] == "2025-06-22T00:00:00+00:00"  # the caller's lifetime beats "no end"
        forced = m.add("I'm in Rome this week", user_id="u", expires_at="never")["results"][0]
        assert m.get(forced["id"])["expires_at"] is None  # and beats the fact's own


def test_llm_answers_carry_an_expiry_checked_against_the_conversation_time() -> None:
    shown = memories(("User is in Lisbon", "current location"))
    facts = ExtractionAnswer.model_validate({"facts": [
        {"event": "ADD", "text": "User is in Porto this week", "expires_at": "2025-06-08"},
        {"event": "NONE", "text": "User is in Lisbon", "ref": 0, "expires_at": "2025-06-05T18:00:00+02:00"},
        {"event": "ADD", "text": "User likes tea", "expires_at": None},
        {"event": "ADD", "text": "User had lunch", "expires_at": "2025-06-01"},  # before the conversation: dropped
        {"event": "ADD", "text": "User is tired", "expires_at": "soon-ish"},  # unreadable: dropped
        {"event": "ADD", "text": "User is hungry", "expires_at": 17},  # not a string: no end
    ]}).facts
    decisions = to_decisions(facts, shown, WED)
    assert [(d.text, d.expires_at and d.expires_at.isoformat()) for d in decisions] == [
        ("User is in Porto this week", "2025-06-09T00:00:00+00:00"),
        ("User is in Lisbon", "2025-06-05T16:00:00+00:00"),
        ("User likes tea", None), ("User had lunch", None), ("User is tired", None), ("User is hungry", None)]
    assert "`expires_at`" in build_system_prompt(ctx(WED)) and "until Friday" in build_system_prompt(ctx(WED))


async def test_llm_extractor_passes_the_expiry_in_one_call() -> None:
    llm = FakeLLM(ExtractionAnswer.model_validate(
        {"facts": [{"event": "ADD", "text": "User is in Lisbon", "expires_at": "2024-05-10"}]}))
    result = await LLMExtractor(llm).extract(user("I'm in Lisbon for a week"), lookup=FakeLookup([]), context=ctx())
    assert len(llm.calls) == 1 and result.decisions[0].expires_at == datetime(2024, 5, 11, tzinfo=timezone.utc)


def test_llm_expiry_reaches_the_memory(tmp_path, hash_embedder, fake_openai, llm_config) -> None:
    import json

    fake_openai.script_chat(json.dumps({"facts": [
        {"event": "ADD", "text": "User is in Lisbon this week", "ref": None, "attribute": "current location",
         "expires_at": "2025-06-08"}], "relations": []}))
    clock = ManualClock("2025-06-04T10:00:00Z")
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False, llm=llm_config, clock=clock,
                retention={"sweep_interval": None}) as m:
        mid = m.add("I'm in Lisbon this week", user_id="u")["results"][0]["id"]
        assert m.get(mid)["expires_at"] == "2025-06-09T00:00:00+00:00"
        chat = [r.json for r in fake_openai.requests if r.path.endswith("/chat/completions")]
        assert len(chat) == 1 and "`expires_at`" in chat[0]["messages"][0]["content"]
