"""Shared plumbing of the ``memlayer`` command line: the command registry, options, output helpers."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..errors import ConfigError

Handler = Callable[[argparse.Namespace], int]
Builder = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class Command:
    handler: Handler
    arguments: Builder
    help: str
    epilog: str | None = None


COMMANDS: dict[str, Command] = {}


def command(
    name: str, help_text: str, arguments: Builder, *, epilog: str | None = None
) -> Callable[[Handler], Handler]:
    """Register a subcommand: decorate its handler; ``arguments`` adds the subcommand's own options and
    ``epilog`` (preformatted) is printed at the end of its ``--help``."""

    def deco(handler: Handler) -> Handler:
        COMMANDS[name] = Command(handler, arguments, help_text, epilog)
        return handler

    return deco


def no_arguments(parser: argparse.ArgumentParser) -> None:
    """The argument builder of a subcommand that takes none of its own."""


LLM_HINT = (
    "no LLM configured, so the offline pattern extractor is in use (common first-person English facts); "
    "to let an LLM decide, set OPENAI_API_KEY (or OPENAI_BASE_URL for Ollama/vLLM/LM Studio) "
    'or pass --config FILE.json with an "llm" key'
)


def read_config(path: str | None) -> dict[str, Any] | None:
    """The JSON object of ``--config FILE``; a bad file is a ConfigError that says what is wrong."""
    if path is None:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path!r}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"the config file {path!r} is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"the config file {path!r} must hold a JSON object of settings, not {type(data).__name__}")
    return data


def open_memory(args: argparse.Namespace, *, announce_extractor: bool = False) -> Any:
    """The ``Memory`` the global options describe (``--config``, then ``--path``/``--store``/``--embedder``
    over it).

    With ``announce_extractor`` (commands that extract facts) a store without an LLM says, in one line on
    stderr, that the pattern extractor is in use and how to configure an LLM.
    """
    from ..sync import Memory

    memory = Memory(args.path, embedder=args.embedder, store=args.store, config=read_config(args.config))
    if announce_extractor and uses_pattern_extractor(memory):
        warn(LLM_HINT)
    return memory


def uses_pattern_extractor(memory: Any) -> bool:
    """Whether ``add(infer=True)`` falls back to the offline pattern extractor (no LLM, no extractor set)."""
    return memory.async_memory.llm is None and memory.config.extractor is None


def warn(text: str, stream: TextIO | None = None) -> None:
    print(f"memlayer: {text}", file=stream or sys.stderr, flush=True)


def scope_of(args: argparse.Namespace) -> dict[str, str | None]:
    return {"user_id": args.user, "agent_id": args.agent, "run_id": args.run}


def scope_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", "-u", help="user id")
    parser.add_argument("--agent", "-a", help="agent id")
    parser.add_argument("--run", "-r", help="run id")


def global_arguments(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options every command takes, before or after its name (``suppress``: the subcommand's copy,
    which must not overwrite a value given before the subcommand)."""
    default: dict[str, Any] = {"default": argparse.SUPPRESS} if suppress else {}
    flag: dict[str, Any] = {"default": argparse.SUPPRESS} if suppress else {"default": False}
    parser.add_argument("--path", help="store directory (default $MEMLAYER_HOME or ~/.memlayer)", **default)
    parser.add_argument("--store", metavar="URL", help="the database, e.g. postgresql://user:pass@host/db "
                        "(default $MEMLAYER_DATABASE_URL, else SQLite in --path)", **default)
    parser.add_argument("--embedder", help="embedder name (default: local all-MiniLM-L6-v2)", **default)
    parser.add_argument("--config", metavar="FILE.json", help="settings as a JSON object (Memory.from_config keys, or a mem0 config)",
                        **default)
    parser.add_argument("--json", action="store_true", help="machine-readable output", **flag)
    parser.add_argument("--debug", action="store_true", help="show full tracebacks", **flag)


def parse_json_option(name: str, value: str | None) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name} is not valid JSON ({exc.msg} at column {exc.colno}): {value!r}") from None


def time_option(value: str) -> str | float:
    """A time given on the command line: epoch seconds stay a number, anything else is read as ISO 8601
    (``to_utc`` checks it and names it when it is neither)."""
    try:
        return float(value)
    except ValueError:
        return value


def emit(args: argparse.Namespace, data: Any, render: Callable[[Any], str]) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str) if args.json else render(data))


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str, int]]) -> str:
    """A plain-text table; ``columns`` are (key, title, width)."""
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
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def short_time(iso: str | None) -> str:
    """``2026-01-02T03:04:05.678+00:00`` -> ``2026-01-02 03:04:05`` (UTC)."""
    return "" if not iso else iso.replace("T", " ")[:19]
