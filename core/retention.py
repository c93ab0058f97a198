"""Memory lifetimes as data: how long memories stay current, how many a scope keeps, and how valuable each is.

* **Expiry**: a memory may carry ``expires_at``; once that time has passed it leaves ``search`` and
  ``get_all`` (it stays visible with ``include_expired`` and ``as_of``), and a sweep forgets it physically
  ``grace_period`` later, with a history entry saying why. A memory written with a TTL remembers it: a
  re-statement or ``refresh()`` extends its expiry to that long after.
* **Defaults**: ``RetentionConfig.ttl`` for the whole store, and per scope (``set_retention``) in the store's
  meta, so every process sees the same policy. A policy set on a partial scope (``user_id="alice"``) covers
  every scope it contains; the most specific one wins, field by field.
* **Budgets**: ``max_memories`` caps the current memories of each exact scope; past it, the least valuable
  (``value()`` below) are closed with a reason in their history, never silently dropped.

Durations are seconds, a ``timedelta``, or text such as ``"90s"``, ``"15m"``, ``"12h"``, ``"7d"``, ``"2w"``;
``"never"`` (or ``math.inf``) means no expiry.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import combinations
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .errors import ConfigError
from .types import Scope, iso, to_utc

DAY = 86_400.0
NEVER = math.inf  # a TTL (or policy value) meaning "no expiry" / "no cap"
POLICY_PREFIX = "retention:"
LAST_SWEEP_KEY = "sweep:last"
BUDGETS_CHECKED_KEY = "sweep:budgets"  # the caps every scope was last checked against, and when
MAX_TIME = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc).timestamp()  # the last second a time can be
BUDGET_RECHECK = DAY  # automatic sweeps check every scope's budget again after this long even if no cap changed


class _Keep:
    """``set_retention``'s default: an argument not given leaves that setting as it is."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": DAY, "w": 7 * DAY}
_DURATION = re.compile(
    r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|weeks?)?\s*$", re.I
)


