"""The reads every SQL store and its transactions make alike, written once over a ``Dialect``.

SQLite and PostgreSQL differ in how a statement names a parameter (``?``, ``%s``) and a list of values
(``IN (?, ?, ...)``, ``= ANY(%s::bigint[])``), and in how many values one statement may bind; the selections
themselves compile in each dialect's ``sql`` module. ``SQLReads`` (a transaction's and a store's) and
``SQLStoreReads`` (a store's) hold the verbs whose SQL is otherwise the same; a class mixes one in and gives
``_run`` (on its transaction's connection, or on a reading one).
A new SQL backend writes a ``Dialect`` and ``_run``, not these verbs again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from ..types import Scope
from .base import Selection, StoredMemory
from .memory_rows import COLUMNS, memory_from_row

Clause = tuple[str, list[Any]]  # SQL text and its parameters, in order


@dataclass(frozen=True)
class Dialect:
    """What the shared verbs need to know of one SQL dialect."""

    mark: str  # a parameter in statement text
    chunk: int  # values bound in one list (``any_of``)
    any_of: Callable[[str, Sequence[Any], Literal["bigint", "text"]], Clause]  # column is one of the values
    where: Callable[[Selection], Clause]  # the memories a selection covers
    current: Callable[[float | None], Clause]  # not closed, and not expired by the time when given
    scope_clause: Callable[..., Clause]  # (scope, exact=False): given fields match; exact: the others are NULL


def chunks(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in lists of at most ``size`` (the value lists of one statement each)."""
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


class SQLReads:
    """The read verbs that ``Store`` and ``Tx`` (``storage.base``) both have, shared by the SQL backends."""

    dialect: ClassVar[Dialect]

    def _run(self, text: str, params: Sequence[Any] = (), *, binary: bool = False) -> list[tuple[Any, ...]]:
        """The rows of one statement (plain tuples); ``binary``: byte columns as the driver reads them fastest."""
        raise NotImplementedError

    def list_memories(self, selection: Selection, limit: int) -> list[StoredMemory]:
        where, params = self.dialect.where(selection)
        rows = self._run(f"SELECT {COLUMNS} FROM memories WHERE {where} ORDER BY updated_at DESC, rid DESC "
                         f"LIMIT {self.dialect.mark}", [*params, int(limit)])
        return [memory_from_row(r) for r in rows]

    def current_by_attribute(
        self, scope: Scope, attributes: Sequence[str], *, at: float | None = None
    ) -> list[StoredMemory]:
        if not attributes:
            return []
        s_sql, s_params = self.dialect.scope_clause(scope, exact=True)
        valid, v_params = self.dialect.current(at)
        among, a_params = self.dialect.any_of("attribute", sorted(set(attributes)), "text")
        rows = self._run(f"SELECT {COLUMNS} FROM memories WHERE {s_sql} AND {valid} AND {among} ORDER BY rid",
                         [*s_params, *v_params, *a_params])
        return [memory_from_row(r) for r in rows]

    def first_after(self, scope: Scope, attribute: str, after: float) -> StoredMemory | None:
        s_sql, s_params = self.dialect.scope_clause(scope, exact=True)
        m = self.dialect.mark
        rows = self._run(f"SELECT {COLUMNS} FROM memories WHERE {s_sql} AND attribute = {m} AND valid_from > {m} "
                         "ORDER BY valid_from, rid LIMIT 1", [*s_params, attribute, after])
        return memory_from_row(rows[0]) if rows else None

    def count(self, selection: Selection | None = None) -> int:
        if selection is None:
            return int(self._run("SELECT count(*) FROM memories")[0][0])
        where, params = self.dialect.where(selection)
        return int(self._run(f"SELECT count(*) FROM memories WHERE {where}", params)[0][0])

    def get_meta(self, key: str) -> str | None:
        rows = self._run(f"SELECT value FROM meta WHERE key = {self.dialect.mark}", (key,))
        return None if not rows else str(rows[0][0])


class SQLStoreReads(SQLReads):
    """The further read verbs of ``Store`` (outside any transaction)."""

    def get(self, memory_id: str) -> StoredMemory | None:
        rows = self._run(f"SELECT {COLUMNS} FROM memories WHERE id = {self.dialect.mark}", (memory_id,))
        return memory_from_row(rows[0]) if rows else None

    def rows(self, rids: Sequence[int]) -> dict[int, StoredMemory]:
        out: dict[int, StoredMemory] = {}
        for chunk in chunks([int(r) for r in rids], self.dialect.chunk):
            among, params = self.dialect.any_of("rid", chunk, "bigint")
            for row in self._run(f"SELECT {COLUMNS} FROM memories WHERE {among}", params):
                out[int(row[0])] = memory_from_row(row)
        return out

    def rids_of(self, memory_ids: Sequence[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for chunk in chunks(list(memory_ids), self.dialect.chunk):
            among, params = self.dialect.any_of("id", chunk, "text")
            out.update({str(mid): int(rid) for rid, mid in self._run(f"SELECT rid, id FROM memories WHERE {among}",
                                                                      params)})
        return out

    def embeddings(self, rids: Sequence[int]) -> dict[int, np.ndarray]:
        out: dict[int, np.ndarray] = {}
        for chunk in chunks([int(r) for r in rids], self.dialect.chunk):
            among, params = self.dialect.any_of("rid", chunk, "bigint")
            for rid, blob in self._run(f"SELECT rid, embedding FROM memories WHERE {among}", params, binary=True):
                out[int(rid)] = np.frombuffer(blob, dtype=np.float32)
        return out

    def select_rids(self, selection: Selection) -> np.ndarray:
        where, params = self.dialect.where(selection)
        rows = self._run(f"SELECT rid FROM memories WHERE {where}", params)
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def scope_counts(self, at: float, over: int, within: Scope | None = None) -> dict[Scope, int]:
        valid, params = self.dialect.current(at)
        if within is not None:
            s_sql, s_params = self.dialect.scope_clause(within)
            valid, params = f"{s_sql} AND {valid}", [*s_params, *params]
        rows = self._run(f"SELECT user_id, agent_id, run_id, count(*) FROM memories WHERE {valid} "
                         f"GROUP BY user_id, agent_id, run_id HAVING count(*) > {self.dialect.mark}",
                         [*params, int(over)])
        return {Scope(u, a, r): int(n) for u, a, r, n in rows}


def embedding_batches(fetch: Callable[[int], list[tuple[Any, ...]]]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(row ids, their vectors as one matrix) in row-id order; ``fetch(last)`` reads the next batch of
    ``(rid, embedding)`` rows after row id ``last`` (an empty list at the end)."""
    last = 0
    while True:
        rows = fetch(last)
        if not rows:
            return
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        flat = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        yield ids, flat.reshape(len(rows), -1)
        last = int(ids[-1])
