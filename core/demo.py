"""`memlayer demo`: an offline tour with the local embedder, the pattern extractor and the graph."""

from __future__ import annotations

import time
from typing import Any, TextIO

from .cli.base import LLM_HINT, uses_pattern_extractor

USER = "alice"


def _say(out: TextIO, text: str = "") -> None:
    print(text, file=out, flush=True)


def _show_add(out: TextIO, said: str, result: dict[str, Any]) -> None:
    _say(out, f'\n> alice: "{said}"')
    for r in result["results"]:
        _say(out, f"  {r['event']:<6} {r['memory']}")
    for rel in result["relations"]["added"]:
        _say(out, f"  graph  {rel['source']} -[{rel['relationship']}]-> {rel['destination']}")


def _show_search(out: TextIO, query: str, result: dict[str, Any], k: int = 3) -> None:
    """The top hits in rank order: ``score`` (what ranks them: similarity, keyword and graph evidence fused,
    so it falls down the list) and the plain cosine ``similarity`` beside it (which need not)."""
    _say(out, f'\n? "{query}"')
    hits = result["results"][:k]
    if hits:
        _say(out, "  score  similarity")
    for r in hits:
        _say(out, f"  {r['score']:5.2f}  {r['similarity']:10.2f}  {r['memory']}")
    for rel in result.get("relations", [])[:5]:
        _say(out, f"  graph: {rel['source']} -[{rel['relationship']}]-> {rel['destination']}")


def describe(m: Any) -> str:
    """What this store runs on: the embedder, the graph and the extractor (without an LLM: how to get one)."""
    embedder = type(m.async_memory.embedder).__name__
    graph = "no graph" if m.graph is None else f"graph: {getattr(m.graph.store, 'kind', type(m.graph.store).__name__)}"
    if uses_pattern_extractor(m):
        return f"embedder: {embedder}; {graph}\n{LLM_HINT}"
    extractor = m.config.extractor or f"LLM ({type(m.async_memory.llm).__name__})"
    return f"embedder: {embedder}; extractor: {extractor}; {graph}"


def run(path: str, *, embedder: str | None = None, config: dict[str, Any] | None = None, out: TextIO) -> int:
    from .sync import Memory

    with Memory(path, embedder=embedder, config=config) as m:
        _say(out, f"memlayer demo — store at {path}")
        _say(out, describe(m))
        m.delete_all(user_id=USER)
        for said in ("I live in New York.", "I work at Acme as a designer.", "I like cricket.",
                     "My order number is 12345."):
            _show_add(out, said, m.add(said, user_id=USER))
        _show_search(out, "Where does the user live?", m.search("Where does the user live?", user_id=USER))
        before_move = time.time()
        time.sleep(0.05)
        for said in ("I moved to San Francisco.", "I love to play cricket with friends."):
            _show_add(out, said, m.add(said, user_id=USER))
        _show_search(out, "Where does the user live?", m.search("Where does the user live?", user_id=USER))
        past = m.search("Where does the user live?", user_id=USER, as_of=before_move)
        _say(out, "\n…and as of before the move:")
        _show_search(out, "Where does the user live?", past, k=1)
        old = next((r for r in past["results"] if "New York" in r["memory"]), None)
        if old:
            _say(out, "\nhistory of that memory:")
            for h in m.history(old["id"]):
                _say(out, f"  {h['event']:<6} {h['old_memory'] or ''!s:>30} -> {h['new_memory'] or '(closed)'}")
        said = "I had a meeting with Sarah from Google about the new search project."
        _show_add(out, said, m.add(said, user_id=USER))
        query = "Who do I know that works at Google?"
        _show_search(out, query, m.search(query, user_id=USER))
        _show_search(out, "What is my order number?", m.search("What is my order number?", user_id=USER), k=1)
        forgotten = m.delete_all(user_id=USER)
        _say(out, f"\nforget alice: {forgotten['message']}; left: {len(m.get_all(user_id=USER)['results'])}")
    _say(out, "\nDone. Try: memlayer --path DIR add 'I live in Paris' --user me; memlayer --path DIR search 'home' --user me")
    return 0
