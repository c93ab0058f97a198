"""Helpers shared by the graph tests."""

from __future__ import annotations

from typing import Any

from memlayer.graph.rdf import RDFGraphStore
from memlayer.types import Relation, Scope

ALICE = Scope(user_id="alice")
BOB = Scope(user_id="bob")


def put(
    store: RDFGraphStore,
    scope: Scope,
    source: str,
    relationship: str,
    destination: str,
    *,
    memory_id: str = "m1",
    at: str = "2024-01-01T00:00:00Z",
    text: str | None = None,
) -> dict[str, Any]:
    """Add one relation and return its result dict."""
    [result] = store.add(
        scope,
        [Relation(source, relationship, destination)],
        memory_id=memory_id,
        source_text=text if text is not None else f"{source} {relationship} {destination}",
        message_ids=[f"msg-{memory_id}"],
        at=at,  # type: ignore[arg-type]
    )
    return result


def triples(found: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(r["source"], r["relationship"], r["destination"]) for r in found}


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection made to it (and answers nothing)."""

    def __init__(self) -> None:
        import socket
        import threading

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.05)
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()
