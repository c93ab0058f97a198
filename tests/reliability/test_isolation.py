"""Tenant isolation: randomized scopes, metadata and filters against a pure-Python oracle.

A result never belongs to another scope, every filter operator agrees with the documented semantics
(tests/reliability/oracle.py), and ``update()`` can never move a memory to another scope.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memlayer import Memory
from memlayer.errors import MemlayerError
from tests.reliability.helpers import open_memory
from tests.reliability.oracle import in_scope, matches

USERS = ["alice", "bob", "Alice", "alice ", "al%", "al_ice", "ü-user", "' OR 1=1 --", 'a"b', "*"]
AGENTS = [None, "agent", "agent2", "%"]
RUNS = [None, "r1", "r2"]
KEYS = ["k", "n", "tag", "tags", "ü", 'we"ird', "a.b", "flag", "$", "a\\b", "x y", "[0]"]
SCALARS: list[Any] = [None, True, False, 0, 1, 2, -3, 1.5, 2.0, "", "red", "Red", "re", "1", "true", "x y", "ü"]
OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "contains")
STATS = {"filter_cases": 0, "scope_checks": 0, "update_cases": 0, "corpus_cases": 0}

scalars = st.sampled_from(SCALARS)
values = st.one_of(scalars, st.lists(scalars, max_size=3))


class Corpus:
    """A store and the rows put in it (short repr: hypothesis prints fixtures in failure reports)."""

    def __init__(self, mem: Memory, rows: list[dict[str, Any]]) -> None:
        self.mem, self.rows = mem, rows

    def __repr__(self) -> str:
        return f"<Corpus of {len(self.rows)} memories>"


def _rows(seed: int, count: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        meta: dict[str, Any] = {}
        for key in rng.sample(KEYS, rng.randint(0, 4)):
            meta[key] = rng.choice(SCALARS) if rng.random() < 0.7 else rng.sample(SCALARS, rng.randint(0, 3))
        rows.append({"text": f"memory {i} about red tags and {rng.choice(['cats', 'dogs', 'rain'])}",
                     "user_id": rng.choice(USERS), "agent_id": rng.choice(AGENTS), "run_id": rng.choice(RUNS),
                     "metadata": meta})
    return rows


def _fill(mem: Memory, rows: list[dict[str, Any]]) -> None:
    by_scope: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        by_scope.setdefault((r["user_id"], r["agent_id"], r["run_id"]), []).append(r)
    for (user, agent, run), group in by_scope.items():
        msgs = [{"role": "user", "content": r["text"], "metadata": r["metadata"]} for r in group]
        out = mem.add(msgs, user_id=user, agent_id=agent, run_id=run, infer=False)["results"]
        assert [o["memory"] for o in out] == [r["text"] for r in group]
        for o, r in zip(out, group, strict=True):
            r["id"] = o["id"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    rows = _rows(seed=20240607, count=160)
    mem = open_memory(tmp_path_factory.mktemp("isolation") / "store")
    _fill(mem, rows)
    yield Corpus(mem, rows)
    mem.close()
    print(f"\nisolation stats: {STATS}")


def leaf(key: str) -> st.SearchStrategy[dict[str, Any]]:
    pool = st.sampled_from([*USERS, None]) if key in ("user_id", "agent_id", "run_id") else scalars
    ordered = st.sampled_from([*USERS]) if key in ("user_id", "agent_id", "run_id") else scalars.filter(
        lambda v: v is not None)
    ops = st.one_of(
        pool.map(lambda v: {key: v}),
        st.tuples(st.sampled_from(["eq", "ne"]), pool).map(lambda t: {key: {t[0]: t[1]}}),
        st.tuples(st.sampled_from(["gt", "gte", "lt", "lte"]), ordered).map(lambda t: {key: {t[0]: t[1]}}),
        st.tuples(st.sampled_from(["in", "nin"]), st.lists(pool, max_size=3)).map(lambda t: {key: {t[0]: t[1]}}),
        (ordered if key in ("user_id", "agent_id", "run_id") else pool).map(lambda v: {key: {"contains": v}}),
    )
    return ops


leaves = st.sampled_from([*KEYS, "user_id", "agent_id", "run_id"]).flatmap(leaf)
filters = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda fs: {"AND": fs}),
        st.lists(inner, min_size=1, max_size=3).map(lambda fs: {"OR": fs}),
        inner.map(lambda f: {"NOT": f}),
        st.tuples(inner, inner).map(lambda t: {**t[1], **t[0]}),
    ),
    max_leaves=6,
)
scopes = st.fixed_dictionaries({
    "user_id": st.sampled_from([*USERS, None]), "agent_id": st.sampled_from(AGENTS), "run_id": st.sampled_from(RUNS),
}).filter(lambda s: any(v is not None for v in s.values()))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scope=scopes, flt=st.one_of(st.none(), filters))
def test_filters_and_scopes_agree_with_the_oracle(corpus: Corpus, scope: dict[str, Any],
                                                  flt: dict[str, Any] | None) -> None:
    mem, rows = corpus.mem, corpus.rows
    expected = {r["id"] for r in rows if in_scope(r, scope) and (flt is None or matches(r, flt))}
    got = mem.get_all(**scope, filters=flt, limit=1000)["results"]
    assert {r["id"] for r in got} == expected, f"get_all({scope}, filters={flt})"
    found = mem.search("red tags cats", **scope, filters=flt, limit=1000)["results"]
    assert {r["id"] for r in found} == expected, f"search({scope}, filters={flt})"
    for r in [*got, *found]:
        assert in_scope(r, scope), f"{r['id']} of {r['user_id']}/{r['agent_id']}/{r['run_id']} leaked into {scope}"
    STATS["filter_cases"] += 1
    STATS["scope_checks"] += len(got) + len(found)


meta_keys = st.one_of(st.sampled_from([*KEYS, "user_id", "agent_id", "run_id", "USER_ID", "user_id ", ""]), st.text())
metadata = st.dictionaries(meta_keys, st.one_of(values, st.dictionaries(st.sampled_from(["user_id", "x"]), scalars)),
                           max_size=4)


@pytest.fixture(scope="module")
def updatable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    rows = _rows(seed=7, count=30)
    mem = open_memory(tmp_path_factory.mktemp("updates") / "store")
    _fill(mem, rows)
    yield Corpus(mem, rows)
    mem.close()


@settings(max_examples=150, deadline=None)
@given(pick=st.integers(min_value=0, max_value=29), meta=metadata, other=st.sampled_from(USERS))
def test_update_never_moves_a_memory_to_another_scope(updatable: Corpus, pick: int, meta: dict[str, Any],
                                                      other: str) -> None:
    mem, rows = updatable.mem, updatable.rows
    row = rows[pick]
    before = mem.get(row["id"])
    assert before is not None
    try:
        mem.update(row["id"], f"updated text {pick}", metadata=meta)
    except MemlayerError:
        assert mem.get(row["id"]) == before, "a refused update changed the memory"
        return
    after = mem.get(row["id"])
    assert after is not None
    assert (after["user_id"], after["agent_id"], after["run_id"]) == (row["user_id"], row["agent_id"], row["run_id"])
    assert after["metadata"] == meta
    for h in mem.history(row["id"]):
        assert (h["user_id"], h["agent_id"], h["run_id"]) == (row["user_id"], row["agent_id"], row["run_id"])
    if other != row["user_id"]:
        seen = mem.search(f"updated text {pick}", user_id=other, limit=1000)["results"]
        seen += mem.get_all(user_id=other, filters={"user_id": row["user_id"]}, limit=1000)["results"]
        assert row["id"] not in {r["id"] for r in seen}
    STATS["update_cases"] += 1


ids = st.one_of(st.sampled_from(USERS), st.text(min_size=1, max_size=8))
corpus_rows = st.lists(st.fixed_dictionaries({
    "user_id": ids, "agent_id": st.one_of(st.none(), ids), "run_id": st.none(),
    "metadata": st.dictionaries(st.sampled_from(KEYS), values, max_size=3),
}), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=corpus_rows, query_user=ids, flt=st.one_of(st.none(), filters))
def test_random_corpora_stay_isolated(tmp_path: Path, rows: list[dict[str, Any]], query_user: str,
                                      flt: dict[str, Any] | None) -> None:
    kept: list[dict[str, Any]] = []
    with open_memory(":memory:") as mem:
        for i, r in enumerate(rows):
            r = {**r, "text": f"note {i} red"}
            try:
                r["id"] = mem.add(r["text"], user_id=r["user_id"], agent_id=r["agent_id"], metadata=r["metadata"],
                                  infer=False)["results"][0]["id"]
            except MemlayerError:  # e.g. a blank or NUL-bearing id: refused, nothing stored
                continue
            kept.append(r)
        try:
            got = mem.get_all(user_id=query_user, filters=flt, limit=100)["results"]
            found = mem.search("note red", user_id=query_user, filters=flt, limit=100)["results"]
        except MemlayerError:
            assert not query_user.strip() or "\x00" in query_user
            return
        expected = {r["id"] for r in kept if r["user_id"] == query_user and (flt is None or matches(r, flt))}
        assert {r["id"] for r in got} == expected
        assert {r["id"] for r in found} == expected
        assert len(mem.get_all(user_id=query_user, limit=100)["results"]) == sum(
            r["user_id"] == query_user for r in kept)
    STATS["corpus_cases"] += 1
