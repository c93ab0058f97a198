"""The ``memlayer`` command line (entry point ``memlayer.cli:main``).

Commands register themselves in :data:`memlayer.cli.base.COMMANDS` with the ``@command`` decorator;
each lives in a small module: ``basic`` (add, search, list, history, forget, demo), ``lifetimes``
(sweep, retention), ``transfer`` (import, export), ``show`` and ``graph`` (drawing in ``draw``), ``serve``
(serve, mcp, keys). Errors memlayer raises on purpose, a missing extra and unreadable files print one line
(``memlayer: error: ...``) and exit with status 2; ``--debug`` shows the traceback instead. With ``--json``
that line is a JSON object instead, also for a command line argparse refuses:
``{"error": {"type": "NotFoundError", "message": "..."}}`` on stderr, with
the same exit status (2; 130 when interrupted).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import NoReturn

from ..errors import MemlayerError
from . import basic, graph, lifetimes, serve, show, transfer  # noqa: F401  (each registers its commands)
from .base import COMMANDS, command, global_arguments

__all__ = ["COMMANDS", "build_parser", "command", "main"]

ORDER = ("add", "search", "list", "show", "history", "forget", "sweep", "retention", "import", "export", "graph",
         "serve", "mcp", "keys", "demo")


class Parser(argparse.ArgumentParser):
    """argparse's parser, whose refusals of a command line are JSON too when it asks for ``--json``."""

    json_errors = False

    def error(self, message: str) -> NoReturn:
        if not Parser.json_errors:
            super().error(message)
        fail("UsageError", f"{message} (see `{self.prog} --help`)", json_output=True)
        raise SystemExit(2)


def fail(kind: str, message: str, *, json_output: bool) -> None:
    """Print one error line on stderr: plain, or the JSON object ``--json`` asks for."""
    if json_output:
        print(json.dumps({"error": {"type": kind, "message": message}}, ensure_ascii=False), file=sys.stderr)
    else:
        print(f"memlayer: error: {message}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="memlayer", description="Long-term memory for LLM agents.")
    global_arguments(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names = [n for n in ORDER if n in COMMANDS] + sorted(set(COMMANDS) - set(ORDER))
    for name in names:
        cmd = COMMANDS[name]
        p = sub.add_parser(name, help=cmd.help, description=cmd.help, epilog=cmd.epilog,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        cmd.arguments(p)
        global_arguments(p, suppress=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    Parser.json_errors = "--json" in words[: words.index("--")] if "--" in words else "--json" in words
    try:
        args = build_parser().parse_args(argv)
    finally:
        Parser.json_errors = False
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # the model loader's bars are noise here
    try:
        return COMMANDS[args.command].handler(args)
    except KeyboardInterrupt:
        if args.json:
            fail("Interrupted", "interrupted", json_output=True)
        else:
            print("memlayer: interrupted", file=sys.stderr)
        return 130
    except (MemlayerError, ImportError, OSError, json.JSONDecodeError) as exc:
        if args.debug:
            raise
        fail(type(exc).__name__, str(exc), json_output=args.json)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
