"""Tenancy: every scope a caller names is stored inside its tenant's namespace.

A key belongs to one tenant. Before calling the core, the server maps each scope id to
``f"{tenant}:{id}"`` (user, agent and run alike, in scope arguments and in filters); everything it returns
has the prefix stripped again. Tenant names cannot hold the separator, so no id a caller can send reaches
another tenant's namespace. The local tenant (``memlayer mcp`` on the user's own store) has no prefix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..messages import make_scope

SEP = ":"
SCOPE_KEYS = ("user_id", "agent_id", "run_id")
TENANT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
DEFAULT_TENANT = "default"
_PREFIXED_OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin")


def check_tenant(name: Any) -> str:
    if not isinstance(name, str) or not TENANT_PATTERN.fullmatch(name):
        raise ConfigError(
            f"tenant names are 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit; got {name!r}"
        )
    return name


@dataclass(frozen=True)
class Tenant:
    """A namespace of scopes; ``name`` None is the local store itself (no prefix)."""

    name: str | None

    @property
    def prefix(self) -> str:
        return "" if self.name is None else self.name + SEP

    def scope(self, user_id: Any = None, agent_id: Any = None, run_id: Any = None, *,
              required: bool = True) -> dict[str, Any]:
        """The core's scope arguments for what the caller named (validated in the caller's terms first)."""
        checked = make_scope(user_id, agent_id, run_id, required=required).as_dict()
        return {k: None if v is None else self.prefix + v for k, v in checked.items()}

    def owns(self, record: Mapping[str, Any]) -> bool:
        """Whether every scope field of a stored record lies in this tenant (and at least one is set)."""
        values = [record.get(k) for k in SCOPE_KEYS]
        if all(v is None for v in values):
            return False
        return all(v is None or (isinstance(v, str) and v.startswith(self.prefix)) for v in values)

    def matches(self, record: Mapping[str, Any], wanted: Mapping[str, str | None]) -> bool:
        """Whether a stored record has every (already mapped) scope field the caller gave."""
        return all(record.get(k) == v for k, v in wanted.items() if v is not None)

    def strip(self, value: Any) -> Any:
        if isinstance(value, str) and self.prefix and value.startswith(self.prefix):
            return value[len(self.prefix):]
        return value

    def record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A memory, search hit or history event as the caller sees it (scope ids unprefixed)."""
        out = dict(record)
        for key in SCOPE_KEYS:
            if key in out:
                out[key] = self.strip(out[key])
        return out

    def records(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [self.record(r) for r in records]

    def filters(self, filters: Any) -> Any:
        """A filter with the values it compares scope fields to mapped into this tenant."""
        if not self.prefix or not isinstance(filters, Mapping):
            return filters
        out: dict[Any, Any] = {}
        for key, value in filters.items():
            if key in ("AND", "OR") and isinstance(value, list):
                out[key] = [self.filters(v) for v in value]
            elif key == "NOT":
                out[key] = self.filters(value)
            elif key in SCOPE_KEYS:
                out[key] = self._scope_condition(value)
            else:
                out[key] = value
        return out

    def _scope_condition(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.prefix + value
        if isinstance(value, Mapping):
            return {op: self._operand(v) if op in _PREFIXED_OPERATORS else v for op, v in value.items()}
        return value

    def _operand(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.prefix + value
        if isinstance(value, list):
            return [self.prefix + v if isinstance(v, str) else v for v in value]
        return value


LOCAL = Tenant(None)
