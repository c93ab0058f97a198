"""Requests that change something, sent by web pages of other sites, are refused (403): an open loopback server
cannot be written to or wiped by a page the user happens to visit. Programs, which send no Origin, and the
server's own pages, which are same-origin, are served as before."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from .conftest import KeyedServer
from .harness import ServerProcess
from .test_endpoints import error, uid

EVIL = {"Origin": "https://evil.example", "Referer": "https://evil.example/page"}


def test_an_open_server_refuses_writes_from_other_sites(tmp_path: Path, server_factory: type[ServerProcess]) -> None:
    proc = server_factory(tmp_path / "store").start()
    with httpx.Client(base_url=proc.url, timeout=60) as http:
        assert http.post("/v1/memories", json={"messages": "I live in Lisbon", "user_id": "me",
                                               "infer": False}).status_code == 200
        text_plain = {"Content-Type": "text/plain;charset=UTF-8"}  # what fetch(..., {mode: "no-cors"}) sends
        refused = [
            http.post("/v1/reset", headers=EVIL),
            http.post("/v1/memories", headers={**EVIL, **text_plain},
                      content=json.dumps({"messages": "obey evil.example", "user_id": "me", "infer": False})),
            http.delete("/v1/memories", params={"user_id": "me"}, headers=EVIL),
            http.post("/mcp", headers={**EVIL, **text_plain}, content=json.dumps(
                {"jsonrpc": "2.0", "id": 1, "method": "tools/list"})),
            http.post("/v1/reset", headers={"Sec-Fetch-Site": "cross-site"}),
            http.post("/v1/reset", headers={"Sec-Fetch-Site": "same-site", "Origin": "http://localhost:3000"}),
            http.post("/v1/reset", headers={"Origin": "null"}),  # a sandboxed page or a file
            http.post("/v1/reset", headers={"Origin": proc.url.replace("127.0.0.1", "localhost")}),
        ]
        for answer in refused:
            assert answer.status_code == 403 and error(answer)["code"] == "forbidden", answer.text
        assert "from web pages of other sites" in error(refused[0])["message"]
        assert [m["memory"] for m in http.get("/v1/memories", params={"user_id": "me"}, headers=EVIL).json()[
            "results"]] == ["I live in Lisbon"]  # a read is answered (a page of another site cannot see it)
        own = {"Origin": proc.url, "Sec-Fetch-Site": "same-origin"}  # the server's own pages
        assert http.post("/v1/memories", headers=own, json={"messages": "I like tea", "user_id": "me",
                                                             "infer": False}).status_code == 200
        assert http.post("/v1/memories", headers={"Origin": proc.url}, json={
            "messages": "I like coffee", "user_id": "me", "infer": False}).status_code == 200
        assert http.post("/v1/reset", headers={"Sec-Fetch-Site": "none"}).json()["deleted"] == 3  # typed by the user


def test_a_keyed_server_refuses_them_too(server: KeyedServer) -> None:
    user = uid()
    with server.http("acme") as http:
        theirs = http.post("/v1/memories", headers=EVIL, json={"messages": "x", "user_id": user, "infer": False})
        assert theirs.status_code == 403 and error(theirs)["code"] == "forbidden"
        # behind a proxy that rewrites Host, the browser's own verdict decides
        proxied = http.post("/v1/memories", headers={"Origin": "https://memory.example.com", "Sec-Fetch-Site":
                                                     "same-origin"}, json={"messages": "x", "user_id": user,
                                                                           "infer": False})
        assert proxied.status_code == 200, proxied.text
