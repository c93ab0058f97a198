"""Who is calling: the bearer key's tenant and scopes (or, open on loopback with no keys, the default tenant).

Scopes of a key: ``read`` (search, get, list, history, graph, export), ``write`` (add, update, delete,
delete_all, bulk), ``admin`` (everything, including reset of the tenant).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .errors import ApiError
from .keys import KeyInfo, KeyRing, digest
from .limits import RateLimiter
from .tenancy import DEFAULT_TENANT, Tenant

OPEN_CHECK_EVERY_S = 1.0  # how stale "are there keys?" may be (a new key closes an open server within this)
KEY_CACHE_S = 1.0  # how long a checked key is trusted without reading the store again (a revocation's delay)
BEARER_HINT = "send the key as 'Authorization: Bearer mlk_...' (memlayer keys create --tenant NAME makes one)"


@dataclass(frozen=True)
class Principal:
    tenant: Tenant
    key: KeyInfo | None  # None: open server, no key

    def allows(self, scope: str) -> bool:
        return self.key is None or self.key.allows(scope)

    def describe(self) -> dict[str, Any]:
        scopes = ["read", "write", "admin"] if self.key is None else list(self.key.scopes)
        return {"tenant": self.tenant.name, "scopes": scopes, "key_id": None if self.key is None else self.key.id,
                "open": self.key is None}


class Authenticator:
    def __init__(self, keys: KeyRing, *, may_open: bool, limiter: RateLimiter | None = None) -> None:
        self.keys, self.may_open, self.limiter = keys, may_open, limiter
        self._open: tuple[float, bool] = (0.0, False)
        self._checked: dict[str, tuple[float, KeyInfo | None]] = {}  # sha256 of a token -> (when, its record)

    async def is_open(self) -> bool:
        """Open: allowed by the settings (loopback) and no key exists in the store."""
        if not self.may_open:
            return False
        checked, value = self._open
        if time.monotonic() - checked > OPEN_CHECK_EVERY_S:
            value = not await asyncio.to_thread(self.keys.any)
            self._open = (time.monotonic(), value)
        return value

    async def principal(self, authorization: str | None) -> Principal:
        token = _bearer(authorization)
        if token is None:
            if await self.is_open():
                principal = Principal(Tenant(DEFAULT_TENANT), None)
                self._limit("open")
                return principal
            raise ApiError(401, "unauthorized", f"this server needs an API key: {BEARER_HINT}",
                           {"WWW-Authenticate": "Bearer"})
        info = await self._verify(token)
        if info is None:
            raise ApiError(401, "unauthorized", "the API key is not valid (unknown, malformed or revoked); "
                           + BEARER_HINT, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        self._limit(info.id)
        return Principal(Tenant(info.tenant), info)

    async def _verify(self, token: str) -> KeyInfo | None:
        """The key's record, read from the store at most once per KEY_CACHE_S per token and process."""
        name, now = digest(token), time.monotonic()
        hit = self._checked.get(name)
        if hit is not None and now - hit[0] < KEY_CACHE_S:
            return hit[1]
        info = await asyncio.to_thread(self.keys.verify, token)
        if len(self._checked) > 10_000:  # many distinct (bad) tokens: start over rather than grow
            self._checked.clear()
        self._checked[name] = (now, info)
        return info

    def _limit(self, key: str) -> None:
        if self.limiter is not None:
            self.limiter.check(key)


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", f"the Authorization header must be 'Bearer <key>'; {BEARER_HINT}",
                       {"WWW-Authenticate": "Bearer"})
    return token.strip()


# Declares the bearer scheme in the OpenAPI schema (the header itself is read and checked below).
BEARER = HTTPBearer(auto_error=False, description="an API key: memlayer keys create --tenant NAME")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


def requires(scope: str | None) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the caller, who must hold ``scope`` (403 otherwise; None: any valid key)."""

    async def dependency(request: Request, _: Credentials = None) -> Principal:
        auth: Authenticator = request.app.state.memlayer.auth
        principal = await auth.principal(request.headers.get("authorization"))
        if scope is not None and not principal.allows(scope):
            held = ", ".join(principal.key.scopes) if principal.key else "none"
            raise ApiError(403, "forbidden", f"this key's scopes are [{held}]; this call needs '{scope}' "
                           "(create a key with --scopes read,write or admin)")
        return principal

    dependency.__name__ = f"requires_{scope or 'key'}"
    return dependency
