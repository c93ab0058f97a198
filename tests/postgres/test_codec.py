"""Strings PostgreSQL cannot hold (NUL) in filterable metadata: the order-preserving code and, against a real
server, every filter operator on adversarial strings agreeing with the documented semantics (the oracle)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memlayer.filters import parse_filters
from memlayer.storage.base import NewMemory, Selection
from memlayer.storage.postgres import codec
from memlayer.types import Scope
from tests.reliability.oracle import matches
from tests.servers import PostgresServer

ALPHABET = "\x00\x01\x02\x03ab\u00e9"
adversarial = st.text(alphabet=ALPHABET, max_size=6)


@given(a=adversarial, b=adversarial)
def test_the_code_is_injective_order_preserving_and_reversible(a: str, b: str) -> None:
    ea, eb = codec.encode(a), codec.encode(b)
    assert "\x00" not in ea and codec.decode(ea) == a
    assert (ea == eb) == (a == b) and (ea < eb) == (a < b)
    # b is a substring of a exactly where its code starts in a's code at a character boundary: not right
    # after the U+0001 that opens a two-character code
    starts = [i for i in range(len(ea) - len(eb) + 1) if ea.startswith(eb, i)]
    assert (b in a) == any(i == 0 or ea[i - 1] != "\x01" for i in starts)


@pytest.fixture(scope="module")
def corpus(postgres_server: PostgresServer, postgres_database: str) -> Iterator[tuple[Any, list[dict[str, Any]]]]:
    from memlayer.storage.postgres import PostgresStore

    url = f"{postgres_database}?schema=codec_{uuid.uuid4().hex[:12]}"
    store = PostgresStore(url)
    rng = np.random.default_rng(3)
    rows: list[dict[str, Any]] = []
    for i in range(60):
        word = "".join(rng.choice(list(ALPHABET), size=int(rng.integers(0, 5))))
        items = ["".join(rng.choice(list(ALPHABET), size=int(rng.integers(0, 3)))) for _ in range(int(rng.integers(0, 3)))]
        meta: dict[str, Any] = {"k": word, "l": items, word or "empty": i}
        rows.append({"id": f"m{i}", "metadata": meta, "user_id": "u", "agent_id": None, "run_id": None})
    with store.transaction() as tx:
        tx.insert_memories([NewMemory(r["id"], Scope("u"), f"text {i}", "h", np.ones(4, np.float32), 1.0, r["metadata"])
                            for i, r in enumerate(rows)])
    yield store, rows
    store.close()
    postgres_server.psql(f"DROP SCHEMA IF EXISTS {url.rsplit('=', 1)[1]} CASCADE", dbname="memlayer_tests")


pytestmark = pytest.mark.requires_server("postgresql")


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(["k", "l"]) | adversarial, op=st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte",
                                                                         "contains", "in", "nin"]),
       value=adversarial)
def test_filters_on_adversarial_strings_agree_with_the_oracle(corpus: tuple[Any, list[dict[str, Any]]], key: str,
                                                              op: str, value: str) -> None:
    store, rows = corpus
    if not key or key in ("AND", "OR", "NOT"):
        return
    flt = {key: {op: [value] if op in ("in", "nin") else value}}
    got = {m.id for m in store.rows(store.select_rids(Selection(Scope("u"), parse_filters(flt))).tolist()).values()}
    assert got == {r["id"] for r in rows if matches(r, flt)}, flt


def test_metadata_reads_back_exactly(corpus: tuple[Any, list[dict[str, Any]]]) -> None:
    store, rows = corpus
    held = store.rows(store.select_rids(Selection(Scope("u"))).tolist())
    assert {m.id: m.metadata for m in held.values()} == {r["id"]: r["metadata"] for r in rows}
    scoped = store.scope_rows(Selection(Scope("u")), ["k"])
    assert sorted(scoped.values["k"]) == sorted(r["metadata"]["k"] for r in rows)
