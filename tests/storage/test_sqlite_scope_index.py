"""What a search reads of a one-field scope comes from the covering scope index alone, whatever the selection
leaves out (closed, expired, transcripts): the rows, which hold the embeddings, are never read for it."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from memlayer import Memory
from memlayer.storage.base import Selection
from memlayer.storage.sqlite import sql
from memlayer.types import Scope

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("scope", [Scope("u"), Scope(agent_id="a"), Scope(run_id="r")])
@pytest.mark.parametrize("transcripts", [None, False, True])
def test_the_scope_read_is_index_only(tmp_path, hash_embedder, scope, transcripts):
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        m.add("x", user_id="u", agent_id="a", run_id="r", infer=False)
        store = m.async_memory.store
        where, params = sql.where(Selection(scope, now=NOW, transcripts=transcripts), prefix="m.")
        plan = " ".join(str(r[3]) for r in store.query(
            f"EXPLAIN QUERY PLAN SELECT m.rid, m.created_at, m.speaker, m.tokens FROM memories m WHERE {where}", params))
        assert "COVERING INDEX memories_" in plan and "_read" in plan, plan
