"""``memlayer graph``: draw a user's knowledge graph; plus the relation queries ``show`` uses too.

Relations are read with SPARQL over the scope's named graphs (memlayer stores each relation as a reified
``rdf:Statement`` with ``ml:validFrom``/``ml:validTo`` and ``prov:wasDerivedFrom`` its memory), so current
and superseded relations come back alike, each with its validity interval.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..graph.vocab import predicate_name
from ..messages import make_scope
from .base import command, open_memory, scope_arguments, warn

_RELATION = """?st a rdf:Statement ; rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ; ml:validFrom ?vf .
  ?s rdfs:label ?sl . ?o rdfs:label ?ol .
  OPTIONAL { ?st ml:validTo ?vt }"""
Q_ALL = f"""SELECT ?st ?s ?sl ?p ?o ?ol ?vf ?vt ?mid WHERE {{
  {_RELATION}
  OPTIONAL {{ ?st prov:wasDerivedFrom ?m . ?m ml:memoryId ?mid }}
}}"""
# ?mid is bound by the caller (a SPARQL binding, never spliced into the text) and projected, as Oxigraph wants.
Q_OF_MEMORY = f"""SELECT ?st ?s ?sl ?p ?o ?ol ?vf ?vt ?mid WHERE {{
  ?m ml:memoryId ?mid . ?st prov:wasDerivedFrom ?m .
  {_RELATION}
}}"""


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else (None if value is None else str(value))


def relations(memory: Any, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
              memory_id: str | None = None) -> list[dict[str, Any]]:
    """Every relation of the scope (or only those derived from ``memory_id``), current and superseded,
    oldest first: source, relationship, destination, valid_from, valid_to, current, memory_ids, and the
    entity IRIs ``source_id``/``destination_id`` (which tell apart two entities of the same name)."""
    if memory.graph is None:
        raise ConfigError("this store has no knowledge graph (its config says graph=False)")
    make_scope(user_id, agent_id, run_id)  # a scope is required here, as for every per-user call
    query, bindings = (Q_ALL, None) if memory_id is None else (Q_OF_MEMORY, {"mid": memory_id})
    merged: dict[str, dict[str, Any]] = {}
    for row in memory.graph.sparql(query, bindings, user_id=user_id, agent_id=agent_id, run_id=run_id):
        item = merged.setdefault(row["st"], {
            "source": row["sl"], "relationship": predicate_name(row["p"]), "destination": row["ol"],
            "valid_from": _iso(row["vf"]), "valid_to": _iso(row["vt"]), "current": row["vt"] is None,
            "memory_ids": [], "source_id": row["s"], "destination_id": row["o"], "statement": row["st"],
        })
        if row.get("mid") and row["mid"] not in item["memory_ids"]:
            item["memory_ids"].append(row["mid"])
    return sorted(merged.values(), key=lambda r: (r["valid_from"] or "", r["source"], r["relationship"]))


def graph_relations(memory: Any, *, user_id: str | None = None, agent_id: str | None = None,
                    run_id: str | None = None) -> list[dict[str, Any]]:
    """The relations of a scope, for :func:`memlayer.cli.draw.render` (e.g. in a notebook)."""
    return relations(memory, user_id=user_id, agent_id=agent_id, run_id=run_id)


def _graph_arguments(p: argparse.ArgumentParser) -> None:
    scope_arguments(p)
    p.add_argument("--out", "-o", required=True, help="graph.html (self-contained), graph.svg or graph.png")
    p.add_argument("--current", action="store_true", help="leave superseded relations out")
    p.add_argument("--title", help="the picture's title (default: the scope)")


@command("graph", "draw a scope's knowledge graph to .html, .svg or .png", _graph_arguments)
def run_graph(args: argparse.Namespace) -> int:
    from .draw import FORMATS, render

    fmt = Path(args.out).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ConfigError(f"--out must end in {', '.join('.' + f for f in FORMATS)}; got {args.out!r}")
    scope = make_scope(args.user, args.agent, args.run)
    with open_memory(args) as m:
        found = relations(m, user_id=scope.user_id, agent_id=scope.agent_id, run_id=scope.run_id)
    if args.current:
        found = [r for r in found if r["current"]]
    Path(args.out).write_bytes(render(found, fmt, title=args.title or f"knowledge graph of {scope.key()}"))
    entities = {r[k] for r in found for k in ("source_id", "destination_id")}
    old = sum(not r["current"] for r in found)
    warn(f"wrote {args.out}: {len(entities)} entities, {len(found)} relations ({old} superseded)")
    return 0
