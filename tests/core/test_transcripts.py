"""Transcripts (verbatim chat-history rows marked ``memlayer_transcript``) leave search, and only search."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from memlayer import Memory
from memlayer.kit import TRANSCRIPT_KEY

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


def test_an_update_marks_and_unmarks_a_memory(memory: Any) -> None:
    memory.add("we talked about the weather", user_id="u", infer=False)
    mid = memory.get_all(user_id="u")["results"][0]["id"]
    memory.update(mid, "we talked about the weather", metadata=MARK)
    assert memory.search("weather", user_id="u")["results"] == []
    memory.update(mid, "we talked about the weather again", metadata={"topic": "weather"})
    assert texts(memory.search("weather", user_id="u")) == ["we talked about the weather again"]
    memory.update(mid, "and the rain")  # text alone: the metadata, and the mark with it, stay
    assert texts(memory.search("rain", user_id="u")) == ["and the rain"]


def test_transcripts_leave_every_retriever_and_a_large_selection(memory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The mark is honoured by the dense and lexical retrievers, context and speakers alike, and when the
    selection is too large to read whole (post-filtered candidates)."""
    memory.add([{"role": "user", "name": "Ann", "content": "Ann hiked the Alps in May"}], user_id="u", infer=False)
    memory.add([{"role": "user", "name": "Ann", "content": "Ann hiked the Alps in May?"}], user_id="u", run_id="r",
               infer=False, metadata=MARK)
    for preset in ("vector", "hybrid", "default"):
        assert texts(memory.search("Ann hiked the Alps", user_id="u", config=preset)) == ["Ann hiked the Alps in May"]
    monkeypatch.setattr("memlayer.search.scope.MATERIALISE_MAX", 1)  # post-filtered, never read whole
    assert texts(memory.search("Ann hiked the Alps", user_id="u")) == ["Ann hiked the Alps in May"]


WRITER = """
import sys
from memlayer import Memory
from memlayer.embeddings.hashing import HashingEmbedder
m = Memory(sys.argv[1], embedder=HashingEmbedder(dims=64), graph=False)
m.add("is the sky blue?", user_id="u", run_id="r", infer=False, metadata={"memlayer_transcript": True})
m.close()
"""


def test_another_process_transcript_leaves_search_at_once(tmp_path: Path, hash_embedder: Any) -> None:
    path = str(tmp_path / "s")
    mine = Memory(path, embedder=hash_embedder, graph=False)
    try:
        mine.add("the sky is blue", user_id="u", infer=False)
        assert texts(mine.search("sky blue", user_id="u")) == ["the sky is blue"]
        subprocess.run([sys.executable, "-c", WRITER, path], check=True, timeout=120)
        assert texts(mine.search("sky blue", user_id="u")) == ["the sky is blue"]
        assert len(mine.get_all(user_id="u")["results"]) == 2
    finally:
        mine.close()
