"""Concurrent HTTP clients adding and searching, recording every acknowledged add (for the load, crash and
shutdown tests)."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx


@dataclass
class LoadResult:
    acked: dict[str, set[str]] = field(default_factory=dict)  # user -> ids of memories whose add was answered 200
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0
    searches: int = 0


async def client_loop(url: str, key: str, user: str, until: float, result: LoadResult, rng: random.Random,
                      stop: asyncio.Event) -> None:
    acked = result.acked.setdefault(user, set())
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
        n = 0
        while time.monotonic() < until and not stop.is_set():
            n += 1
            try:
                if rng.random() < 0.5:
                    infer = rng.random() < 0.3
                    text = f"I live in City{user}x{n}." if infer else f"{user} note {n} {rng.random():.6f}"
                    r = await http.post("/v1/memories", json={"messages": text, "user_id": user, "infer": infer})
                    if r.status_code == 200:
                        acked.update(x["id"] for x in r.json()["results"] if x["event"] in ("ADD", "UPDATE"))
                else:
                    r = await http.post("/v1/search", json={"query": f"note {rng.randrange(n)}", "user_id": user,
                                                            "limit": 5})
                    if r.status_code == 200:
                        result.searches += 1
                result.statuses[r.status_code] += 1
            except httpx.HTTPError:
                result.transport_errors += 1
                if stop.is_set():
                    return
                await asyncio.sleep(0.05)


async def run_load(url: str, key: str, clients: int, seconds: float, stop: asyncio.Event | None = None,
                   seed: int = 0) -> LoadResult:
    result = LoadResult()
    stop = stop or asyncio.Event()
    until = time.monotonic() + seconds
    rng = random.Random(seed)
    await asyncio.gather(*(client_loop(url, key, f"c{i}", until, result, random.Random(rng.random()), stop)
                           for i in range(clients)))
    return result


def stored_ids(url: str, key: str, users: list[str]) -> dict[str, set[str]]:
    """Every current memory id per user (after a restart: what survived)."""
    out: dict[str, set[str]] = {}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
        for user in users:
            rows = http.get("/v1/memories", params={"user_id": user, "limit": 1_000_000, "include_expired": "true"})
            assert rows.status_code == 200, rows.text
            out[user] = {m["id"] for m in rows.json()["results"]}
    return out
