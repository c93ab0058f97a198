"""Limits a real server enforces: a rate per key (429 + Retry-After, which the Client honours), an operation
timeout (503) that never cuts a write off half-way, and an LLM outage as 503."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from memlayer import Client

from .harness import HASH_CONFIG, ServerProcess, create_key

FACT = {"facts": [{"event": "ADD", "text": "User keeps bees"}], "relations": []}


def test_rate_limit_per_key(tmp_path: Path, server_factory: type[ServerProcess]) -> None:
    store = tmp_path / "store"
    store.mkdir()
    key, other = create_key(store, "acme"), create_key(store, "acme")
    proc = server_factory(store, args=("--rate-limit", "2")).start()
    with httpx.Client(base_url=proc.url, headers={"Authorization": f"Bearer {key}"}) as http:
        statuses = [http.get("/v1/whoami").status_code for _ in range(40)]
        limited = http.get("/v1/whoami")
    assert statuses.count(200) >= 20 and 429 in statuses  # a burst of 20, then 2 per second
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limited"
    assert httpx.get(proc.url + "/v1/whoami", headers={"Authorization": f"Bearer {other}"}).status_code == 200
    with Client(proc.url, key, retries=5) as client, httpx.Client(base_url=proc.url) as http:
        while http.get("/v1/whoami", headers={"Authorization": f"Bearer {key}"}).status_code != 429:
            pass  # drain the bucket again
        started = time.monotonic()
        assert client.whoami()["tenant"] == "acme"  # refused, waits as told, then succeeds
    assert time.monotonic() - started >= 0.4


def test_a_slow_operation_answers_503_and_still_completes(tmp_path: Path, server_factory: type[ServerProcess],
                                                          fake_openai, llm_config) -> None:
    from tests.fake_openai import Fault

    llm = {**llm_config, "config": {**llm_config["config"], "timeout": 30.0}}
    proc = server_factory(tmp_path / "store", config={**HASH_CONFIG, "llm": llm}, args=("--timeout", "1")).start()
    fake_openai.script_chat(Fault.slow(3, then=FACT))
    started = time.monotonic()
    slow = httpx.post(proc.url + "/v1/memories", json={"messages": "I keep bees.", "user_id": "u"}, timeout=30)
    assert slow.status_code == 503 and slow.json()["error"]["code"] == "timeout" and "retry-after" in slow.headers
    assert time.monotonic() - started < 2.5
    deadline = time.monotonic() + 15
    while not httpx.get(proc.url + "/v1/memories", params={"user_id": "u"}).json()["results"]:
        assert time.monotonic() < deadline, "the timed-out add never completed"
        time.sleep(0.2)
    assert [m["memory"] for m in httpx.get(proc.url + "/v1/memories", params={"user_id": "u"}).json()["results"]] == [
        "User keeps bees"]


def test_an_llm_outage_is_a_503(tmp_path: Path, server_factory: type[ServerProcess], fake_openai, llm_config) -> None:
    from tests.fake_openai import Fault

    proc = server_factory(tmp_path / "store", config={**HASH_CONFIG, "llm": llm_config}).start()
    fake_openai.script_chat(Fault.status(500, times=10))
    down = httpx.post(proc.url + "/v1/memories", json={"messages": "I keep bees.", "user_id": "u"}, timeout=60)
    assert down.status_code == 503 and down.json()["error"]["code"] == "llm_unavailable", down.text
    assert json.loads(down.text)["error"]["message"]
