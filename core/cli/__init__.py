"""The ``memlayer`` command line (entry point ``memlayer.cli:main``).

Commands register themselves in :data:`memlayer.cli.base.COMMANDS` with the ``@command`` decorator;
each lives in a small module: ``basic`` (add, search, list, history, forget, demo), ``transfer``
(import, export), ``show`` and ``graph`` (drawing in ``draw``), ``serve`` (serve, mcp, keys). Errors memlayer raises on purpose, a
missing extra and unreadable files print one line (``memlayer: error: ...``) and exit with status 2;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from ..errors import MemlayerError
from . import basic, graph, serve, show, transfer  # noqa: F401  (each registers its commands)
from .base import COMMANDS, command, global_arguments

__all__ = ["COMMANDS", "build_parser", "command", "main"]

ORDER = ("add", "search", "list", "show", "history", "forget", "import", "export", "graph", "serve", "mcp", "keys",
         "demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="memlayer", description="Long-term memory for LLM agents.")
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
    args = build_parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # the model loader's bars are noise here
    try:
        return COMMANDS[args.command].handler(args)
    except KeyboardInterrupt:
        print("memlayer: interrupted", file=sys.stderr)
        return 130
    except (MemlayerError, ImportError, OSError, json.JSONDecodeError) as exc:
        if args.debug:
            raise
        print(f"memlayer: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
