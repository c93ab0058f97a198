"""Every public call of the sync API, end to end on a real on-disk store."""

from __future__ import annotations

import pytest

from memlayer import MemlayerError, Memory
from memlayer.errors import ConfigError, NotFoundError, ScopeError


def test_add_accepts_string_dict_and_list(memory):
    r1 = memory.add("I like tea", user_id="u", infer=False)
    r2 = memory.add({"role": "user", "content": "I like coffee"}, user_id="u", infer=False)
    r3 = memory.add([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], user_id="u", infer=False)
    assert [r["event"] for r in r1["results"] + r2["results"] + r3["results"]] == ["ADD"] * 4
    assert {r["memory"] for r in memory.get_all(user_id="u")["results"]} == {"I like tea", "I like coffee", "a", "b"}
    assert set(r1) >= {"results", "relations", "usage"}


def test_search_result_shape(memory):
    memory.add("The sky is blue", user_id="u", agent_id="a", run_id="r", metadata={"k": 1}, infer=False)
    res = memory.search("sky colour", user_id="u", limit=5)
    assert set(res) == {"results", "relations"}
    hit = res["results"][0]
    for key in ("id", "memory", "score", "metadata", "user_id", "agent_id", "run_id", "created_at", "updated_at"):
        assert key in hit
    assert (hit["user_id"], hit["agent_id"], hit["run_id"], hit["metadata"]) == ("u", "a", "r", {"k": 1})


def test_get_update_history_delete(memory):
    mid = memory.add("User lives in Paris", user_id="u", infer=False)["results"][0]["id"]
    assert memory.get(mid)["memory"] == "User lives in Paris"
    memory.update(mid, "User lives in Lyon", metadata={"source": "fix"})
    got = memory.get(mid)
    assert got["memory"] == "User lives in Lyon" and got["metadata"] == {"source": "fix"}
    hist = memory.history(mid)
    assert [h["event"] for h in hist] == ["ADD", "UPDATE"]
    assert hist[1]["old_memory"] == "User lives in Paris" and hist[1]["new_memory"] == "User lives in Lyon"
    assert hist[0]["source_messages"][0]["content"] == "User lives in Paris"
    memory.delete(mid)
    assert memory.get(mid) is None
    assert memory.search("Lyon", user_id="u")["results"] == []
    assert memory.history(mid)[-1]["event"] == "DELETE"
    with pytest.raises(NotFoundError):
        memory.delete(mid)
    with pytest.raises(NotFoundError):
        memory.update("nope", "x")


def test_update_keeps_scope_even_with_metadata(memory):
    mid = memory.add("fact", user_id="u1", infer=False)["results"][0]["id"]
    with pytest.raises(ConfigError):
        memory.update(mid, "fact 2", metadata={"user_id": "u2"})
    memory.update(mid, "fact 2", metadata={"owner": "u2"})
    assert memory.get(mid)["user_id"] == "u1"
    assert memory.get_all(user_id="u2")["results"] == []


def test_delete_all_and_reset(memory):
    memory.add(["a1", "a2"], user_id="a", infer=False)
    memory.add(["b1"], user_id="b", infer=False)
    assert memory.delete_all(user_id="a")["deleted"] == 2
    assert memory.get_all(user_id="a")["results"] == []
    assert len(memory.get_all(user_id="b")["results"]) == 1
    memory.reset()
    assert memory.get_all(user_id="b")["results"] == []


def test_scope_is_required(memory):
    for call in (
        lambda: memory.add("x", infer=False),
        lambda: memory.search("x"),
        lambda: memory.get_all(),
        lambda: memory.delete_all(),
    ):
        with pytest.raises(ScopeError, match="user_id"):
            call()
    with pytest.raises(ScopeError):
        memory.search("x", user_id="")


def test_metadata_round_trips_exactly(memory):
    meta = {"n": 1, "f": 1.5, "s": "é ✓", "b": True, "none": None, "list": [1, "two", {"three": 3}],
            "nested": {"a": {"b": [False]}}, "big": 2**53}
    mid = memory.add("m", user_id="u", metadata=meta, infer=False)["results"][0]["id"]
    assert memory.get(mid)["metadata"] == meta
    assert memory.search("m", user_id="u")["results"][0]["metadata"] == meta
    with pytest.raises(MemlayerError):
        memory.add("m", user_id="u", metadata={"x": object()}, infer=False)


def test_readding_same_content_is_a_noop(memory):
    first = memory.add("same text", user_id="u", infer=False)["results"][0]
    again = memory.add("same text", user_id="u", infer=False)["results"][0]
    assert again == {"id": first["id"], "memory": "same text", "event": "NONE"}
    assert len(memory.get_all(user_id="u")["results"]) == 1


