"""The memory operations as a tenant sees them, over the public API of ``AsyncMemory``.

Used by the HTTP routes and the MCP tools alike. Every scope a caller names goes into its tenant
(:mod:`memlayer.server.tenancy`); id-based calls first load the memory and answer "not found" unless
it lies in the caller's tenant (and in the scope the caller named, when it named one) — the same answer
as for an id that does not exist, so nothing tells a tenant that another's id is real.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from ..errors import ConfigError, ConflictError, MemlayerError, NotFoundError, ScopeError
from ..search.config import SearchConfig
from . import graphs
from .models import check_memory_id
from .tenancy import SCOPE_KEYS, Tenant

SEARCH_CONFIG_CAPS = {"candidates": 10_000, "context_pool": 10_000, "relation_limit": 1_000, "rrf_k": 1_000_000}
EXPORT_PAGE = 1_000_000_000


def parse_time(value: Any) -> Any:
    """Epoch seconds may come as a string (query parameters); ISO strings pass through to the core."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def parse_filters(text: str | None) -> dict[str, Any] | None:
    """The ``filters`` query parameter: a JSON object."""
    if text is None or text == "":
        return None
    from .jsonbody import loads

    try:
        value = loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"filters must be a JSON object: {exc.msg}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"filters must be a JSON object, got {type(value).__name__}")
    return value


def check_search_config(config: Any) -> Any:
    """A search config from the network: a preset or fields, with sizes capped so one call stays cheap."""
    if config is None or isinstance(config, str):
        return config
    parsed = SearchConfig.coerce(config)
    for name, cap in SEARCH_CONFIG_CAPS.items():
        if getattr(parsed, name) > cap:
            raise ConfigError(f"search config {name} may be at most {cap:,} on this server")
    return parsed