def parse_duration(value: Any, name: str, *, allow_never: bool = True, allow_zero: bool = False) -> float | None:
    """Seconds from a number, a ``timedelta`` or text ("7d"); None stays None; "never"/inf is ``NEVER``."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in ("never", "inf", "infinite", "forever"):
        value = NEVER
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group("n")) * _UNITS[(m.group("unit") or "s")[0].lower()]
    else:
        raise ConfigError(f"{name} must be seconds, a timedelta or a duration like '7d' or '12h', got {value!r}")
    if math.isnan(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        raise ConfigError(f"{name} must be a positive duration, got {value!r}")
    if math.isinf(seconds) and not allow_never:
        raise ConfigError(f"{name} must be a finite duration, got {value!r}")
    if math.isfinite(seconds) and time.time() + seconds > MAX_TIME:
        raise ConfigError(f"{name} is too long: {value!r} ({seconds:g} seconds) from now ends after the year 9999; "
                          "give a shorter duration" + (", or 'never' for none" if allow_never else ""))
    return seconds


def expiry(when: float, ttl: float, name: str = "ttl") -> float:
    """``when`` plus ``ttl``, refused past the end of the year 9999 (the last time a datetime can hold)."""
    end = when + ttl
    if end > MAX_TIME:
        raise ConfigError(f"{name} of {ttl:g} seconds counted from {iso(when)} ends after the year 9999; give a "
                          "shorter one, or 'never' for no expiry")
    return end


@dataclass(frozen=True)
class Lifetime:
    """How long what one write says stays current: a fixed end, a TTL counted from the statement's time (kept
    with the memory so that refreshes extend it), or never. ``explicit``: the caller or the fact itself said
    so (it may shorten or clear an existing expiry); otherwise it is a default, which only ever extends one."""

    expires_at: float | None = None
    ttl: float | None = None
    explicit: bool = False

    def end(self, when: float) -> float | None:
        if self.expires_at is not None:
            return self.expires_at
        if self.ttl is None or math.isinf(self.ttl):
            return None
        return expiry(when, self.ttl, "ttl" if self.explicit else "the scope's default ttl (set_retention)")

    @property
    def kept_ttl(self) -> float | None:
        """The TTL a memory keeps for later refreshes (None with a fixed end or without expiry)."""
        return self.ttl if self.expires_at is None and self.ttl is not None and math.isfinite(self.ttl) else None


def lifetime_arg(expires_at: Any, ttl: Any) -> Lifetime | None:
    """The explicit lifetime ``add()``/``update()`` were given (None: not given)."""
    if expires_at is not None and ttl is not None:
        raise ConfigError("give expires_at= or ttl=, not both")
    if ttl is not None:
        return Lifetime(ttl=parse_duration(ttl, "ttl"), explicit=True)
    if expires_at is None:
        return None
    if isinstance(expires_at, str) and expires_at.strip().lower() == "never":
        return Lifetime(ttl=NEVER, explicit=True)
    if isinstance(expires_at, float) and math.isinf(expires_at):
        return Lifetime(ttl=NEVER, explicit=True)
    when = to_utc(expires_at)
    assert when is not None
    return Lifetime(expires_at=when.timestamp(), explicit=True)


def check_lifetime(lifetime: Lifetime | None, when: float, *, stated: bool = True) -> Lifetime | None:
    """A fixed expiry must come after the time the memory is stated (it would be born expired) or, for a
    change (not ``stated``), after now (it would lapse at once); a TTL counted from that time must end by the
    year 9999."""
    if lifetime is not None:
        lifetime.end(when)
    if lifetime is not None and lifetime.expires_at is not None and lifetime.expires_at <= when:
        end, since = iso(lifetime.expires_at), iso(when)
        if not stated:
            raise ConfigError(f"expires_at ({end}) is not after now ({since}); give a later expires_at or a ttl, or "
                              "delete() the memory to forget it now")
        raise ConfigError(f"expires_at ({end}) is not after the memory's time ({since}); give a later expires_at, "
                          "a ttl, or a timestamp before it")
    return lifetime


class ValueWeights(BaseModel):
    """The value score a budget ranks by (the least valuable are closed first)::

        value = recency * 0.5 ** (age / half_life)
              + reinforcement * min(1, log(1 + n) / log(1 + saturation))
              + importance * clamp(metadata[importance_key], 0, 1)

    ``age`` is the time since the memory was last written, re-stated or recalled; ``n`` how often it was
    re-stated or recalled; a memory without the metadata key counts as ``default_importance``. Ties go to
    the older memory.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    half_life: float = Field(30 * DAY, gt=0, description="seconds (or '30d') for the recency term to halve")
    recency: float = Field(1.0, ge=0)
    reinforcement: float = Field(1.0, ge=0)
    importance: float = Field(1.0, ge=0)
    saturation: int = Field(10, ge=1, description="re-statements/recalls at which the reinforcement term is full")
    importance_key: str = "importance"
    default_importance: float = Field(0.5, ge=0, le=1)

    @field_validator("half_life", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse_duration(value, "half_life", allow_never=False)


class RetentionConfig(BaseModel):
    """Store-wide lifetime settings (``Memory(retention={...})``); per-scope policies override ``ttl`` and
    ``max_memories`` (``Memory.set_retention``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ttl: float | None = Field(None, description="default TTL of new memories (None: they never expire)")
    max_memories: int | None = Field(None, ge=1, description="default cap of current memories per exact scope")
    grace_period: float = Field(30 * DAY, ge=0, description="expired memories are forgotten this long after")
    sweep_interval: float | None = Field(3600.0, description="automatic sweeps inside add() at most this often "
                                                             "(None: only Memory.sweep() / `memlayer sweep`)")
    sweep_batch: int = Field(1000, ge=1, description="memories forgotten per sweep transaction")
    track_recalls: bool = Field(True, description="count how often search returns each memory (batched writes)")
    recall_flush_interval: float = Field(60.0, ge=0, description="pending recalls are written at least this often")
    recall_flush_size: int = Field(1000, ge=1, description="... or once this many are pending")
    value: ValueWeights = Field(default_factory=ValueWeights)

    @field_validator("ttl", mode="before")
    @classmethod
    def _ttl(cls, value: Any) -> Any:
        seconds = parse_duration(value, "retention.ttl")
        return None if seconds is None or math.isinf(seconds) else seconds

    @field_validator("grace_period", "recall_flush_interval", mode="before")
    @classmethod
    def _span(cls, value: Any) -> Any:
        return parse_duration(value, "retention duration", allow_never=False, allow_zero=True)

    @field_validator("sweep_interval", mode="before")
    @classmethod
    def _interval(cls, value: Any) -> Any:
        seconds = parse_duration(value, "retention.sweep_interval", allow_zero=True)
        return None if seconds is None or math.isinf(seconds) else seconds

    @classmethod
    def coerce(cls, value: Any) -> RetentionConfig:
        if value is None:
            return cls()
        if isinstance(value, RetentionConfig):
            return value
        if isinstance(value, Mapping):
            return cls(**value)
        raise ConfigError(f"retention must be a RetentionConfig or a dict, got {type(value).__name__}")


# -- per-scope policies ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Policy:
    """A scope's own overrides: ``ttl`` seconds (NEVER: no expiry) and ``max_memories`` (NEVER: no cap);
    None where the scope sets nothing."""

    ttl: float | None = None
    max_memories: float | None = None

    def to_json(self) -> str:
        return json.dumps({k: ("never" if v == NEVER else v) for k, v in
                           (("ttl", self.ttl), ("max_memories", self.max_memories)) if v is not None})

    @classmethod
    def from_json(cls, text: str | None) -> Policy:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(*(None if data.get(k) is None else (NEVER if data[k] == "never" else float(data[k]))
                     for k in ("ttl", "max_memories")))

    @property
    def empty(self) -> bool:
        return self.ttl is None and self.max_memories is None


@dataclass(frozen=True)
class Effective:
    """The policy in force for one exact scope: its default TTL (None: never) and cap (None: none)."""

    ttl: float | None
    max_memories: int | None


def policy_key(scope: Scope) -> str:
    return POLICY_PREFIX + json.dumps([scope.user_id, scope.agent_id, scope.run_id], ensure_ascii=False)


def scope_of_key(key: str) -> Scope:
    user, agent, run = json.loads(key[len(POLICY_PREFIX):])
    return Scope(user, agent, run)


def covering(scope: Scope) -> list[Scope]:
    """The scopes whose policy may apply to exactly ``scope``, most specific first (more fields given; then
    user before agent before run)."""
    given = [(k, v) for k, v in scope.as_dict().items() if v is not None]
    out = []
    for size in range(len(given), 0, -1):
        for subset in combinations(given, size):
            out.append(Scope(**dict(subset)))
    return out


def effective(policies: Sequence[Policy], config: RetentionConfig) -> Effective:
    """Field by field, the first policy (most specific first) that sets it, else the store-wide setting."""
    ttl = next((p.ttl for p in policies if p.ttl is not None), None)
    cap = next((p.max_memories for p in policies if p.max_memories is not None), None)
    ttl = config.ttl if ttl is None else (None if math.isinf(ttl) else ttl)
    cap_int = config.max_memories if cap is None else (None if math.isinf(cap) else int(cap))
    return Effective(ttl, cap_int)


def policy_arg(ttl: Any, max_memories: Any, current: Policy, keep: object) -> Policy:
    """A scope's new policy from ``set_retention``'s arguments (``keep``: the argument was not given)."""
    new_ttl = current.ttl if ttl is keep else parse_duration(ttl, "ttl")
    if max_memories is keep:
        cap = current.max_memories
    elif max_memories is None:
        cap = None
    elif isinstance(max_memories, str) and max_memories.strip().lower() in ("unlimited", "never", "none"):
        cap = NEVER
    elif isinstance(max_memories, int) and not isinstance(max_memories, bool) and max_memories >= 1:
        cap = float(max_memories)
    else:
        raise ConfigError(f"max_memories must be a positive integer, 'unlimited' or None, got {max_memories!r}")
    return Policy(new_ttl, cap)


def describe(policy: Policy, eff: Effective) -> dict[str, Any]:
    """``get_retention``'s answer: what applies, and what the scope itself sets."""
    return {
        "ttl": eff.ttl, "max_memories": eff.max_memories,
        "own": {"ttl": None if policy.ttl is None else ("never" if math.isinf(policy.ttl) else policy.ttl),
                "max_memories": None if policy.max_memories is None else
                ("unlimited" if math.isinf(policy.max_memories) else int(policy.max_memories))},
    }


# -- value and decay (shared by budgets and ranking) ----------------------------------------------------
def decay(age_s: float, half_life_s: float) -> float:
    """0.5 ** (age / half_life), 1 for an age of 0 or less."""
    return 1.0 if age_s <= 0 else 0.5 ** (age_s / half_life_s)


def reinforcement(count: int, saturation: int) -> float:
    """log(1 + n) / log(1 + saturation), at most 1."""
    return 0.0 if count <= 0 else min(1.0, math.log1p(count) / math.log1p(saturation))


def importance_of(metadata: Mapping[str, Any], weights: ValueWeights) -> float:
    raw = metadata.get(weights.importance_key)
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or math.isnan(float(raw)):
        return weights.default_importance
    return min(1.0, max(0.0, float(raw)))


def value(fresh_at: float, count: int, metadata: Mapping[str, Any], now: float, weights: ValueWeights) -> float:
    """The documented value score (see ``ValueWeights``)."""
    return (weights.recency * decay(now - fresh_at, weights.half_life)
            + weights.reinforcement * reinforcement(count, weights.saturation)
            + weights.importance * importance_of(metadata, weights))
