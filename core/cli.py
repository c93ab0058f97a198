"""The ``memlayer`` command line: add, search, list, history, forget, demo."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import textwrap
from collections.abc import Callable
from typing import Any

from .errors import MemlayerError

Handler = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, tuple[Handler, Callable[[argparse.ArgumentParser], None], str]] = {}


def command(name: str, help_text: str) -> Callable[[Callable[[argparse.ArgumentParser], None]], Callable[..., Any]]:
    """Register a subcommand: decorate its argument builder; the handler is ``run_<name>``."""

    def deco(builder: Callable[[argparse.ArgumentParser], None]) -> Callable[..., Any]:
        COMMANDS[name] = (globals()[f"run_{name}"], builder, help_text)
        return builder

    return deco


def _open(args: argparse.Namespace) -> Any:
    from .sync import Memory

    options: dict[str, Any] = {}
    if args.embedder:
        options["embedder"] = args.embedder
    return Memory(args.path, **options)


def _scope(args: argparse.Namespace) -> dict[str, str | None]:
    return {"user_id": args.user, "agent_id": args.agent, "run_id": args.run}


def _scope_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--user", "-u", help="user id")
    p.add_argument("--agent", "-a", help="agent id")
    p.add_argument("--run", "-r", help="run id")


def _emit(args: argparse.Namespace, data: Any, render: Callable[[Any], str]) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False) if args.json else render(data))


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str, int]]) -> str:
    if not rows:
        return "(nothing found)"
    head = "  ".join(title.ljust(width) for _, title, width in columns)
    lines = [head, "  ".join("-" * width for _, _, width in columns)]
    for row in rows:
        cells = []
        for key, _, width in columns:
            value = row.get(key)
            text = "" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))
            cells.append(textwrap.shorten(text, width=width, placeholder="…").ljust(width))
        lines.append("  ".join(cells))
    return "\n".join(lines)


MEMORY_COLUMNS = [("id", "id", 36), ("memory", "memory", 60), ("updated_at", "updated", 19)]


def run_add(args: argparse.Namespace) -> int:
    meta = json.loads(args.metadata) if args.metadata else None
    with _open(args) as m:
        out = m.add(args.text, **_scope(args), metadata=meta, infer=not args.no_infer)
    _emit(args, out, lambda d: _table(d["results"], [("event", "event", 6), ("id", "id", 36), ("memory", "memory", 60)]))
    return 0


@command("add", "remember a message")
def _add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("text", help="what the user said")
    _scope_args(p)
    p.add_argument("--metadata", help="JSON object stored with the memory")
    p.add_argument("--no-infer", action="store_true", help="store the text verbatim (no fact extraction)")


def run_search(args: argparse.Namespace) -> int:
    with _open(args) as m:
        out = m.search(args.query, **_scope(args), limit=args.limit)

    def render(d: dict[str, Any]) -> str:
        text = _table(d["results"], [("score", "score", 6), ("memory", "memory", 70), ("id", "id", 36)])
        if d.get("relations"):
            text += "\n\nrelations:\n" + "\n".join(
                f"  {r['source']} -[{r['relationship']}]-> {r['destination']}" for r in d["relations"]
            )
        return text

    _emit(args, out, render)
    return 0


@command("search", "find the memories most relevant to a query")
def _search_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("query")
    _scope_args(p)
    p.add_argument("--limit", "-k", type=int, default=10)


def run_list(args: argparse.Namespace) -> int:
    with _open(args) as m:
        out = m.get_all(**_scope(args), limit=args.limit)
    _emit(args, out, lambda d: _table(d["results"], MEMORY_COLUMNS))
    return 0


@command("list", "list a scope's current memories")
def _list_args(p: argparse.ArgumentParser) -> None:
    _scope_args(p)
    p.add_argument("--limit", type=int, default=100)


def run_history(args: argparse.Namespace) -> int:
    with _open(args) as m:
        out = m.history(args.memory_id)
    _emit(args, out, lambda d: _table(d, [("created_at", "when", 25), ("event", "event", 6),
                                          ("old_memory", "before", 40), ("new_memory", "after", 40)]))
    return 0


@command("history", "every version of one memory")
def _history_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("memory_id")


def run_forget(args: argparse.Namespace) -> int:
    with _open(args) as m:
        if args.id:
            out: dict[str, Any] = m.delete(args.id)
        else:
            out = m.delete_all(**_scope(args))
    _emit(args, out, lambda d: d.get("message", "done"))
    return 0


@command("forget", "delete one memory (--id) or everything of a scope")
def _forget_args(p: argparse.ArgumentParser) -> None:
    _scope_args(p)
    p.add_argument("--id", help="a single memory id")


def run_demo(args: argparse.Namespace) -> int:
    from .demo import run

    path = args.path or tempfile.mkdtemp(prefix="memlayer-demo-")
    return run(path, embedder=args.embedder, out=sys.stdout)


@command("demo", "a two-minute offline tour: remember, update, recall, time-travel, forget")
def _demo_args(p: argparse.ArgumentParser) -> None:
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="memlayer", description="Long-term memory for LLM agents.")
    parser.add_argument("--path", default=os.environ.get("MEMLAYER_HOME"), help="store directory (default ~/.memlayer)")
    parser.add_argument("--embedder", help="embedder name (default: local all-MiniLM-L6-v2)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (_, builder, help_text) in COMMANDS.items():
        builder(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = COMMANDS[args.command][0]
    try:
        return handler(args)
    except (MemlayerError, ImportError, json.JSONDecodeError) as exc:
        print(f"memlayer: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
