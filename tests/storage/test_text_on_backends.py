"""What callers write through the public API, stored alike on every backend (see conftest.BACKENDS): text that
one backend could hold and another could not (NUL: PostgreSQL's text refuses it) is written the same way on
each, never refused by one only."""

from __future__ import annotations

from typing import Any

from memlayer.storage.base import Selection
from memlayer.types import Scope


def test_a_nul_in_a_speaker_or_a_role_is_dropped_on_every_backend(memory_on: Any) -> None:
    m, store = memory_on, memory_on.async_memory.store
    said = m.add("hello there", user_id="u", infer=False, metadata={"speaker": "Al\x00ice"})["results"][0]
    assert m.get(said["id"])["metadata"] == {"speaker": "Al\x00ice"}  # the metadata as written
    assert store.get(said["id"]).speaker == "Alice"  # the column a search matches speakers by
    role = m.add([{"role": "us\x00er", "content": "good morning"}], user_id="u", infer=False)["results"][0]
    assert store.get(role["id"]).speaker == "user"
    later = m.update(said["id"], "hello again", metadata={"speaker": "B\x00ob"})
    assert later["event"] == "UPDATE" and store.get(said["id"]).speaker == "Bob"
    imported = m.bulk_add([{"text": "hi", "user_id": "u", "metadata": {"speaker": "Eve\x00"}},
                           {"messages": [{"role": "\x00", "content": "yo"}], "user_id": "u"}], progress=False)
    assert imported["added"] == 2
    rows = store.list_memories(Selection(Scope("u")), 10)
    assert sorted(r.speaker for r in rows) == ["Bob", "Eve", "user", "user"]
