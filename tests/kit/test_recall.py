"""The kit's recall formatter, relevance floor and truncation (shared by both adapters)."""

from __future__ import annotations

from typing import Any

import pytest

from memlayer import kit
from memlayer.errors import ConfigError
from memlayer.records import RelationRecord, SearchHit


def hit(text: str, similarity: float = 0.5, created_at: str | None = "2025-03-01T10:00:00+00:00", id: str = "") -> SearchHit:
    return SearchHit(id=id or text, memory=text, similarity=similarity, score=similarity, created_at=created_at)


def words(text: str) -> int:
    return len(text.split())


def test_bullets_in_rank_order_with_dates_and_relations() -> None:
    hits = [hit("Lives in  Paris\n(since 2020)"), hit("Likes tea", created_at=None)]
    rels = [RelationRecord("alice", "lives_in", "paris")]
    text = kit.format_recall(hits, rels, header="Memories:", show_dates=True)
    assert text == ("Memories:\n- Lives in Paris (since 2020) (2025-03-01)\n- Likes tea\n"
                    "Known relations:\n- alice -[lives_in]-> paris")
    assert kit.format_recall(hits) == "- Lives in Paris (since 2020)\n- Likes tea"
    assert kit.format_recall([], header="Memories:") == ""


def test_the_floor_drops_unrelated_memories() -> None:
    hits = [hit("I'm vegetarian", 0.505), hit("The meeting moved to Tuesday", 0.004)]
    assert kit.format_recall(hits, min_similarity=0.1) == "- I'm vegetarian"
    assert kit.above_floor(hits, None) == hits


def test_floor_is_calibrated_per_embedder() -> None:
    class MiniLM:
        model_name = "all-MiniLM-L6-v2"

    class Declared:
        recall_floor = 0.3

    assert kit.floor_for(MiniLM()) == kit.DEFAULT_MIN_SIMILARITY == 0.1
    assert kit.floor_for(Declared()) == 0.3
    assert kit.floor_for(object()) is None and kit.floor_for(None) is None
    assert kit.resolve_floor("auto", MiniLM()) == 0.1 and kit.resolve_floor(0.2, MiniLM()) == 0.2
    assert kit.resolve_floor(None, MiniLM()) is None
    with pytest.raises(ConfigError, match="min_similarity"):
        kit.resolve_floor("high", MiniLM())  # type: ignore[arg-type]


def test_token_budget_drops_lowest_ranked_first() -> None:
    hits = [hit(f"memory number {i}", created_at=None) for i in range(5)]
    text = kit.format_recall(hits, header="Memories:", max_tokens=10, count=words)
    assert text == "Memories:\n- memory number 0\n- memory number 1"
    assert kit.format_recall(hits, header="H", max_tokens=1, count=words) == ""
    assert kit.format_recall(hits, max_tokens=1000).count("- memory") == 5  # under budget (tiktoken): untouched


@pytest.mark.parametrize("content", [None, "", "   ", [], ["- a"], 7])
def test_truncate_never_crashes_on_empty_or_foreign_content(content: Any) -> None:
    assert kit.truncate_recall(content, 5, words) is None


def test_unseen_drops_what_the_conversation_already_shows() -> None:
    hits = [hit("I live in Paris"), hit("I like tea")]
    assert [h.memory for h in kit.unseen(hits, ["i live in  paris", "hello"])] == ["I like tea"]


def test_the_floor_with_the_bundled_embedder(tmp_path: Any, local_embedder: Any) -> None:
    """The issue's example: "what do I eat?" recalls being vegetarian, not the meeting (0.004)."""
    from memlayer import Memory
    from memlayer.kit import MemoryHandle, ops

    with Memory(str(tmp_path / "s"), embedder=local_embedder, graph=False) as memory:
        memory.add(["I'm vegetarian", "The meeting moved to Tuesday"], user_id="alice", infer=False)
        handle = MemoryHandle(memory)
        floor = kit.resolve_floor("auto", handle.embedder)
        assert floor == kit.DEFAULT_MIN_SIMILARITY
        found = handle.run(ops.search("what do I eat?", kit.scope("alice"), threshold=floor))
        assert [h.memory for h in found.results] == ["I'm vegetarian"]
