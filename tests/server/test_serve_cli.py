"""``memlayer serve`` / ``keys`` as a user runs them: open on loopback, refusal elsewhere, keys, workers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from memlayer.cli import main

from .harness import HASH_CONFIG, ServerProcess, child_env, cli_command, create_key


def run_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli_command(*argv), capture_output=True, text=True, env=child_env(), timeout=120)


def test_keys_create_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(tmp_path / "store")
    assert main(["--path", store, "--json", "keys", "create", "--tenant", "acme", "--scopes", "read,admin",
                 "--name", "ci"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["key"].startswith("mlk_") and created["scopes"] == ["read", "admin"] and created["name"] == "ci"
    assert main(["keys", "list", "--path", store]) == 0
    listing = capsys.readouterr().out
    assert created["id"] in listing and "acme" in listing and created["key"] not in listing
    raw = (tmp_path / "store" / "memlayer.db").read_bytes()
    assert created["key"].encode() not in raw  # stored hashed, never in plain text
    assert main(["--path", store, "keys", "revoke", created["id"]]) == 0
    assert main(["--path", store, "keys", "revoke", created["id"]]) == 2
    assert "no API key with id" in capsys.readouterr().err
    for bad in (["--tenant", "a:b"], ["--tenant", "acme", "--scopes", "root"], ["--tenant", ""]):
        assert main(["--path", store, "keys", "create", *bad]) == 2


def test_refuses_a_public_interface_without_keys(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path / "store", host="0.0.0.0")
    out = subprocess.run(proc.command(), capture_output=True, text=True, env=child_env(), timeout=120)
    assert out.returncode == 2 and "without API keys" in out.stderr and "memlayer keys create" in out.stderr
    workers = subprocess.run(cli_command("--path", ":memory:", "serve", "--workers", "2"), capture_output=True,
                             text=True, env=child_env(), timeout=120)
    assert workers.returncode == 2 and "in-memory store" in workers.stderr


def test_public_interface_with_keys(tmp_path: Path, server_factory: type[ServerProcess]) -> None:
    store = tmp_path / "store"
    store.mkdir()
    key = create_key(store, "acme")
    proc = server_factory(store, host="0.0.0.0").start()
    assert httpx.get(proc.url + "/v1/whoami").status_code == 401
    me = httpx.get(proc.url + "/v1/whoami", headers={"Authorization": f"Bearer {key}", "Host": "memory.example.com"})
    assert me.json()["tenant"] == "acme"  # with keys, any Host name is served


def test_open_on_loopback_until_a_key_exists(tmp_path: Path, server_factory: type[ServerProcess]) -> None:
    store = tmp_path / "store"
    proc = server_factory(store).start()
    assert "WITHOUT authentication" in proc.output()
    added = httpx.post(proc.url + "/v1/memories", json={"messages": "open fact", "user_id": "me", "infer": False})
    assert added.status_code == 200
    assert httpx.get(proc.url + "/v1/whoami").json() == {"tenant": "default", "scopes": ["read", "write", "admin"],
                                                        "key_id": None, "open": True}
    rebinding = httpx.get(proc.url + "/v1/whoami", headers={"Host": "evil.example:8765"})
    assert rebinding.status_code == 403  # a page on another name cannot reach an open server (DNS rebinding)
    key = create_key(store, "default")
    deadline = time.monotonic() + 10
    while httpx.get(proc.url + "/v1/whoami").status_code != 401:
        assert time.monotonic() < deadline, "the server stayed open after a key was created"
        time.sleep(0.2)
    kept = httpx.get(proc.url + "/v1/memories", params={"user_id": "me"}, headers={"Authorization": f"Bearer {key}"})
    assert [m["memory"] for m in kept.json()["results"]] == ["open fact"]  # tenant 'default' keeps the open data


def test_two_workers_share_the_store(tmp_path: Path, server_factory: type[ServerProcess]) -> None:
    store = tmp_path / "store"
    store.mkdir()
    key = create_key(store, "acme")
    proc = server_factory(store, args=("--workers", "2")).start(timeout=180)
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=proc.url, headers=headers, timeout=60) as http:
        for i in range(20):  # new connections: uvicorn's workers share the socket, so both serve
            with httpx.Client(base_url=proc.url, headers=headers, timeout=60) as fresh:
                assert fresh.post("/v1/memories", json={"messages": f"I work at Corp{i}.", "user_id": f"w{i}"}).is_success
        for i in range(20):
            with httpx.Client(base_url=proc.url, headers=headers, timeout=60) as fresh:
                rels = fresh.get("/v1/graph/relations", params={"user_id": f"w{i}"}).json()["relations"]
                assert [r["destination"] for r in rels] == [f"Corp{i}"]  # each worker's graph follows the outbox
                assert len(fresh.get("/v1/memories", params={"user_id": f"w{i}"}).json()["results"]) == 1
        assert http.get("/ready").status_code == 200
    explicit = subprocess.run(
        cli_command("--path", str(store), "--config", str(_graph_config(tmp_path)), "serve", "--workers", "2"),
        capture_output=True, text=True, env=child_env(), timeout=120)
    assert explicit.returncode == 2 and "admits one process" in explicit.stderr


def _graph_config(tmp_path: Path) -> Path:
    path = tmp_path / "oxigraph.json"
    path.write_text(json.dumps({**HASH_CONFIG, "graph": "oxigraph"}))
    return path


def test_a_store_without_graph_answers_409_for_graph_calls(tmp_path: Path, server_factory: type[ServerProcess]) -> None:
    proc = server_factory(tmp_path / "store", config={**HASH_CONFIG, "graph": False}).start()
    r = httpx.get(proc.url + "/v1/graph/relations", params={"user_id": "me"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "graph_disabled"
    from memlayer import Client
    from memlayer.errors import ConfigError

    with Client(proc.url) as client, pytest.raises(ConfigError, match="no knowledge graph"):
        client.graph.relations(user_id="me")
    assert httpx.post(proc.url + "/v1/search", json={"query": "x", "user_id": "me"}).status_code == 200


def test_without_the_server_extra_the_command_says_what_to_install() -> None:
    code = ("import sys; sys.modules['fastapi'] = None; from memlayer.cli import main; "
            "raise SystemExit(main(['serve']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=child_env(), timeout=120)
    assert out.returncode == 2 and 'pip install "memlayer[server]"' in out.stderr


def test_static_pages_are_served_under_ui(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from memlayer.server import ServerSettings, create_app
    from memlayer.server.pages import mount_pages

    pages = tmp_path / "static"
    pages.mkdir()
    (pages / "index.html").write_text("<h1>memory browser</h1>")
    app = create_app(ServerSettings(path=str(tmp_path / "store"), memory=HASH_CONFIG, mcp=False))
    assert mount_pages(app, pages) and not mount_pages(app, tmp_path / "missing")
    with TestClient(app, base_url="http://127.0.0.1:8765") as http:
        assert "memory browser" in http.get("/ui/").text
        assert http.get("/v1/whoami").json()["open"] is True
