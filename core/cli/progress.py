"""A small progress bar on stderr (no dependency): redrawn in place on a terminal, one line per tenth
otherwise, so logs of a CI job or a pipe stay readable."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int, label: str, *, stream: TextIO | None = None, width: int = 30) -> None:
        self.total, self.label, self.width = max(total, 0), label, width
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._started = time.monotonic()
        self._last_tenth = -1
        self._draw()

    def _line(self) -> str:
        share = self.done / self.total if self.total else 1.0
        filled = int(share * self.width)
        elapsed = time.monotonic() - self._started
        rate = f"{self.done / elapsed:.1f}/s" if elapsed > 0 and self.done else "-"
        bar = "#" * filled + "." * (self.width - filled)
        return f"{self.label} [{bar}] {self.done}/{self.total} {share:4.0%} {rate}"

    def _draw(self) -> None:
        if self._tty:
            self.stream.write("\r" + self._line())
            self.stream.flush()
            return
        tenth = int(10 * self.done / self.total) if self.total else 10
        if tenth != self._last_tenth:
            self._last_tenth = tenth
            print(self._line(), file=self.stream, flush=True)

    def update(self, n: int = 1) -> None:
        self.set(self.done + n)

    def set(self, done: int) -> None:
        self.done = min(max(done, 0), self.total)
        self._draw()

    def close(self) -> None:
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()
