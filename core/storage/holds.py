"""Named holds (``Store.hold``): a lock tried again until it is had or the wait is over."""

from __future__ import annotations

import time
from collections.abc import Callable

RETRY_S = 0.05


def acquired(try_once: Callable[[], bool], wait_s: float) -> bool:
    """Whether ``try_once()`` succeeded, tried at once and then every ``RETRY_S`` until ``wait_s`` passed."""
    deadline = time.monotonic() + max(0.0, wait_s)
    while not try_once():
        if time.monotonic() >= deadline:
            return False
        time.sleep(RETRY_S)
    return True
