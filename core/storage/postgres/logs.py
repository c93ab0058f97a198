"""Reading the change logs (``vector_log``, ``graph_log``) and their heads (see ``storage.postgres.tx``)."""

from __future__ import annotations

import json
from typing import Any

from ...types import Scope
from ..base import LogEntry, LogName


def head(conn: Any, log: str) -> int:
    row = conn.execute("SELECT pos FROM log_clock WHERE log = %s", (log,)).fetchone()
    return 0 if row is None else int(row[0])


# The entries after a watermark are a short tail of a long log. ``seq > x`` alone is estimated at a third of
# the table on a log never ANALYZEd yet (right after a bulk load), and PostgreSQL then scans it whole; a
# closed range (the upper bound is never reached) is always planned as an index range scan.
_AFTER = "seq > %s AND seq <= 4611686018427387904"


def read_log(conn: Any, log: LogName, after: int, limit: int | None) -> list[LogEntry]:
    tail = "" if limit is None else f" LIMIT {int(limit)}"
    if log == "vectors":
        return [LogEntry(int(s), rid=int(r), op=str(o)) for s, r, o in conn.execute(
            f"SELECT seq, rid, op FROM vector_log WHERE {_AFTER} ORDER BY seq{tail}", (after,)).fetchall()]
    return [
        LogEntry(int(s), op=str(o), payload=json.loads(p), scope=Scope(u, a, r))
        for s, u, a, r, o, p in conn.execute(
            f"SELECT seq, user_id, agent_id, run_id, op, payload FROM graph_log WHERE {_AFTER} ORDER BY seq{tail}",
            (after,)).fetchall()
    ]
