"""``memlayer serve`` (HTTP API + MCP), ``memlayer mcp`` (MCP over stdio) and ``memlayer keys`` (API keys)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..errors import ConfigError, missing_extra
from .base import command, emit, global_arguments, read_config, table, warn

DEFAULT_MCP_USER = "me"


def _server_modules() -> Any:
    try:
        from ..server import run, settings
    except ImportError as exc:
        root = (exc.name or "").split(".")[0]
        if root in ("fastapi", "starlette", "uvicorn", "mcp"):
            raise missing_extra("server", root) from exc
        raise
    return run, settings


def memory_config(args: argparse.Namespace) -> dict[str, Any]:
    """The store the global options name, as Memory.from_config keys."""
    config = dict(read_config(args.config) or {})
    if args.path:
        config["path"] = args.path
    if args.store:
        config["store"] = args.store
    if args.embedder:
        config["embedder"] = args.embedder
    return config


def _serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1; others need API keys)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    p.add_argument("--timeout", type=float, help="seconds an operation may take before 503 (default 60)")
    p.add_argument("--max-body", type=int, metavar="BYTES", help="largest request body (default 4 MiB)")
    p.add_argument("--rate-limit", type=float, metavar="PER_S", help="requests per second per key and worker")
    p.add_argument("--no-mcp", action="store_true", help="do not serve the MCP tools at /mcp")
    p.add_argument("--mcp-user", help="user id of MCP calls that name no scope (default 'default')")
    p.add_argument("--log-level", choices=["critical", "error", "warning", "info", "debug"], default="info")


SERVE_EPILOG = """\
  memlayer keys create --tenant acme        # prints a key once; send it as Authorization: Bearer <key>
  memlayer serve --port 8765                # API at http://127.0.0.1:8765/v1/..., docs at /docs, MCP at /mcp

Without keys the server answers only on loopback (127.0.0.1), unauthenticated, as tenant 'default'.
"""


@command("serve", "serve the store over HTTP (REST API at /v1, MCP at /mcp) with tenant API keys",
         _serve_arguments, epilog=SERVE_EPILOG)
def run_serve(args: argparse.Namespace) -> int:
    run, settings_module = _server_modules()
    settings = settings_module.ServerSettings.build(
        path=None, memory=memory_config(args), host=args.host, port=args.port, workers=args.workers,
        request_timeout_s=args.timeout, max_body_bytes=args.max_body, rate_limit=args.rate_limit,
        mcp=not args.no_mcp, mcp_user=args.mcp_user, log_level=args.log_level,
    )
    run.serve(settings)
    return 0


def _mcp_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--user", "-u", default=None,
                   help=f"user id of tool calls that name none (default $MEMLAYER_USER, else '{DEFAULT_MCP_USER}')")


@command("mcp", "serve the memory tools to an MCP host (Claude Desktop, Cursor, ...) over stdio", _mcp_arguments)
def run_mcp(args: argparse.Namespace) -> int:
    _server_modules()
    from ..memory import AsyncMemory
    from ..server.mcp import run_stdio

    user = args.user or os.environ.get("MEMLAYER_USER") or DEFAULT_MCP_USER
    run_stdio(AsyncMemory(config=memory_config(args)), user)
    return 0


def _keys_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="keys_action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a key for a tenant (printed once)")
    create.add_argument("--tenant", "-t", required=True, help="the tenant the key belongs to (letters, digits, ._-)")
    create.add_argument("--scopes", default="read,write", help="read, write, admin, comma-separated (default read,write)")
    create.add_argument("--name", help="a note to recognise the key by")
    listing = actions.add_parser("list", help="the keys: id, tenant, scopes, created, last used (never the key)")
    listing.add_argument("--tenant", "-t", help="only this tenant's keys")
    revoke = actions.add_parser("revoke", help="revoke a key by its id (from `keys list`)")
    revoke.add_argument("id", help="the key id")
    for sub in (create, listing, revoke):
        global_arguments(sub, suppress=True)


@command("keys", "create, list and revoke the server's API keys (stored hashed in the store)", _keys_arguments)
def run_keys(args: argparse.Namespace) -> int:
    from ..server.keys import KeyRing, open_meta_store

    store = open_meta_store(memory_config(args))
    if store is None:
        raise ConfigError("an in-memory store keeps no keys; give the server's --path")
    try:
        ring = KeyRing(store)
        if args.keys_action == "create":
            token, info = ring.create(args.tenant, args.scopes, name=args.name)
            data = {"key": token, **info.to_dict()}
            emit(args, data, lambda d: f"{d['key']}\n")
            warn(f"created key {info.id} for tenant {info.tenant!r} with scopes {','.join(info.scopes)}; "
                 "it is shown only now: store it safely")
        elif args.keys_action == "list":
            rows = [k.to_dict() for k in ring.list(args.tenant)]
            for r in rows:
                r["scopes"] = ",".join(r["scopes"])
            emit(args, rows, lambda rs: table(rs, [("id", "id", 12), ("tenant", "tenant", 16), ("scopes", "scopes", 16),
                                                   ("created_at", "created", 25), ("last_used_at", "last used", 25),
                                                   ("name", "name", 20)]))
        else:
            ring.revoke(args.id)
            emit(args, {"revoked": args.id}, lambda d: f"revoked key {d['revoked']}")
    finally:
        store.close()
    return 0
