"""Transcripts (verbatim chat-history rows marked ``memlayer_transcript``) leave search, and only search."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from memlayer import Memory
from memlayer.kit import TRANSCRIPT_KEY
from memlayer.transcripts import FLAG, RECHECK, TranscriptFlag

MARK = {TRANSCRIPT_KEY: True}


def texts(answer: dict[str, Any]) -> list[str]:
    return sorted(r["memory"] for r in answer["results"])


def test_search_leaves_transcripts_out_unless_the_filters_name_them(memory: Any) -> None:
    memory.add("I live in Porto", user_id="u", infer=False)
    memory.add([{"role": "user", "content": "Do I live in Porto?"}], user_id="u", run_id="s1", infer=False,
               metadata=MARK)
    assert texts(memory.search("live in Porto", user_id="u")) == ["I live in Porto"]
    assert texts(memory.search("Porto", user_id="u", filters={TRANSCRIPT_KEY: True})) == ["Do I live in Porto?"]
    both = {"OR": [{TRANSCRIPT_KEY: True}, {TRANSCRIPT_KEY: {"ne": True}}]}
    assert len(memory.search("Porto", user_id="u", filters=both)["results"]) == 2
    combined = memory.search("Porto", user_id="u", filters={"NOT": {"source": "x"}})  # other filters still exclude
    assert texts(combined) == ["I live in Porto"]
    # everything else sees them as memories
    assert len(memory.get_all(user_id="u")["results"]) == 2
    row = memory.get_all(user_id="u", run_id="s1")["results"][0]
    assert memory.get(row["id"])["metadata"][TRANSCRIPT_KEY] is True
    memory.delete_all(user_id="u")
    assert memory.get_all(user_id="u")["results"] == []


def test_a_false_or_other_value_is_not_a_transcript(memory: Any) -> None:
    memory.add("I like jazz", user_id="u", infer=False, metadata={TRANSCRIPT_KEY: False})
    memory.add("I like blues", user_id="u", infer=False, metadata={TRANSCRIPT_KEY: "yes"})
    memory.add("I like rock", user_id="u", infer=False, metadata=MARK)
    assert texts(memory.search("I like", user_id="u")) == ["I like blues", "I like jazz"]


def test_an_update_that_marks_a_memory_sets_the_flag(memory: Any) -> None:
    memory.add("we talked about the weather", user_id="u", infer=False)
    mid = memory.get_all(user_id="u")["results"][0]["id"]
    assert memory.async_memory.store.get_meta(FLAG) is None
    memory.update(mid, "we talked about the weather", metadata=MARK)
    assert memory.async_memory.store.get_meta(FLAG) == "1"
    assert memory.search("weather", user_id="u")["results"] == []


def test_this_process_leaves_out_its_own_new_transcript_at_once(memory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("memlayer.transcripts.time.monotonic", lambda: 1000.0)  # no re-read of the flag
    memory.add("we talked about the rain", user_id="u", infer=False)
    mid = memory.get_all(user_id="u")["results"][0]["id"]
    assert len(memory.search("rain", user_id="u")["results"]) == 1  # the flag was read: unset
    memory.update(mid, "we talked about the rain", metadata=MARK)
    assert memory.search("rain", user_id="u")["results"] == []
    memory.add("did it rain?", user_id="u", run_id="r2", infer=False, metadata=MARK)
    assert memory.search("rain", user_id="u")["results"] == []


def test_a_store_without_transcripts_searches_without_the_condition(memory: Any) -> None:
    memory.add("plain fact", user_id="u", infer=False)
    assert memory.async_memory.store.get_meta(FLAG) is None and not memory.async_memory.engine.transcripts.present()
    assert texts(memory.search("plain fact", user_id="u")) == ["plain fact"]


WRITER = """
import sys
from memlayer import Memory
from memlayer.embeddings.hashing import HashingEmbedder
m = Memory(sys.argv[1], embedder=HashingEmbedder(dims=64), graph=False)
m.add("is the sky blue?", user_id="u", run_id="r", infer=False, metadata={"memlayer_transcript": True})
m.close()
"""


def test_another_process_first_transcript_leaves_search_after_the_recheck(
        tmp_path: Path, hash_embedder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("memlayer.transcripts.time.monotonic", lambda: clock[0])
    path = str(tmp_path / "s")
    mine = Memory(path, embedder=hash_embedder, graph=False)
    try:
        mine.add("the sky is blue", user_id="u", infer=False)
        assert texts(mine.search("sky blue", user_id="u")) == ["the sky is blue"]
        subprocess.run([sys.executable, "-c", WRITER, path], check=True, timeout=120)
        clock[0] += RECHECK
        assert texts(mine.search("sky blue", user_id="u")) == ["the sky is blue"]
        assert len(mine.get_all(user_id="u")["results"]) == 2
    finally:
        mine.close()


def test_the_flag_is_read_again_after_the_recheck_interval(memory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("memlayer.transcripts.time.monotonic", lambda: clock[0])
    flag = TranscriptFlag(memory.async_memory.store)
    assert not flag.present()
    memory.async_memory.store.set_meta(FLAG, "1")  # what another process's first transcript leaves
    clock[0] += RECHECK / 2
    assert not flag.present()  # within the interval: its last read stands
    clock[0] += RECHECK / 2
    assert flag.present()
    memory.async_memory.store.delete_meta(FLAG)
    assert flag.present()  # once set, it stays set
