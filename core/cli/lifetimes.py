"""Lifetime commands: ``sweep`` (forget what expired, enforce budgets) and ``retention`` (a scope's policy)."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import ConfigError
from .base import command, emit, open_memory, scope_arguments, scope_of


def _sweep_arguments(p: argparse.ArgumentParser) -> None:
    scope_arguments(p)
    p.add_argument("--grace-period", help="forget memories expired at least this long ago (0: all expired ones) "
                                          "instead of after the store's grace period: 0, 12h, 7d")


@command("sweep", "forget memories expired past the grace period and enforce budgets (safe to run any time, "
                  "e.g. from cron); with --user/--agent/--run only that scope's", _sweep_arguments)
def run_sweep(args: argparse.Namespace) -> int:
    with open_memory(args) as m:
        out = m.sweep(**scope_of(args), grace_period=args.grace_period)
    emit(args, out, lambda d: (
        f"forgot {d['forgotten']} expired memories, closed {d['closed']} over budget, "
        f"wrote {d['recalls']} recall counts" + ("" if d["complete"] else " (more to do: run it again)")))
    return 0


def _retention_arguments(p: argparse.ArgumentParser) -> None:
    scope_arguments(p)
    p.add_argument("--ttl", help="default TTL of the scope's new memories: 7d, 12h, 3600, 'never', or 'none' "
                                 "to fall back to the store's setting")
    p.add_argument("--max-memories", help="cap of current memories per exact scope: a number, 'unlimited', or "
                                          "'none' to fall back to the store's setting")


def _value(raw: str | None, *, integer: bool = False) -> Any:
    if raw is None or raw.strip().lower() == "none":
        return None
    if integer and raw.strip().isdigit():
        return int(raw)
    if integer and raw.strip().lower() not in ("unlimited", "never"):
        raise ConfigError(f"--max-memories must be a number, 'unlimited' or 'none', got {raw!r}")
    return raw


@command("retention", "show or set a scope's lifetime policy (default TTL, cap of current memories)",
         _retention_arguments,
         epilog="examples:\n  memlayer retention --user me --ttl 30d --max-memories 1000\n"
                "  memlayer retention --user me                 # what applies, and what the scope sets itself")
def run_retention(args: argparse.Namespace) -> int:
    changes: dict[str, Any] = {}
    if args.ttl is not None:
        changes["ttl"] = _value(args.ttl)
    if args.max_memories is not None:
        changes["max_memories"] = _value(args.max_memories, integer=True)
    with open_memory(args) as m:
        out = m.set_retention(**scope_of(args), **changes) if changes else m.get_retention(**scope_of(args))

    def render(d: dict[str, Any]) -> str:
        ttl = "never" if d["ttl"] is None else f"{d['ttl']:g} s"
        cap = "none" if d["max_memories"] is None else str(d["max_memories"])
        own = ", ".join(f"{k}={v}" for k, v in d["own"].items() if v is not None) or "nothing (store settings apply)"
        return f"default ttl: {ttl}\nmax memories: {cap}\nset by this scope: {own}"

    emit(args, out, render)
    return 0