def test_the_same_text_with_metadata_of_another_json_type_is_another_memory(memory):
    flags = [1, True, "1"]  # equal to Python's == (True == 1), not to filters
    ids = [memory.add("same text", user_id="u", metadata={"flag": f}, infer=False)["results"][0] for f in flags]
    assert [r["event"] for r in ids] == ["ADD"] * 3 and len({r["id"] for r in ids}) == 3
    for f, first in [(1, ids[0]), (True, ids[1]), ("1", ids[2]), (1.0, ids[0])]:  # 1.0: the number 1, as filters see it
        again = memory.add("same text", user_id="u", metadata={"flag": f}, infer=False)["results"][0]
        assert again["event"] == "NONE" and again["id"] == first["id"]
        found = memory.get_all(user_id="u", filters={"flag": f})["results"]
        assert [m["id"] for m in found] == [again["id"]]
    within_one_add = memory.add([{"role": "user", "content": "other text", "metadata": {"flag": f}}
                                 for f in [1, True, 1.0]], user_id="u", infer=False)["results"]
    assert [r["event"] for r in within_one_add] == ["ADD", "ADD"]  # the third repeats the first


def test_threshold_limit_and_max_tokens(memory):
    memory.add([f"fact number {i} about apples" for i in range(10)], user_id="u", infer=False)
    assert len(memory.search("apples", user_id="u", limit=3)["results"]) == 3
    assert memory.search("apples", user_id="u", threshold=1.01)["results"] == []
    sims = [r["similarity"] for r in memory.search("apples", user_id="u", threshold=0.2)["results"]]
    assert all(s >= 0.2 for s in sims)
    budget = memory.search("apples", user_id="u", max_tokens=12)["results"]
    assert 1 <= len(budget) < 10


def test_empty_messages_are_a_noop(memory):
    assert memory.add("   ", user_id="u")["results"] == []
    assert memory.add([], user_id="u")["results"] == []


def test_bad_inputs_raise_memlayer_errors(memory):
    with pytest.raises(MemlayerError):
        memory.add(42, user_id="u")
    with pytest.raises(MemlayerError):
        memory.add([{"role": "user"}], user_id="u")
    with pytest.raises(MemlayerError):
        memory.search(None, user_id="u")


def test_times_that_leave_the_years_1_to_9999_in_utc_are_config_errors(memory):
    """An offset can push a time given in range out of it; that is the caller's mistake, said as one."""
    late, early = "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"
    with pytest.raises(ConfigError, match="years 1 to 9999"):
        memory.add("x", user_id="u", infer=False, timestamp=late)
    with pytest.raises(ConfigError, match="years 1 to 9999"):
        memory.search("x", user_id="u", as_of=early)
    with pytest.raises(ConfigError, match="years 1 to 9999"):
        memory.get_all(user_id="u", as_of=early)
    with pytest.raises(ConfigError, match="years 1 to 9999"):
        memory.add("x", user_id="u", infer=False, expires_at=late)


def test_context_manager_and_closed_errors(tmp_path, hash_embedder):
    with Memory(str(tmp_path / "s"), embedder=hash_embedder, graph=False) as m:
        m.add("x", user_id="u", infer=False)
    with pytest.raises(MemlayerError, match="closed"):
        m.get_all(user_id="u")


def test_from_config_rejects_unknown_keys(tmp_path, hash_embedder):
    with pytest.raises(ConfigError, match="colour"):
        Memory.from_config({"path": str(tmp_path), "embedder": hash_embedder, "colour": "blue"})
    m = Memory.from_config({"path": str(tmp_path / "ok"), "embedder": {"provider": "hash", "config": {"dims": 16}},
                            "graph": False})
    assert m.async_memory.dims == 16
    m.close()


def test_path_that_is_a_file_is_refused(tmp_path, hash_embedder):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ConfigError, match="not a directory"):
        Memory(str(f), embedder=hash_embedder, graph=False)


def test_in_memory_store(hash_embedder):
    with Memory(":memory:", embedder=hash_embedder, graph=False) as m:
        m.add("temporary", user_id="u", infer=False)
        assert m.search("temporary", user_id="u")["results"][0]["memory"] == "temporary"


def test_default_home_from_env(tmp_path, monkeypatch, hash_embedder):
    monkeypatch.setenv("MEMLAYER_HOME", str(tmp_path / "home"))
    with Memory(embedder=hash_embedder, graph=False) as m:
        m.add("x", user_id="u", infer=False)
    assert (tmp_path / "home" / "memlayer.db").exists()


def test_a_verbatim_memory_knows_who_said_it(memory):
    memory.add([{"role": "user", "content": "I like tea", "name": "Ann"},
                {"role": "assistant", "content": "Noted"},
                {"role": "user", "content": "Bob likes coffee", "metadata": {"speaker": "Bob"}}], user_id="u", infer=False)
    rows = memory.get_all(user_id="u")["results"]
    stored = memory.async_memory.store.get
    assert {r["memory"]: stored(r["id"]).speaker for r in rows} == {
        "I like tea": "Ann", "Noted": "assistant", "Bob likes coffee": "Bob"}
    assert all(r["expires_at"] is None for r in rows)
