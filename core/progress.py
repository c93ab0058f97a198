"""The one progress bar (``bulk_add(progress=True)``, ``memlayer import``): on stderr, redrawn in place on a
terminal, one line per tenth otherwise, so logs of a CI job or a pipe stay readable. With no known total it
counts records and reports the rate (a line every ten seconds off a terminal).

(tqdm was considered: it has no mode that writes one plain line per tenth to a log, which the CLI tests
and CI logs rely on, so this small class stays.)"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int | None, label: str, *, stream: TextIO | None = None, width: int = 30) -> None:
        self.total = None if total is None else max(total, 0)
        self.label, self.width = label, width
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._started = self._drawn_at = time.monotonic()
        self._last_tenth = -1
        if self.total is not None:
            self._draw()

    def _line(self) -> str:
        if self.total is None:
            elapsed = time.monotonic() - self._started
            rate = f", {self.done / elapsed:,.0f}/s" if elapsed > 0 and self.done else ""
            return f"{self.label}: {self.done:,} records{rate}"
        share = self.done / self.total if self.total else 1.0
        filled = int(share * self.width)
        elapsed = time.monotonic() - self._started
        rate = f"{self.done / elapsed:.1f}/s" if elapsed > 0 and self.done else "-"
        bar = "#" * filled + "." * (self.width - filled)
        return f"{self.label} [{bar}] {self.done}/{self.total} {share:4.0%} {rate}"

    def _draw(self, final: bool = False) -> None:
        if self.total is None:
            now = time.monotonic()
            if final or now - self._drawn_at >= (0.5 if self._tty else 10.0):
                self._drawn_at = now
                self.stream.write(("\r" if self._tty else "") + self._line() + ("" if self._tty and not final else "\n"))
                self.stream.flush()
            return
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
        self.done = max(done, 0) if self.total is None else min(max(done, 0), self.total)
        self._draw()

    def close(self) -> None:
        if self.total is None:
            self._draw(final=True)
            return
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()
