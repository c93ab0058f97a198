"""API keys: created once, stored hashed in the store's meta table, checked on every request.

A key is ``mlk_<id>_<secret>``: ``id`` (12 hex digits) names the record, ``secret`` is 256 random bits.
Only the SHA-256 of the whole key is stored (a random 256-bit secret needs no slow KDF: nobody can guess
it, so there is nothing to brute-force offline); the check looks the record up by id and compares the
digests with ``hmac.compare_digest`` (constant time). Keys live in the SQLite meta table, so every
server process and host sharing the store sees a new or revoked key at its next request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from ..config import IN_MEMORY, load_config
from ..errors import ConfigError, NotFoundError
from ..types import iso
from .tenancy import check_tenant

KEY_PREFIX = "server.key:"
USED_PREFIX = "server.key_used:"
SCOPES = ("read", "write", "admin")
DEFAULT_SCOPES = ("read", "write")
TOUCH_EVERY_S = 60.0  # last-used times are written at most this often per key and process
_TOKEN = re.compile(r"mlk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")


class MetaStore(Protocol):
    """What the key ring needs of a store (``SQLiteStore`` has it)."""

    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def delete_meta(self, key: str) -> None: ...
    def meta_items(self, prefix: str) -> dict[str, str]: ...


@dataclass(frozen=True)
class KeyInfo:
    """A key as listed: never the key itself."""

    id: str
    tenant: str
    scopes: tuple[str, ...]
    created_at: str | None
    last_used_at: str | None = None
    name: str | None = None

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "tenant": self.tenant, "scopes": list(self.scopes), "name": self.name,
                "created_at": self.created_at, "last_used_at": self.last_used_at}


def check_scopes(scopes: Any) -> tuple[str, ...]:
    """Key scopes as given on the command line ("read,write") or as a list; unknown ones are an error."""
    items = scopes.split(",") if isinstance(scopes, str) else list(scopes or ())
    wanted = [s.strip() for s in items if isinstance(s, str) and s.strip()]
    unknown = sorted(set(wanted) - set(SCOPES))
    if unknown or not wanted:
        raise ConfigError(f"key scopes are one or more of {', '.join(SCOPES)}; got {scopes!r}")
    return tuple(s for s in SCOPES if s in wanted)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class KeyRing:
    """Create, list, revoke and verify the API keys of one store."""

    def __init__(self, store: MetaStore) -> None:
        self.store = store
        self._touched: dict[str, float] = {}
        self._lock = threading.Lock()

    def create(self, tenant: str, scopes: Any = DEFAULT_SCOPES, *, name: str | None = None) -> tuple[str, KeyInfo]:
        """A new key for ``tenant``: (the key, shown once, and its record)."""
        tenant = check_tenant(tenant)
        granted = check_scopes(scopes)
        key_id = secrets.token_hex(6)
        token = f"mlk_{key_id}_{secrets.token_urlsafe(32)}"
        record = {"tenant": tenant, "scopes": list(granted), "name": name, "created": time.time(),
                  "sha256": digest(token)}
        self.store.set_meta(KEY_PREFIX + key_id, json.dumps(record))
        return token, self._info(key_id, record, None)

    def list(self, tenant: str | None = None) -> list[KeyInfo]:
        used = self.store.meta_items(USED_PREFIX)
        out = []
        for key, value in self.store.meta_items(KEY_PREFIX).items():
            key_id = key[len(KEY_PREFIX):]
            record = json.loads(value)
            if tenant is None or record["tenant"] == tenant:
                out.append(self._info(key_id, record, used.get(USED_PREFIX + key_id)))
        return sorted(out, key=lambda k: (k.created_at or "", k.id))

    def revoke(self, key_id: str) -> None:
        if self.store.get_meta(KEY_PREFIX + key_id) is None:
            raise NotFoundError(f"no API key with id {key_id!r}; `memlayer keys list` shows the ids")
        self.store.delete_meta(KEY_PREFIX + key_id)
        self.store.delete_meta(USED_PREFIX + key_id)

    def any(self) -> bool:
        return bool(self.store.meta_items(KEY_PREFIX))

    def verify(self, token: str) -> KeyInfo | None:
        """The key's record when ``token`` is a valid, unrevoked key; else None."""
        match = _TOKEN.fullmatch(token.strip())
        if match is None:
            return None
        key_id = match.group(1)
        raw = self.store.get_meta(KEY_PREFIX + key_id)
        if raw is None:
            return None
        record = json.loads(raw)
        if not hmac.compare_digest(digest(match.group(0)), str(record.get("sha256", ""))):
            return None
        self._touch(key_id)
        return self._info(key_id, record, None)

    def _touch(self, key_id: str) -> None:
        now = time.time()
        with self._lock:
            if now - self._touched.get(key_id, 0.0) < TOUCH_EVERY_S:
                return
            self._touched[key_id] = now
        self.store.set_meta(USED_PREFIX + key_id, repr(now))

    @staticmethod
    def _info(key_id: str, record: dict[str, Any], used: str | None) -> KeyInfo:
        return KeyInfo(
            id=key_id, tenant=str(record["tenant"]), scopes=tuple(record.get("scopes") or ()),
            created_at=iso(record.get("created")), last_used_at=None if used is None else iso(float(used)),
            name=record.get("name"),
        )


def open_meta_store(memory_config: dict[str, Any]) -> Any:
    """The store a config names, without the embedder, vectors or graph (for keys, and for checks while a
    server holds the graph); None for an in-memory store."""
    from ..storage import open_store

    config = load_config(memory_config)
    directory = config.resolved_path()
    if config.store is None and directory == IN_MEMORY:
        return None
    return open_store(config.store, None if directory == IN_MEMORY else directory)
