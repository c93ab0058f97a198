"""`memlayer demo`: an offline tour with the local embedder, the pattern extractor and the graph."""

from __future__ import annotations

import secrets
import time
from typing import Any, TextIO

from .cli.base import LLM_HINT, uses_pattern_extractor

NAME = "alice"  # who speaks in the tour; her memories live under a user id of the run's own (run())


def _say(out: TextIO, text: str = "") -> None:
    print(text, file=out, flush=True)


def _show_add(out: TextIO, said: str, result: dict[str, Any]) -> None:
    _say(out, f'\n> {NAME}: "{said}"')
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


def run(
    path: str, *, store: str | None = None, embedder: str | None = None, config: dict[str, Any] | None = None,
    out: TextIO,
) -> int:
    """The tour, in the store the options name (``store``: a URL, else $MEMLAYER_DATABASE_URL, else SQLite in
    ``path``; a shared database's graph in memory unless ``config`` names one). It writes under a user id of its
    own and forgets it at the end: whatever else the store holds (an application's own "alice" included) is
    never read or touched."""
    from .storage import is_remote
    from .sync import Memory

    user = f"demo-{NAME}-{secrets.token_hex(4)}"
    # a database many processes share has no graph of this host's unless the config names one: the tour's
    # graph is then rebuilt in memory from the store (it is one short process)
    graph = {"graph": "memory"} if is_remote(store) and "graph" not in (config or {}) else {}
    with Memory(path, embedder=embedder, store=store, config=config, **graph) as m:
        _say(out, f"memlayer demo — store: {m.async_memory.store.location}; the tour's user: {user} (forgotten at the end)")
        _say(out, describe(m))
        try:
            _tour(m, user, out)
        finally:  # also when the tour fails half-way: nothing of it stays behind
            forgotten = m.delete_all(user_id=user)
        _say(out, f"\nforget {user}: {forgotten['message']}; left: {len(m.get_all(user_id=user)['results'])}")
    _say(out, "\nDone. Try: memlayer --path DIR add 'I live in Paris' --user me; memlayer --path DIR search 'home' --user me")
    return 0


def _tour(m: Any, user: str, out: TextIO) -> None:
    """Remember, update, recall, time-travel: what the demo shows."""
    for said in ("I live in New York.", "I work at Acme as a designer.", "I like cricket.",
                 "My order number is 12345."):
        _show_add(out, said, m.add(said, user_id=user))
    _show_search(out, "Where does the user live?", m.search("Where does the user live?", user_id=user))
    before_move = time.time()
    time.sleep(0.05)
    for said in ("I moved to San Francisco.", "I love to play cricket with friends."):
        _show_add(out, said, m.add(said, user_id=user))
    _show_search(out, "Where does the user live?", m.search("Where does the user live?", user_id=user))
    past = m.search("Where does the user live?", user_id=user, as_of=before_move)
    _say(out, "\n…and as of before the move:")
    _show_search(out, "Where does the user live?", past, k=1)
    old = next((r for r in past["results"] if "New York" in r["memory"]), None)
    if old:
        _say(out, "\nhistory of that memory:")
        for h in m.history(old["id"]):
            _say(out, f"  {h['event']:<6} {h['old_memory'] or ''!s:>30} -> {h['new_memory'] or '(closed)'}")
    said = "I had a meeting with Sarah from Google about the new search project."
    _show_add(out, said, m.add(said, user_id=user))
    query = "Who do I know that works at Google?"
    _show_search(out, query, m.search(query, user_id=user))
    _show_search(out, "What is my order number?", m.search("What is my order number?", user_id=user), k=1)
