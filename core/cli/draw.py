"""Pictures of a knowledge graph: PNG, SVG, or a self-contained HTML page.

Library choice: **networkx** (layout) + **matplotlib** (drawing), the ``viz`` extra. Both are pure-wheel,
well-kept libraries: nothing to install from the system (Graphviz would need its ``dot`` binary from
apt/brew/choco on every user's machine and in CI), they draw inside notebooks as they do on a headless
server, and matplotlib is already what the cookbook's benchmark plots use. The HTML page needs no
JavaScript and no CDN: it inlines the SVG picture and a table of every relation with its validity
interval, so it opens offline and can be attached to a ticket or a CI run. The trade-off is layout
quality on large graphs (spring layout rather than dot's), which per-user graphs of tens to a few
hundred entities do not notice.

Style: current relations are solid dark-blue arrows; superseded ones (closed by a newer fact) are dashed
grey with the date they ended; an entity that only appears in superseded relations is drawn grey.
"""

from __future__ import annotations

import html
import io
import math
import textwrap
from collections import defaultdict
from typing import Any

from ..errors import missing_extra

FORMATS = ("html", "svg", "png")
CURRENT, SUPERSEDED = "#1f4e79", "#9e9e9e"
ENTITY, OLD_ENTITY = "#dbeafe", "#eeeeee"


def _libraries() -> tuple[Any, Any, Any, Any]:
    try:
        import networkx as nx
    except ImportError as exc:
        raise missing_extra("viz", "networkx") from exc
    try:
        from matplotlib import rc_context
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D
    except ImportError as exc:
        raise missing_extra("viz", "matplotlib") from exc
    return nx, Figure, Line2D, rc_context


def _label(text: str) -> str:
    return "\n".join(textwrap.wrap(text, 11)) or text


def _layout(nx: Any, graph: Any) -> dict[Any, Any]:
    """Kamada-Kawai (even spacing, deterministic) when scipy is there, else a seeded spring layout."""
    simple = nx.Graph(graph)
    try:
        import scipy  # noqa: F401
    except ImportError:
        return nx.spring_layout(simple, seed=7, k=2.5 / math.sqrt(simple.number_of_nodes()), iterations=300)
    return nx.kamada_kawai_layout(simple)  # type: ignore[no-any-return]


def _picture(relations: list[dict[str, Any]], fmt: str, title: str) -> bytes:
    nx, figure_class, line_class, rc_context = _libraries()
    graph = nx.MultiDiGraph()
    names: dict[str, str] = {}
    alive: set[str] = set()
    for r in relations:
        s, o = r.get("source_id", r["source"]), r.get("destination_id", r["destination"])
        names.setdefault(s, r["source"])
        names.setdefault(o, r["destination"])
        if r["current"]:
            alive.update((s, o))
        graph.add_edge(s, o, relation=r)
    side = max(6.0, min(18.0, 3.0 + 2.2 * math.sqrt(max(len(names), 1))))
    fig = figure_class(figsize=(side, side * 0.75))
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.axis("off")
    if not relations:
        ax.text(0.5, 0.5, "(no relations yet)", ha="center", va="center", color=SUPERSEDED)
    else:
        pos = _layout(nx, graph)
        ax.margins(0.12)
        nodes = list(graph.nodes)
        sizes = [900 + 110 * min(len(names[n]), 11) for n in nodes]
        nx.draw_networkx_nodes(graph, pos, nodelist=nodes, node_size=sizes, ax=ax, edgecolors="#555555",
                               node_color=[ENTITY if n in alive else OLD_ENTITY for n in nodes])
        nx.draw_networkx_labels(graph, pos, labels={n: _label(names[n]) for n in nodes}, font_size=9, ax=ax)
        size_of = dict(zip(nodes, sizes, strict=True))
        pairs: dict[tuple[str, str], list[tuple[str, str, int]]] = defaultdict(list)
        for u, v, key in graph.edges(keys=True):
            pairs[(u, v)].append((u, v, key))
        for (u, v), edges in pairs.items():
            reverse = (v, u) in pairs and u != v
            for i, edge in enumerate(edges):
                rel = graph.edges[edge]["relation"]
                rad = 0.18 * (i + 1) if len(edges) > 1 or reverse else 0.0
                style = f"arc3,rad={rad}"
                ends = [size_of[u], size_of[v]]
                nx.draw_networkx_edges(
                    graph, pos, edgelist=[edge], ax=ax, node_size=ends, nodelist=[u, v], connectionstyle=style,
                    arrowsize=16, width=2.0 if rel["current"] else 1.3,
                    edge_color=CURRENT if rel["current"] else SUPERSEDED,
                    style="solid" if rel["current"] else "dashed",
                )
                text = rel["relationship"] if rel["current"] else f"{rel['relationship']}\n(until {(rel['valid_to'] or '')[:10]})"
                nx.draw_networkx_edge_labels(
                    graph, pos, edge_labels={edge: text}, ax=ax, connectionstyle=style, font_size=8,
                    font_color=CURRENT if rel["current"] else "#707070", bbox={"fc": "white", "ec": "none", "alpha": 0.8},
                )
        ax.legend(handles=[
            line_class([], [], color=CURRENT, lw=2, label="current"),
            line_class([], [], color=SUPERSEDED, lw=1.3, ls="--", label="superseded"),
        ], loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, frameon=False)
    buf = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {}
    with rc_context({"svg.fonttype": "none"}):  # SVG text stays text: selectable, searchable, smaller
        fig.savefig(buf, format=fmt, bbox_inches="tight", dpi=110, metadata=metadata)
    return buf.getvalue()


def _page(relations: list[dict[str, Any]], title: str) -> bytes:
    svg = _picture(relations, "svg", title).decode("utf-8")
    svg = svg[svg.index("<svg"):]  # drop the XML prolog and doctype: inline SVG inside HTML
    rows = "\n".join(
        "<tr class='{}'><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
            "current" if r["current"] else "superseded",
            *(html.escape(str(x or "")) for x in (
                r["source"], r["relationship"], r["destination"], (r["valid_from"] or "")[:19],
                (r["valid_to"] or "current")[:19],
            )),
        )
        for r in relations
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
svg {{ max-width: 100%; height: auto; }}
table {{ border-collapse: collapse; margin-top: 1em; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .3em .8em; text-align: left; }}
tr.superseded td {{ color: #888; text-decoration: line-through; }}
</style></head>
<body><h1>{html.escape(title)}</h1>
{svg}
<table><thead><tr><th>source</th><th>relationship</th><th>destination</th><th>valid from</th><th>valid to</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<p>Current relations are solid; superseded ones are dashed and struck through, with the time they ended.</p>
</body></html>
"""
    return page.encode("utf-8")


def render(relations: list[dict[str, Any]], fmt: str = "svg", *, title: str = "knowledge graph") -> bytes:
    """The relations (as :func:`memlayer.cli.graph.relations` returns them) drawn as ``html``, ``svg`` or ``png``."""
    fmt = fmt.lower().lstrip(".")
    if fmt not in FORMATS:
        from ..errors import ConfigError

        raise ConfigError(f"unknown picture format {fmt!r}; use one of {', '.join(FORMATS)}")
    return _page(relations, title) if fmt == "html" else _picture(relations, fmt, title)
