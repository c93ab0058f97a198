"""Waking idle processes: LISTEN for the notifications every log-writing commit sends, poll as the fallback.

Every transaction that appends to a change log also calls ``pg_notify(channel, log)``; PostgreSQL delivers
it at commit to every session listening on the channel. One thread per store holds a dedicated connection
(outside the pool) that LISTENs and calls the subscribers when a notification arrives, and every ``poll``
seconds anyway (a notification is lost while the connection is down, and a server may drop them). When the
connection breaks it reconnects with backoff, polling meanwhile. Subscribers only catch up; searches never
rely on a notification (they read the log's head themselves), so a late or lost one costs freshness of an
idle process, never correctness.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

log = logging.getLogger("memlayer.postgres")
WAKE_S = 1.0  # the longest a wait for notifications lasts: stop() is noticed by then even without its own

class Listener:
    def __init__(self, connect: Callable[[], Any], channel: str, poll_s: float,
                 wake: Callable[[str], None]) -> None:
        self._connect = connect
        self.channel = channel
        self.poll_s = poll_s
        self._wake_self = wake  # sends a notification on the channel (used to stop the thread at once)
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._lock = threading.Lock()
        self._firing = threading.RLock()  # held while subscribers run: unsubscribing waits for them
        self._stop = threading.Event()
        self._token = f"stop:{uuid.uuid4().hex}"
        self._thread: threading.Thread | None = None
        self.notified = 0  # notifications received (diagnostics, tests)

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        with self._lock:
            key = id(callback)
            self._callbacks[key] = callback
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="memlayer-pg-listen", daemon=True)
                self._thread.start()

        def unsubscribe() -> None:
            """Stop calling ``callback``; returns once a call of it in progress has finished."""
            with self._firing, self._lock:
                self._callbacks.pop(key, None)

        return unsubscribe

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is None:
            return
        with contextlib.suppress(Exception):  # the server is gone: the thread notices at its next timeout
            self._wake_self(self._token)
        thread.join(timeout=WAKE_S + 1)

    def _fire(self) -> None:
        with self._firing:
            with self._lock:
                callbacks = list(self._callbacks.values())
            for callback in callbacks:
                if self._stop.is_set():
                    return
                try:
                    callback()
                except Exception as exc:  # a subscriber's failure must not end the listening
                    log.warning("catching up after a change in the store failed: %s", exc)

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                conn = self._connect()
            except Exception as exc:
                log.info("cannot LISTEN for changes (%s); polling every %.1f s", exc, self.poll_s)
                self._fire()
                self._stop.wait(min(backoff, self.poll_s))  # (returns at once when stopped)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 0.5
            try:
                with conn:
                    conn.execute(f'LISTEN "{self.channel}"')
                    self._fire()  # whatever happened while nobody listened
                    self._listen(conn)
            except Exception as exc:
                if not self._stop.is_set():
                    log.info("the LISTEN connection broke (%s); reconnecting", exc)

    def _listen(self, conn: Any) -> None:
        next_poll = time.monotonic() + self.poll_s
        while not self._stop.is_set():
            wait = min(WAKE_S, max(0.0, next_poll - time.monotonic()))
            got = False
            for notify in conn.notifies(timeout=wait, stop_after=1):
                if notify.payload == self._token:
                    return
                got = True
            if got:
                self.notified += 1
                for notify in conn.notifies(timeout=0.0):  # drain what arrived meanwhile: one catch-up for all
                    if notify.payload == self._token:
                        return
            if got or time.monotonic() >= next_poll:
                self._fire()
                next_poll = time.monotonic() + self.poll_s
