"""The extractors behind the real Memory (hash embedder, no graph): decisions land as expected."""

from __future__ import annotations

from pathlib import Path

from tests.extract.helpers import FakeLLM


def _current(memory, user_id: str) -> list[tuple[str, str | None]]:
    return sorted((r["memory"], r.get("attribute")) for r in memory.get_all(user_id=user_id)["results"])


def test_pattern_extractor_through_memory(memory) -> None:
    for text in (
        "I live in New York.",
        "I moved to San Francisco.",
        "I like cricket.",
        "I love to play cricket with friends.",
        "Where do I live?",
    ):
        memory.add(text, user_id="alice")
    assert _current(memory, "alice") == [
        ("User lives in San Francisco", "residence"),
        ("User loves to play cricket with friends", "preference:cricket"),
    ]


def test_llm_extractor_through_memory(tmp_path: Path, hash_embedder) -> None:
    from memlayer import Memory

    llm = FakeLLM(
        {"facts": [{"event": "ADD", "text": "User lives in New York", "attribute": "residence"}]},
        {
            "facts": [
                {"event": "DELETE", "text": "User lives in New York", "ref": 0, "attribute": "residence"},
                {"event": "ADD", "text": "User lives in San Francisco", "attribute": "residence"},
                {"event": "DELETE", "text": "made up", "ref": 5},
            ]
        },
    )
    m = Memory(str(tmp_path / "store"), embedder=hash_embedder, graph=False, llm=llm)
    try:
        m.add("I live in New York.", user_id="bob")
        result = m.add("I moved to SF.", user_id="bob")
        assert [r["event"] for r in result["results"]] == ["DELETE", "ADD"]
        assert result["usage"]["llm_calls"] == 1
        assert '"ref": 0, "text": "User lives in New York"' in llm.calls[1]["messages"][1]["content"]
        assert _current(m, "bob") == [("User lives in San Francisco", "residence")]
    finally:
        m.close()
