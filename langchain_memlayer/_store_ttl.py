"""TTL for ``MemlayerStore``, on memlayer's memory lifetimes.

An item put with ``ttl`` (minutes, LangGraph's unit) is a memory with that TTL: it expires ``ttl`` after the
put, and a read that refreshes (``refresh_ttl``, by default ``ttl_config["refresh_on_read"]``) extends it to
``ttl`` after the read (``Memory.refresh``: never earlier than before, never an expired item). An item put
without one never expires (memlayer's own default TTLs do not apply to store items). ``ttl_config`` is
LangGraph's ``TTLConfig``: ``default_ttl``, ``refresh_on_read``, ``sweep_interval_minutes`` and
``omit_expired`` (False, LangGraph's default: an expired item stays readable until a sweep removes it;
True: it leaves reads at once, as memlayer's own reads do). A sweep (``sweep_ttl``, or every
``sweep_interval_minutes`` once ``start_ttl_sweeper()`` runs) forgets the store's expired items at once,
each with a history entry saying why; memlayer's own sweeps forget them too, after its grace period.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import math
import threading
from collections.abc import Callable, Generator, Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from memlayer.errors import AuthError, ConfigError, NotFoundError
from memlayer.kit import Op, Scope, ops
from memlayer.records import MemoryRecord

if TYPE_CHECKING:
    from langgraph.store.base import TTLConfig

log = logging.getLogger("langchain_memlayer.store")
TTL_KEYS = ("default_ttl", "refresh_on_read", "sweep_interval_minutes", "omit_expired")
DEFAULT_SWEEP_MINUTES = 5.0  # as LangGraph's SQL stores
Handler = Generator[Op[Any], Any, Any]


def _minutes(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} is a number of minutes greater than 0 (or None), got {value!r}")
    return float(value)


def check_ttl_config(ttl: Any) -> TTLConfig | None:
    """LangGraph's ``TTLConfig``, checked (a plain dict: LangGraph's code and tests change its keys)."""
    if ttl is None:
        return None
    if not isinstance(ttl, Mapping):
        raise ConfigError(f"ttl must be a LangGraph TTLConfig dict ({', '.join(TTL_KEYS)}), got {ttl!r}")
    unknown = sorted(set(ttl) - set(TTL_KEYS))
    if unknown:
        raise ConfigError(f"unknown ttl setting(s) {unknown}; a TTLConfig takes {', '.join(TTL_KEYS)}")
    _minutes(ttl.get("default_ttl"), "ttl default_ttl")
    _minutes(ttl.get("sweep_interval_minutes"), "ttl sweep_interval_minutes")
    for flag in ("refresh_on_read", "omit_expired"):
        if flag in ttl and not isinstance(ttl[flag], bool):
            raise ConfigError(f"ttl {flag} must be True or False, got {ttl[flag]!r}")
    return cast("TTLConfig", dict(ttl))


def lifetime(ttl_minutes: float | None) -> dict[str, Any]:
    """The ``add``/``update`` arguments for an item's TTL in minutes: a TTL in seconds, or never."""
    minutes = _minutes(ttl_minutes, "ttl")
    return {"expires_at": "never"} if minutes is None else {"ttl": minutes * 60.0}


class Sweeper:
    """A daemon thread calling ``sweep`` every interval until stopped (LangGraph's start/stop_ttl_sweeper)."""

    def __init__(self, sweep: Callable[[], int]) -> None:
        self._sweep = sweep
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, minutes: float) -> concurrent.futures.Future[None]:
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        future.add_done_callback(lambda f: self._stop.set() if f.cancelled() else None)
        if self._thread is not None and self._thread.is_alive():
            return future  # cancelling it stops the running sweeper
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(minutes * 60.0):
                try:
                    swept = self._sweep()
                except Exception:  # a failed sweep is retried at the next interval
                    log.exception("MemlayerStore TTL sweep failed")
                else:
                    if swept:
                        log.info("MemlayerStore swept %d expired items", swept)
            if not future.done():
                future.set_result(None)

        self._thread = threading.Thread(target=loop, daemon=True, name="memlayer-store-ttl-sweeper")
        self._thread.start()
        return future

    def stop(self, timeout: float | None = None) -> bool:
        thread = self._thread
        if thread is None or not thread.is_alive():
            return True
        self._stop.set()
        if thread is threading.current_thread():
            return False  # asked from the sweep itself: it ends after this round
        thread.join(timeout)
        if thread.is_alive():
            return False
        self._thread = None
        return True


def touch(touched: list[str], rows: Iterable[MemoryRecord], refresh: bool) -> None:
    """Note the rows a read returned whose TTL it refreshes (those that expire at all)."""
    if refresh:
        touched.extend(r.id for r in rows if r.expires_at is not None)


class StoreTTL:
    """The TTL half of ``MemlayerStore``: its settings, refreshes and sweeps (LangGraph's SQL stores' API)."""

    ttl_config: TTLConfig | None

    if TYPE_CHECKING:
        name: str

        def _drive(self, handler: Handler) -> Any: ...

        async def _adrive(self, handler: Handler) -> Any: ...

        def _read_scope(self, prefix: tuple[str, ...]) -> Scope: ...

    def _init_ttl(self, ttl: Any) -> None:
        self.ttl_config = check_ttl_config(ttl)
        self._sweeper = Sweeper(lambda: int(self._drive(self._sweep())))
        self._refusal_logged = False

    @property
    def _omit_expired(self) -> bool:
        return bool(self.ttl_config and self.ttl_config.get("omit_expired"))

    def _refresh(self, ids: list[str]) -> Handler:
        """Refresh what the batch's reads returned, in one call (one by one if one vanished meanwhile)."""
        try:
            yield ops.refresh(ids)
        except NotFoundError:
            for memory_id in ids:
                with contextlib.suppress(NotFoundError):
                    yield ops.refresh([memory_id])
        except AuthError as exc:  # a read-only key of a memlayer server: reads work, refreshes cannot
            if not self._refusal_logged:
                self._refusal_logged = True
                log.warning("MemlayerStore could not refresh TTLs on read (%s); items expire on their own time", exc)
        return None

    def _sweep(self) -> Handler:
        forgotten = yield ops.sweep(self._read_scope(()), filters={"lg_store": self.name}, grace_period=0)
        return forgotten

    def sweep_ttl(self) -> int:
        """Forget this store's expired items now (those a search of ``()`` reads); returns how many."""
        return int(self._drive(self._sweep()))

    async def asweep_ttl(self) -> int:
        return int(await self._adrive(self._sweep()))

    def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> concurrent.futures.Future[None]:
        """Sweep every ``sweep_interval_minutes`` (default: the ttl config's, else 5) on a daemon thread until
        ``stop_ttl_sweeper()``; without a ttl config there is nothing to sweep (a finished future)."""
        if not self.ttl_config:
            done: concurrent.futures.Future[None] = concurrent.futures.Future()
            done.set_result(None)
            return done
        minutes = sweep_interval_minutes or self.ttl_config.get("sweep_interval_minutes") or DEFAULT_SWEEP_MINUTES
        return self._sweeper.start(float(minutes))

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper thread; False when it did not stop within ``timeout`` seconds."""
        return self._sweeper.stop(timeout)

    def __del__(self) -> None:
        sweeper = getattr(self, "_sweeper", None)
        if sweeper is not None:
            sweeper.stop(timeout=0.1)
