"""Budgets: past a scope's cap the least valuable current memories are closed (never dropped), and
history() says why."""

from __future__ import annotations

from .test_expiry import one


def current(m, **scope) -> list[str]:
    return sorted(r["memory"] for r in m.get_all(**scope)["results"])


def test_past_the_cap_the_least_valuable_are_closed_with_a_reason(make_memory, clock) -> None:
    m = make_memory(retention={"max_memories": 3})
    first = one(m, "first")
    clock.advance(days=1)
    important = one(m, "important", metadata={"importance": 1.0})
    for text in ("third", "fourth"):
        clock.advance(days=1)
        one(m, text)
    # four current > 3: the oldest ordinary one went; importance kept the older "important"
    assert current(m, user_id="u") == ["fourth", "important", "third"]
    closed = m.get(first)
    assert closed["valid_to"] == "2025-06-05T09:00:00+00:00" and closed["superseded_by"] is None
    event = m.history(first)[-1]
    assert event["event"] == "DELETE" and event["reason"].startswith(
        "closed by the budget: this scope keeps at most 3 current memories")
    assert "(value 1.433: recency, reinforcement, importance)" in event["reason"]  # 0.5 ** (3 / 30) + 0 + 0.5
    # closed, not dropped: still there for the past and on request
    assert "first" in [r["memory"] for r in m.get_all(user_id="u", include_expired=True)["results"]]
    assert "first" in [r["memory"] for r in m.search("first", user_id="u", as_of="2025-06-03")["results"]]
    assert m.get(important)["valid_to"] is None


def test_recalled_and_restated_memories_are_worth_more(make_memory, clock) -> None:
    m = make_memory(retention={"max_memories": 2})
    often = one(m, "recalled often")
    said = one(m, "said twice")
    clock.advance(hours=1)
    for _ in range(3):
        m.search("recalled often", user_id="u", limit=1)
    m.add("said twice", user_id="u", infer=False)  # re-stated
    m.sweep()  # writes the pending recalls
    clock.advance(hours=1)
    one(m, "newest")  # three current: the least valuable of the three goes
    assert m.get(often)["valid_to"] is None and m.get(said)["valid_to"] is None
    assert current(m, user_id="u") == ["recalled often", "said twice"]


def test_caps_are_per_exact_scope_and_policies_set_them(make_memory, clock) -> None:
    m = make_memory()
    m.set_retention(user_id="u", max_memories=2)  # covers (u) and (u, bot), each on its own
    for i in range(3):
        clock.advance(minutes=1)
        m.add(f"user fact {i}", user_id="u", infer=False)
        m.add(f"bot fact {i}", user_id="u", agent_id="bot", infer=False)
        m.add(f"other fact {i}", user_id="v", infer=False)
    assert current(m, user_id="u", agent_id="bot") == ["bot fact 1", "bot fact 2"]
    assert len(current(m, user_id="u")) == 4  # u's whole tree: 2 + 2
    assert len(current(m, user_id="v")) == 3  # no cap for v
    m.set_retention(user_id="u", agent_id="bot", max_memories="unlimited")
    m.add("bot fact 3", user_id="u", agent_id="bot", infer=False)
    assert len(current(m, user_id="u", agent_id="bot")) == 3


def test_a_sweep_enforces_a_lowered_cap_everywhere(make_memory, clock) -> None:
    m = make_memory()
    for i in range(4):
        clock.advance(minutes=1)
        m.add(f"a{i}", user_id="a", infer=False)
        m.add(f"b{i}", user_id="b", infer=False)
    m.set_retention(user_id="a", max_memories=1)
    m.set_retention(user_id="b", max_memories=3)
    report = m.sweep()
    assert report["closed"] == 3 + 1
    assert current(m, user_id="a") == ["a3"] and current(m, user_id="b") == ["b1", "b2", "b3"]
    assert m.sweep()["closed"] == 0  # idempotent


def test_expired_memories_do_not_count_against_the_cap(make_memory, clock) -> None:
    m = make_memory(retention={"max_memories": 2})
    one(m, "lapses", ttl="1h")
    one(m, "stays")
    clock.advance(hours=2)
    one(m, "newer")
    assert current(m, user_id="u") == ["newer", "stays"]
    assert [h["event"] for h in m.history(m.get_all(user_id="u", include_expired=True)["results"][-1]["id"])] == ["ADD"]


def test_automatic_sweeps_count_every_scope_only_after_a_cap_changed_or_a_day(make_memory, clock, monkeypatch) -> None:
    m = make_memory(retention={"max_memories": 5, "sweep_interval": "1h", "grace_period": 0})
    store = m.async_memory.store
    scans: list[float] = []
    real = store.scope_counts
    monkeypatch.setattr(store, "scope_counts", lambda at, over, within=None: scans.append(at) or real(at, over, within))
    one(m, "first")  # the first add sweeps: a full check
    assert len(scans) == 1
    for text in ("second", "third"):
        clock.advance(hours=2)
        one(m, text)  # hourly automatic sweeps: the caps are those of the last check
    assert len(scans) == 1
    m.set_retention(user_id="u", max_memories=1)  # a lowered cap: the next automatic sweep looks at every scope
    clock.advance(hours=2)
    m.add("other user", user_id="v", infer=False)
    assert len(scans) == 2 and current(m, user_id="u") == ["third"]
    clock.advance(hours=2)
    m.add("again", user_id="v", infer=False)
    assert len(scans) == 2
    clock.advance(days=1)
    m.add("a day later", user_id="v", infer=False)
    assert len(scans) == 3
    assert m.sweep()["closed"] == 0 and len(scans) == 4  # Memory.sweep() always checks
