"""The server under load, killed and stopped: nothing acknowledged is ever lost, and no answer is a 5xx."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from .harness import ServerProcess, create_key
from .load import run_load, stored_ids

LOAD_SECONDS = float(os.environ.get("MEMLAYER_LOAD_SECONDS", "60"))


def _assert_all_present(proc: ServerProcess, key: str, acked: dict[str, set[str]]) -> int:
    stored = stored_ids(proc.url, key, sorted(acked))
    lost = {u: ids - stored[u] for u, ids in acked.items() if ids - stored[u]}
    assert not lost, f"acknowledged adds lost: {sum(map(len, lost.values()))} ({lost})"
    return sum(len(ids) for ids in acked.values())


@pytest.mark.slow
def test_50_clients_for_60_seconds(tmp_path: Path, server_factory: type[ServerProcess]) -> None:
    store = tmp_path / "store"
    store.mkdir()
    key = create_key(store, "acme")
    proc = server_factory(store).start()
    result = asyncio.run(run_load(proc.url, key, clients=50, seconds=LOAD_SECONDS))
    assert result.transport_errors == 0
    assert set(result.statuses) == {200}, dict(result.statuses)
    total = _assert_all_present(proc, key, result.acked)
    assert total > 100 and result.searches > 100, (total, result.searches)


def test_kill_9_mid_load_loses_no_acknowledged_add(tmp_path: Path, server_factory: type[ServerProcess]) -> None:
    store = tmp_path / "store"
    store.mkdir()
    key = create_key(store, "acme")
    proc = server_factory(store).start()

    async def load_then_kill() -> dict[str, set[str]]:
        stop = asyncio.Event()
        task = asyncio.create_task(run_load(proc.url, key, clients=12, seconds=60, stop=stop))
        await asyncio.sleep(4)
        proc.kill()  # SIGKILL, mid-request
        stop.set()
        return (await task).acked

    acked = asyncio.run(load_then_kill())
    assert sum(map(len, acked.values())) > 20
    restarted = server_factory(store, port=proc.port).start()
    _assert_all_present(restarted, key, acked)


def test_sigterm_mid_load_finishes_what_it_started(tmp_path: Path, server_factory: type[ServerProcess]) -> None:
    store = tmp_path / "store"
    store.mkdir()
    key = create_key(store, "acme")
    proc = server_factory(store).start()

    async def load_then_stop() -> tuple[dict[str, set[str]], dict[int, int]]:
        stop = asyncio.Event()
        task = asyncio.create_task(run_load(proc.url, key, clients=12, seconds=60, stop=stop))
        await asyncio.sleep(4)
        assert proc.proc is not None
        proc.proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        while proc.proc.poll() is None and time.monotonic() - started < 60:
            await asyncio.sleep(0.05)
        stop.set()
        result = await task
        return result.acked, dict(result.statuses)

    acked, statuses = asyncio.run(load_then_stop())
    assert proc.proc is not None and proc.proc.wait(5) in (0, -signal.SIGTERM), proc.output()
    wal = store / "memlayer.db-wal"  # closing the store checkpoints its WAL: the shutdown ran to its end
    assert not wal.exists() or wal.stat().st_size == 0, "the store was not closed"
    assert all(status < 500 for status in statuses), statuses
    restarted = server_factory(store, port=proc.port).start()
    _assert_all_present(restarted, key, acked)