class MemoryService:
    def __init__(self, memory: Any) -> None:
        self.memory = memory

    # -- writes ---------------------------------------------------------------------------------
    async def add(self, tenant: Tenant, messages: Any, *, user_id: Any = None, agent_id: Any = None,
                  run_id: Any = None, metadata: Any = None, infer: bool = True, timestamp: Any = None,
                  expires_at: Any = None, ttl: Any = None) -> dict[str, Any]:
        scope = tenant.scope(user_id, agent_id, run_id)
        out: dict[str, Any] = await self.memory.add(_plain(messages), **scope, metadata=metadata, infer=infer,
                                                    timestamp=parse_time(timestamp),
                                                    expires_at=parse_time(expires_at), ttl=ttl)
        return out

    async def bulk_add(self, tenant: Tenant, records: Sequence[Mapping[str, Any]], *, batch_size: int = 1000) -> dict[str, Any]:
        mapped = []
        for i, record in enumerate(records):
            item = dict(record)
            try:
                item.update(tenant.scope(*(item.get(k) for k in SCOPE_KEYS)))
            except ScopeError as exc:
                raise ScopeError(f"record {i}: {exc}") from None
            if item.get("id") is not None:
                check_memory_id(item["id"], f"record {i}")
            mapped.append({k: v for k, v in item.items() if v is not None})
        given = [str(r["id"]) for r in mapped if "id" in r]
        if given:
            await asyncio.to_thread(self._refuse_own_ids, tenant, given)
        out: dict[str, Any] = await self.memory.bulk_add(mapped, batch_size=batch_size, progress=False)
        return out

    def _refuse_own_ids(self, tenant: Tenant, ids: list[str]) -> None:
        """A 409 naming the ids of this tenant's memories that an import gives again (a restore over what is
        still there); the core refuses ids held anywhere else as it writes each batch."""
        store = self.memory.store
        found = store.rows(list(store.rids_of(ids).values()))  # one read, not one per id
        taken = sorted(m.id for m in found.values() if tenant.owns({k: getattr(m, k) for k in SCOPE_KEYS}))
        if taken:
            raise ConflictError(
                f"you already have memories with the id(s) {taken[:5]}{' …' if len(taken) > 5 else ''}; nothing "
                "was imported. Leave 'id' out to give the memories new ids, or delete the existing ones first")

    async def update(self, tenant: Tenant, memory_id: str, text: str | None, metadata: Any = None, *,
                     expires_at: Any = None, ttl: Any = None, **scope: Any) -> dict[str, Any]:
        await self._owned(tenant, memory_id, scope)
        out: dict[str, Any] = await self.memory.update(memory_id, text, metadata, expires_at=parse_time(expires_at),
                                                       ttl=ttl)
        return out

    async def delete(self, tenant: Tenant, memory_id: str, **scope: Any) -> dict[str, Any]:
        await self._owned(tenant, memory_id, scope)
        out: dict[str, Any] = await self.memory.delete(memory_id)
        return out

    async def delete_all(self, tenant: Tenant, *, user_id: Any = None, agent_id: Any = None,
                         run_id: Any = None) -> dict[str, Any]:
        out: dict[str, Any] = await self.memory.delete_all(**tenant.scope(user_id, agent_id, run_id))
        return out

    async def reset(self, tenant: Tenant) -> dict[str, Any]:
        """Forget every scope of the tenant (the local tenant: the whole store)."""
        if tenant.name is None:
            await self.memory.reset()
            return {"deleted": 0, "scopes": 0, "message": "Erased the whole store"}
        ids = await asyncio.to_thread(self._scope_ids("reset", "forget each scope with delete_all"), tenant.prefix)
        deleted = scopes = 0
        for field in SCOPE_KEYS:
            for value in ids[field]:
                deleted += int((await self.memory.delete_all(**{field: value}))["deleted"])
                scopes += 1
        return {"deleted": deleted, "scopes": scopes, "message": f"Forgot {deleted} memories in {scopes} scopes"}

    # -- reads ----------------------------------------------------------------------------------
    async def search(self, tenant: Tenant, query: str, *, user_id: Any = None, agent_id: Any = None,
                     run_id: Any = None, limit: int = 10, filters: Any = None, threshold: float | None = None,
                     max_tokens: int | None = None, as_of: Any = None, include_expired: bool = False,
                     config: Any = None) -> dict[str, Any]:
        scope = tenant.scope(user_id, agent_id, run_id)
        out = await self.memory.search(
            query, **scope, limit=limit, filters=tenant.filters(filters), threshold=threshold, max_tokens=max_tokens,
            as_of=parse_time(as_of), include_expired=include_expired, config=check_search_config(config),
        )
        return {"results": tenant.records(out["results"]), "relations": list(out.get("relations") or [])}

    async def get(self, tenant: Tenant, memory_id: str, *, include_expired: bool = True,
                  **scope: Any) -> dict[str, Any]:
        return tenant.record(await self._owned(tenant, memory_id, scope, include_expired=include_expired))

    async def get_all(self, tenant: Tenant, *, user_id: Any = None, agent_id: Any = None, run_id: Any = None,
                      filters: Any = None, limit: int = 100, as_of: Any = None,
                      include_expired: bool = False) -> dict[str, Any]:
        out = await self.memory.get_all(**tenant.scope(user_id, agent_id, run_id), filters=tenant.filters(filters),
                                        limit=limit, as_of=parse_time(as_of), include_expired=include_expired)
        return {"results": tenant.records(out["results"])}

    async def history(self, tenant: Tenant, memory_id: str, **scope: Any) -> list[dict[str, Any]]:
        """A memory's events; [] for an id that is unknown or not the caller's (as ``Memory.history``)."""
        events: list[dict[str, Any]] = await self.memory.history(memory_id)
        wanted = _wanted(tenant, scope)
        if not events or not all(tenant.owns(e) and tenant.matches(e, wanted) for e in events):
            return []
        return tenant.records(events)

    async def scopes(self, tenant: Tenant, *, prefix: str | None = None, limit: int = 1000) -> dict[str, Any]:
        """The tenant's users, agents and runs with their counts (``Memory.scopes`` inside the tenant)."""
        found: dict[str, list[dict[str, Any]]] = await self.memory.scopes(prefix=tenant.prefix + (prefix or ""),
                                                                         limit=limit)
        return {kind: [{**item, "id": tenant.strip(item["id"])} for item in items] for kind, items in found.items()}

    async def export_memories(self, tenant: Tenant, *, include_expired: bool = False,
                              **scope: Any) -> AsyncIterator[str]:
        rows = await self.get_all(tenant, **scope, limit=EXPORT_PAGE, include_expired=include_expired)

        async def lines() -> AsyncIterator[str]:
            for row in rows["results"]:
                yield json.dumps(row, ensure_ascii=False) + "\n"

        return lines()

    # -- lifetimes ------------------------------------------------------------------------------
    async def refresh(self, tenant: Tenant, memory_ids: Sequence[str], *, ttl: Any = None,
                      **scope: Any) -> dict[str, Any]:
        for memory_id in dict.fromkeys(memory_ids):
            await self._owned(tenant, memory_id, scope)
        out: dict[str, Any] = await self.memory.refresh(list(memory_ids), ttl=ttl, **_wanted(tenant, scope))
        return out

    async def sweep(self, tenant: Tenant, *, user_id: Any = None, agent_id: Any = None, run_id: Any = None,
                    filters: Any = None, grace_period: Any = None) -> dict[str, Any]:
        """The local tenant sweeps the store (or a scope of it); a named tenant sweeps the scope it names, or
        each of its scopes. Recall counts are store-wide upkeep: a named tenant is not shown them."""
        named = [user_id, agent_id, run_id]
        if tenant.name is None:
            out: dict[str, Any] = await self.memory.sweep(user_id=user_id, agent_id=agent_id, run_id=run_id,
                                                          filters=filters, grace_period=grace_period)
            return out
        if any(v is not None for v in named):
            scopes = [tenant.scope(*named)]
        else:
            ids = await asyncio.to_thread(self._scope_ids(), tenant.prefix)
            scopes = [{field: value} for field in SCOPE_KEYS for value in ids[field]]
        total: dict[str, Any] = {"forgotten": 0, "closed": 0, "recalls": 0, "complete": True,
                                 "at": self.memory.engine.clock.now().isoformat()}
        for scope in scopes:
            out = await self.memory.sweep(**scope, filters=tenant.filters(filters), grace_period=grace_period)
            total.update(forgotten=total["forgotten"] + out["forgotten"], closed=total["closed"] + out["closed"],
                         complete=total["complete"] and out["complete"], at=out["at"])
        return total

    async def get_retention(self, tenant: Tenant, **scope: Any) -> dict[str, Any]:
        out: dict[str, Any] = await self.memory.get_retention(**tenant.scope(**scope))
        return out

    async def set_retention(self, tenant: Tenant, changes: Mapping[str, Any], **scope: Any) -> dict[str, Any]:
        """Set the policy fields in ``changes`` (the others stay as they are)."""
        out: dict[str, Any] = await self.memory.set_retention(**tenant.scope(**scope), **changes)
        return out

    # -- graph ----------------------------------------------------------------------------------
    async def relations(self, tenant: Tenant, query: str | None = None, *, as_of: Any = None,
                        include_expired: bool = False, limit: int = 50, **scope: Any) -> list[dict[str, Any]]:
        mapped = tenant.scope(**scope)
        return await asyncio.to_thread(graphs.relations, self.memory, mapped, query or None,
                                       as_of=parse_time(as_of), include_expired=include_expired, limit=limit)

    async def sparql(self, tenant: Tenant, query: str, bindings: dict[str, Any] | None = None,
                     **scope: Any) -> list[dict[str, Any]]:
        return await asyncio.to_thread(graphs.sparql, self.memory, tenant.scope(**scope), query, bindings)

    async def export_graph(self, tenant: Tenant, fmt: str, **scope: Any) -> str:
        return await asyncio.to_thread(graphs.export, self.memory, tenant.scope(**scope), fmt)

    # -- helpers --------------------------------------------------------------------------------
    def _scope_ids(self, what: str = "sweep", instead: str = "sweep each scope") -> Any:
        scope_ids = getattr(self.memory.store, "scope_ids", None)
        if scope_ids is None:
            raise ConfigError(f"this store cannot list a tenant's scopes, so a tenant {what} is not available on it; "
                              f"{instead}")
        return scope_ids

    async def _owned(self, tenant: Tenant, memory_id: str, scope: Mapping[str, Any], *,
                     include_expired: bool = True) -> dict[str, Any]:
        wanted = _wanted(tenant, scope)
        valid = isinstance(memory_id, str) and memory_id
        row = await self.memory.get(memory_id, include_expired=include_expired) if valid else None
        if row is None or not tenant.owns(row) or not tenant.matches(row, wanted):
            raise NotFoundError(f"no memory with id {memory_id!r}")
        return dict(row)


def _wanted(tenant: Tenant, scope: Mapping[str, Any]) -> dict[str, Any]:
    given = [scope.get(k) for k in SCOPE_KEYS]
    if all(v is None for v in given):
        return {}
    return tenant.scope(*given)


def _plain(messages: Any) -> Any:
    """Pydantic message models back to the dicts the core takes."""
    if isinstance(messages, list):
        return [_plain(m) for m in messages]
    dump = getattr(messages, "model_dump", None)
    if callable(dump):
        data: dict[str, Any] = dump(exclude_none=True)
        return data
    return messages


__all__ = ["MemlayerError", "MemoryService", "check_search_config", "parse_filters", "parse_time"]
