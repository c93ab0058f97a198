"""Plain data shapes shared by the core and its providers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Literal

from .errors import ConfigError

Event = Literal["ADD", "UPDATE", "DELETE", "NONE"]
EVENTS: tuple[Event, ...] = ("ADD", "UPDATE", "DELETE", "NONE")


@dataclass(frozen=True)
class Scope:
    """Who a memory belongs to. A search constrains every field that is given."""

    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None

    def is_empty(self) -> bool:
        return self.user_id is None and self.agent_id is None and self.run_id is None

    def as_dict(self) -> dict[str, str | None]:
        return {"user_id": self.user_id, "agent_id": self.agent_id, "run_id": self.run_id}

    def key(self) -> str:
        """A stable string naming exactly this scope (used for graph names, logs)."""
        return "|".join(f"{k}={v}" for k, v in self.as_dict().items() if v is not None)


@dataclass(frozen=True)
class Message:
    role: str
    content: str
    name: str | None = None
    # Per-message metadata (add(infer=False) merges it over the call's metadata for that memory).
    metadata: dict[str, Any] | None = field(default=None, hash=False, compare=False)


@dataclass
class Usage:
    """LLM cost of one operation."""

    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, other: Usage) -> None:
        self.llm_calls += other.llm_calls
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, int]:
        return {
            "llm_calls": self.llm_calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True)
class Relation:
    """A directed, typed edge between two named entities: Sarah -WORKS_AT-> Google."""

    source: str
    relationship: str
    destination: str
    source_type: str | None = None
    destination_type: str | None = None


@dataclass(frozen=True)
class ExistingMemory:
    """A current memory shown to an extractor. ``ref`` is the small integer the LLM sees."""

    ref: int
    id: str
    text: str
    attribute: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Decision:
    """What to do with one fact. ``target`` is an ExistingMemory.ref for UPDATE/DELETE/NONE.
    ``expires_at``: when a time-bound fact stops being true ("this week", "until Friday"), if it says so."""

    event: Event
    text: str
    target: int | None = None
    attribute: str | None = None
    expires_at: datetime | None = None


@dataclass
class Extraction:
    """The single answer of an extractor for one add()."""

    decisions: list[Decision] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def to_utc(value: datetime | str | float | int | None) -> datetime | None:
    """Normalise a user-given time (aware/naive datetime, ISO string, epoch seconds) to aware UTC."""
    if value is None:
        return None
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), tz=timezone.utc)
        if isinstance(value, str):
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError) as exc:
        raise ConfigError(f"{value!r} is not a time: {exc}") from None
    if not isinstance(value, datetime):
        raise ConfigError(f"a time must be a datetime, an ISO 8601 string or epoch seconds, got {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # 9999-12-31T23:00-14:00 is a time in the year 10000, 0001-01-01T00:00+14:00 in year 0
        raise ConfigError(f"{value.isoformat()!r} is not a time memlayer can hold: in UTC it falls outside the years "
                          "1 to 9999; give a time inside them") from None


#: how far a write's ``timestamp`` may lie ahead of the clock (skew between a client's clock and the server's):
#: up to this it is taken as the present; beyond it the write is refused
CLOCK_SKEW_S = 300.0


def said_at(value: datetime | str | float | int | None, now: datetime) -> datetime | None:
    """A write's ``timestamp`` (when what it writes was said: its memories' ``valid_from``) as aware UTC, or None.

    A time up to ``CLOCK_SKEW_S`` ahead of ``now`` counts as ``now``; a later one is a ``ConfigError``: a memory
    valid only from a future time would be current for ``search()``/``get_all()`` while ``as_of=now`` says it is
    not valid yet. A fact about the future ("we fly to Lisbon in June") is said now (and may lapse: ``expires_at``)."""
    when = to_utc(value)
    if when is None or when <= now:
        return when
    if (when - now).total_seconds() <= CLOCK_SKEW_S:
        return now
    raise ConfigError(f"timestamp {when.isoformat()} is in the future (the clock says {now.isoformat()}): a "
                      "timestamp is when the messages were said, at the latest now; to say when a memory lapses, "
                      "pass expires_at or ttl")


def iso(ts: float | None) -> str | None:
    return None if ts is None else _iso(ts)


@lru_cache(maxsize=8192)  # a memory's created/updated/valid_from times are usually one and the same
def _iso(ts: float) -> str:
    try:
        return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()
    except (OverflowError, ValueError, OSError):  # a time stored beyond what a datetime holds reads as its bound
        return (datetime.max if ts > 0 else datetime.min).replace(tzinfo=timezone.utc).isoformat()
