"""``memlayer serve --store postgresql://… --workers 2``: keys, tenants, the graph and a tenant reset on a
PostgreSQL store, with writes from another process found through the server at once."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from memlayer import Memory
from memlayer.embeddings.hashing import HashingEmbedder
from tests.server.harness import HASH_CONFIG, ServerProcess, child_env, cli_command


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli_command(*argv), capture_output=True, text=True, env=child_env(), timeout=120)


def create_key(url: str, tenant: str, scopes: str) -> str:
    out = cli("--store", url, "--path", ":memory:", "--json", "keys", "create", "--tenant", tenant, "--scopes", scopes)
    assert out.returncode == 0, out.stderr
    return str(json.loads(out.stdout)["key"])


@pytest.fixture
def served(tmp_path: Path, postgres_url: str) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    keys = {"acme": create_key(postgres_url, "acme", "read,write,admin"),
            "globex": create_key(postgres_url, "globex", "read,write")}
    listed = cli("--json", "keys", "list", "--store", postgres_url)  # the option after the command name too
    assert listed.returncode == 0, listed.stderr
    assert sorted(k["tenant"] for k in json.loads(listed.stdout)) == ["acme", "globex"]
    proc = ServerProcess(tmp_path / "host", args=("--store", postgres_url, "--workers", "2"))
    try:
        yield proc.start(timeout=180), keys
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.stop(30)
        proc.kill()


def test_two_workers_on_a_postgresql_store(served: tuple[ServerProcess, dict[str, str]], tmp_path: Path,
                                           postgres_url: str) -> None:
    proc, keys = served
    assert "WITHOUT authentication" not in proc.output()  # the keys made by `memlayer keys` are the server's

    def http(tenant: str) -> httpx.Client:  # a new connection each time: both workers serve
        return httpx.Client(base_url=proc.url, headers={"Authorization": f"Bearer {keys[tenant]}"}, timeout=60)

    for i in range(12):
        with http("acme") as acme:
            assert acme.post("/v1/memories", json={"messages": f"I work at Corp{i}.", "user_id": f"w{i}"}).is_success
    for i in range(12):
        with http("acme") as acme:
            rels = acme.get("/v1/graph/relations", params={"user_id": f"w{i}"}).json()["relations"]
            assert [r["destination"] for r in rels] == [f"Corp{i}"]  # each worker's graph follows the outbox
            assert len(acme.get("/v1/memories", params={"user_id": f"w{i}"}).json()["results"]) == 1
    with http("globex") as globex:
        assert globex.get("/v1/memories", params={"user_id": "w0"}).json()["results"] == []  # tenants apart
        globex.post("/v1/memories", json={"messages": "globex keeps this", "user_id": "w0", "infer": False})

    # another process (another host) writes to the database directly: the server finds it on its next search
    with Memory(str(tmp_path / "elsewhere"), store=postgres_url, embedder=HashingEmbedder(64), graph=False) as other:
        mid = other.add("written beside the server zebra", user_id="acme:w0", infer=False)["results"][0]["id"]
    for _ in range(4):
        with http("acme") as acme:
            hits = acme.post("/v1/search", json={"query": "written beside the server zebra", "user_id": "w0",
                                                 "limit": 3}).json()["results"]
            assert mid in {h["id"] for h in hits}

    with http("acme") as acme:  # a tenant reset lists the tenant's scopes in PostgreSQL (Store.scope_ids)
        out = acme.post("/v1/reset").json()
        assert out["deleted"] == 13 and out["scopes"] == 12
        assert acme.get("/v1/memories", params={"user_id": "w0"}).json() == {"results": []}
    with http("globex") as globex:
        kept = globex.get("/v1/memories", params={"user_id": "w0"}).json()["results"]
        assert [m["memory"] for m in kept] == ["globex keeps this"]


def test_serve_refuses_an_on_disk_graph_with_a_postgresql_store(tmp_path: Path, postgres_url: str) -> None:
    config = tmp_path / "oxigraph.json"
    config.write_text(json.dumps({**HASH_CONFIG, "graph": "oxigraph"}))
    out = cli("--path", str(tmp_path / "host"), "--config", str(config), "serve", "--store", postgres_url)
    assert out.returncode == 2 and "'provider': 'sparql'" in out.stderr, out.stderr


def test_cli_commands_take_the_store_option(tmp_path: Path, postgres_url: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from memlayer.cli import main

    config = tmp_path / "config.json"
    config.write_text(json.dumps({**HASH_CONFIG, "graph": False}))
    common = ["--store", postgres_url, "--path", str(tmp_path / "cli"), "--config", str(config), "--json"]
    assert main([*common, "add", "I drink green tea", "--user", "ann", "--no-infer"]) == 0
    capsys.readouterr()
    assert main([*common, "search", "green tea", "--user", "ann"]) == 0
    assert [r["memory"] for r in json.loads(capsys.readouterr().out)["results"]] == ["I drink green tea"]
    with Memory(str(tmp_path / "other"), store=postgres_url, embedder=HashingEmbedder(64), graph=False) as m:
        assert [r["memory"] for r in m.get_all(user_id="ann")["results"]] == ["I drink green tea"]
    # the default on-disk graph with a shared database: refused, naming what to use instead
    config.write_text(json.dumps(HASH_CONFIG))
    assert main([*common, "list", "--user", "ann"]) == 2
    assert "'provider': 'sparql'" in capsys.readouterr().err
