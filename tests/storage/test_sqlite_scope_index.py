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


# a combined scope is read from its narrowest field's index: a run, else a user, else an agent (sql.LEAD_ORDER)
SCOPES = [(Scope("u"), "user"), (Scope(agent_id="a"), "agent"), (Scope(run_id="r"), "run"),
          (Scope("u", "a"), "user"), (Scope("u", run_id="r"), "run"), (Scope(agent_id="a", run_id="r"), "run"),
          (Scope("u", "a", "r"), "run")]


@pytest.mark.parametrize(("scope", "index"), SCOPES)
@pytest.mark.parametrize("transcripts", [None, False, True])
@pytest.mark.parametrize("exact", [False, True])
def test_the_scope_read_is_index_only(tmp_path, hash_embedder, scope, index, transcripts, exact):
    with Memory(str(tmp_path), embedder=hash_embedder, graph=False) as m:
        m.add("x", user_id="u", agent_id="a", run_id="r", infer=False)
        m.add("y", agent_id="a", infer=False)  # an agent every user shares, and memories of no user
        store = m.async_memory.store
        where, params = sql.where(Selection(scope, now=NOW, transcripts=transcripts, exact=exact), prefix="m.")
        plan = " ".join(str(r[3]) for r in store.query(
            f"EXPLAIN QUERY PLAN SELECT m.rid, m.created_at, m.speaker, m.tokens FROM memories m WHERE {where}", params))
        assert f"COVERING INDEX memories_{index}_read" in plan, plan
        found = store.scope_rows_upto(Selection(scope, now=NOW, transcripts=transcripts, exact=exact), [], 100)
        rows = store.query("SELECT rid, user_id, agent_id, run_id FROM memories ORDER BY rid")
        expected = [r["rid"] for r in rows if all(r[k] == v for k, v in scope.as_dict().items() if v is not None or exact)]
        expected = [] if transcripts else expected  # (neither memory is a transcript)
        assert found is not None and found.rids.tolist() == expected
