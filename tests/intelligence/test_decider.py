"""The intelligence layer end to end through Memory: the offline pattern extractor and the LLM path
(the real openai client against the fake server with scripted answers)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from memlayer import Memory

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)
T1 = T0 + timedelta(days=30)


def answer(*facts, relations=()):
    return {"facts": list(facts), "relations": list(relations)}


def fact(event, text, ref=None, attribute=None):
    return {"event": event, "text": text, "ref": ref, "attribute": attribute}


@pytest.fixture(params=["pattern", "llm"])
def mode(request):
    return request.param


@pytest.fixture
def mem(mode, tmp_path, hash_embedder, request):
    if mode == "llm":
        cfg = request.getfixturevalue("llm_config")
        m = Memory(str(tmp_path / "s"), embedder=hash_embedder, llm=cfg, graph="memory")
    else:
        m = Memory(str(tmp_path / "s"), embedder=hash_embedder, graph="memory")
    yield m
    m.close()


def script(mode, request, *answers):
    if mode == "llm":
        request.getfixturevalue("fake_openai").script_chat(*answers)


def test_move_supersedes_residence_and_keeps_the_past(mem, mode, request):
    script(mode, request, answer(fact("ADD", "User lives in New York", attribute="residence"),
                                 relations=[{"source": "user", "relationship": "LIVES_IN", "destination": "New York"}]))
    first = mem.add("I live in New York.", user_id="u", timestamp=T0)
    ny_id = first["results"][0]["id"]
    script(mode, request, answer(fact("DELETE", "User lives in New York", ref=0, attribute="residence"),
                                 fact("ADD", "User lives in San Francisco", attribute="residence"),
                                 relations=[{"source": "user", "relationship": "LIVES_IN", "destination": "San Francisco"}]))
    moved = mem.add("I moved to San Francisco.", user_id="u", timestamp=T1)
    assert sorted(r["event"] for r in moved["results"]) == ["ADD", "DELETE"]
    assert [r["destination"] for r in moved["relations"]["added"]] == ["San Francisco"]
    assert [r["destination"] for r in moved["relations"]["closed"]] == ["New York"]

    now = mem.search("Where does the user live?", user_id="u")["results"]
    assert "San Francisco" in now[0]["memory"]
    assert all("New York" not in r["memory"] for r in now)

    old = mem.get(ny_id)
    sf_id = next(r["id"] for r in moved["results"] if r["event"] == "ADD")
    assert old["valid_to"] is not None
    assert old["superseded_by"] == sf_id
    events = [h["event"] for h in mem.history(ny_id)]
    assert events == ["ADD", "DELETE"]
    assert mem.history(ny_id)[1]["source_messages"][0]["content"] == "I moved to San Francisco."

    past = mem.search("Where does the user live?", user_id="u", as_of=T0 + timedelta(days=1))["results"]
    assert "New York" in past[0]["memory"]
    assert all("San Francisco" not in r["memory"] for r in past)
    every = mem.search("Where does the user live?", user_id="u", include_expired=True)["results"]
    assert {"New York", "San Francisco"} <= {w for r in every for w in ("New York", "San Francisco") if w in r["memory"]}

    rel_now = mem.search("Where does the user live?", user_id="u")["relations"]
    assert all(r["destination"] != "New York" for r in rel_now)


def test_refinement_is_an_update(mem, mode, request):
    script(mode, request, answer(fact("ADD", "User likes cricket", attribute="preference:cricket")))
    mem.add("I like cricket.", user_id="u")
    script(mode, request, answer(fact("UPDATE", "User loves to play cricket with friends", ref=0,
                                      attribute="preference:cricket")))
    out = mem.add("I love to play cricket with friends.", user_id="u")
    assert [r["event"] for r in out["results"]] == ["UPDATE"]
    current = [r for r in mem.get_all(user_id="u")["results"] if "cricket" in r["memory"]]
    assert len(current) == 1 and "friends" in current[0]["memory"]
    hist = mem.history(current[0]["id"])
    assert [h["event"] for h in hist] == ["ADD", "UPDATE"] and "likes cricket" in hist[1]["old_memory"]


def test_order_number_is_recalled(mem, mode, request):
    script(mode, request, answer(fact("ADD", "User's order number is 12345", attribute="order number")))
    mem.add("My order number is 12345.", user_id="u")
    hit = mem.search("What is my order number?", user_id="u")["results"][0]
    assert "12345" in hit["memory"]


def test_readding_the_same_fact_is_a_noop(mem, mode, request):
    script(mode, request, answer(fact("ADD", "User likes tea", attribute="preference:tea")))
    mem.add("I like tea.", user_id="u")
    script(mode, request, answer(fact("NONE", "User likes tea", ref=0)))
    again = mem.add("I like tea.", user_id="u")
    assert [r["event"] for r in again["results"]] == ["NONE"]
    assert len(mem.get_all(user_id="u")["results"]) == 1


def test_agent_facts_when_only_agent_id(mem, mode, request):
    script(mode, request, answer(fact("ADD", "Agent's name is Robo", attribute="name")))
    out = mem.add([{"role": "assistant", "content": "My name is Robo."}], agent_id="bot")
    assert out["results"] and out["results"][0]["event"] == "ADD"
    assert mem.get_all(agent_id="bot")["results"][0]["agent_id"] == "bot"


def test_scopes_do_not_decide_against_each_other(mem, mode, request):
    script(mode, request, answer(fact("ADD", "User lives in Oslo", attribute="residence")))
    mem.add("I live in Oslo.", user_id="a")
    script(mode, request, answer(fact("ADD", "User lives in Rome", attribute="residence")))
    out = mem.add("I live in Rome.", user_id="b")
    assert [r["event"] for r in out["results"]] == ["ADD"]  # a's Oslo is not b's to close
    assert "Oslo" in mem.get_all(user_id="a")["results"][0]["memory"]


# -- LLM path only --------------------------------------------------------------------------------

@pytest.fixture
def llm_mem(tmp_path, hash_embedder, llm_config):
    m = Memory(str(tmp_path / "llm"), embedder=hash_embedder, llm=llm_config, graph="memory")
    yield m
    m.close()


def test_one_llm_call_per_add_and_usage(llm_mem, fake_openai):
    fake_openai.script_chat(answer(fact("ADD", "User lives in Oslo")), answer(fact("ADD", "User likes skiing")))
    r1 = llm_mem.add("I live in Oslo.", user_id="u")
    r2 = llm_mem.add([{"role": "user", "content": "I like skiing"}, {"role": "assistant", "content": "Nice!"}],
                     user_id="u")
    assert fake_openai.chat_calls == 2
    for r in (r1, r2):
        assert r["usage"]["llm_calls"] == 1 and r["usage"]["prompt_tokens"] > 0 and r["usage"]["completion_tokens"] > 0
    assert llm_mem.usage.llm_calls == 2


def test_prompt_shows_small_ids_and_todays_date(llm_mem, fake_openai):
    fake_openai.script_chat(answer(fact("ADD", "User lives in Oslo", attribute="residence")))
    mid = llm_mem.add("I live in Oslo.", user_id="u")["results"][0]["id"]
    fake_openai.script_chat(answer(fact("NONE", "User lives in Oslo", ref=0)))
    llm_mem.add("Oslo is where I live.", user_id="u")
    sent = str(fake_openai.calls("/chat/completions")[-1].json["messages"])
    assert mid not in sent and "User lives in Oslo" in sent
    assert datetime.now(timezone.utc).strftime("%Y") in sent


def test_invented_ids_are_ignored(llm_mem, fake_openai):
    fake_openai.script_chat(answer(fact("ADD", "User lives in Oslo")))
    llm_mem.add("I live in Oslo.", user_id="u")
    fake_openai.script_chat(answer(fact("DELETE", "gone", ref=99), fact("UPDATE", "x", ref=-3),
                                   fact("ADD", "User likes fjords")))
    out = llm_mem.add("I like fjords.", user_id="u")
    assert [r["event"] for r in out["results"]] == ["ADD"]
    assert {r["memory"] for r in llm_mem.get_all(user_id="u")["results"]} == {"User lives in Oslo", "User likes fjords"}


def _dump(m):
    store = m.async_memory.store
    return {t: [tuple(r) for r in store.query(f"SELECT * FROM {t} ORDER BY 1")]
            for t in ("memories", "history", "messages", "vector_log", "graph_log")}


@pytest.mark.parametrize("fault", ["500", "429", "timeout", "malformed", "empty"])
def test_faults_leave_the_store_unchanged_or_fully_updated(llm_mem, fake_openai, fault):
    from memlayer.errors import LLMError, MemlayerError
    from tests.fake_openai import Fault

    fake_openai.script_chat(answer(fact("ADD", "User lives in Oslo")))
    llm_mem.add("I live in Oslo.", user_id="u")
    before = _dump(llm_mem)
    faults = {"500": Fault.status(500, times=3), "429": Fault.status(429, times=3),
              "timeout": Fault.slow(2.0, times=3), "malformed": Fault.malformed(times=3),
              "empty": Fault.empty(times=3)}[fault]
    fake_openai.script_chat(faults)
    with pytest.raises(LLMError) as err:
        llm_mem.add("I like fjords.", user_id="u")
    assert isinstance(err.value, MemlayerError) and str(err.value)
    assert _dump(llm_mem) == before  # unchanged, not half-written
    calls_before = fake_openai.chat_calls
    # after the fault clears the next add goes through completely
    fake_openai.script_chat(Fault.status(500, times=1) if fault != "timeout" else [],
                            answer(fact("ADD", "User likes fjords")))
    out = llm_mem.add("I like fjords.", user_id="u")
    assert [r["event"] for r in out["results"]] == ["ADD"]
    assert fake_openai.chat_calls - calls_before <= 2
    assert llm_mem.search("fjords", user_id="u")["results"][0]["memory"] == "User likes fjords"
