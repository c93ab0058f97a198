"""Time as memlayer reads it: one injectable clock.

Everything that depends on "now" — when an add happened, whether a memory has expired, how old it is for
ranking and budgets, when the next sweep is due — asks the engine's clock, never the system time directly.
``Memory(clock=...)`` takes any object with a ``now()`` returning a datetime (or a plain callable); a
``ManualClock`` moves only when told, so tests and simulations advance time by hand instead of sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol, runtime_checkable

from .errors import ConfigError
from .types import to_utc


@runtime_checkable
class Clock(Protocol):
    """A source of the current time."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""


class SystemClock:
    """The machine's clock (the default)."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that only moves when told to: ``ManualClock("2025-06-02T09:00:00Z")``, then
    ``advance(days=3)`` or ``set("2025-07-01")``. Thread-safe. Without a start it begins at the system time."""

    def __init__(self, start: datetime | str | float | None = None) -> None:
        self._lock = threading.Lock()
        self._now = to_utc(start) or datetime.now(timezone.utc)

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime | str | float) -> datetime:
        """Jump to ``when`` (backwards too); returns the new time."""
        moved = to_utc(when)
        if moved is None:
            raise ConfigError("ManualClock.set() needs a time, got None")
        with self._lock:
            self._now = moved
            return moved

    def advance(self, seconds: float = 0.0, **parts: float) -> datetime:
        """Move forward by ``seconds`` plus any ``timedelta`` parts (``days=2, hours=3``); returns the new time."""
        try:
            step = timedelta(seconds=seconds, **parts)
        except TypeError as exc:
            raise ConfigError(f"ManualClock.advance() takes seconds and timedelta parts (days=, hours=...): {exc}") from None
        with self._lock:
            self._now += step
            return self._now

    def __repr__(self) -> str:
        return f"ManualClock({self.now().isoformat()!r})"


class _CallableClock:
    """A plain function returning the time (a datetime, an ISO string or epoch seconds)."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self._fn = fn

    def now(self) -> datetime:
        return _aware(self._fn())


class _CheckedClock:
    """Any object with ``now()``: its answer normalised to aware UTC (a naive datetime is read as UTC)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def now(self) -> datetime:
        return _aware(self.inner.now())


def _aware(value: Any) -> datetime:
    when = to_utc(value)
    if when is None:
        raise ConfigError("the configured clock returned None; it must return the current time")
    return when


def resolve_clock(spec: Any) -> Clock:
    """The clock a config value names: None or "system" (the machine's clock), a Clock-like object
    (anything with ``now()``) or a callable returning the time."""
    if spec is None or spec == "system":
        return SystemClock()
    if isinstance(spec, (SystemClock, ManualClock)):
        return spec
    if callable(getattr(spec, "now", None)):
        return _CheckedClock(spec)
    if callable(spec):
        return _CallableClock(spec)
    raise ConfigError(
        f"clock must be None, 'system', an object with now() or a callable returning the time, got {type(spec).__name__}"
    )


__all__ = ["Clock", "ManualClock", "SystemClock", "resolve_clock"]
