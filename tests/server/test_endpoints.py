"""Every endpoint of a real ``memlayer serve`` process, over HTTP (httpx), with tenant keys."""

from __future__ import annotations

import json
import time
import uuid

import httpx

from memlayer.server.auth import KEY_CACHE_S

from .conftest import KeyedServer


def uid(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "status"}, body
    assert body["error"]["status"] == response.status_code
    return body["error"]


def test_health_ready_index_and_openapi(server: KeyedServer) -> None:
    with server.http() as http:
        assert http.get("/health").json() == {"status": "ok"}
        assert http.get("/ready").json()["status"] == "ready"
        assert http.get("/").json()["mcp"] == "/mcp"
        spec = http.get("/openapi.json").json()
        paths = set(spec["paths"])
        assert {"/v1/memories", "/v1/memories/{memory_id}", "/v1/memories/{memory_id}/history", "/v1/search",
                "/v1/memories/bulk", "/v1/reset", "/v1/graph/relations", "/v1/graph/sparql", "/v1/export",
                "/v1/whoami", "/health", "/ready"} <= paths
        assert http.get("/docs").status_code == 200


def test_the_memory_api_round_trip(server: KeyedServer) -> None:
    user = uid()
    with server.http("acme") as http:
        added = http.post("/v1/memories", json={"messages": [{"role": "user", "content": "I live in Oslo."}],
                                                "user_id": user, "agent_id": "bot", "metadata": {"topic": "home"},
                                                "timestamp": "2025-03-01T10:00:00Z"})
        assert added.status_code == 200, added.text
        body = added.json()
        assert [r["event"] for r in body["results"]] == ["ADD"] and "usage" in body
        mid = body["results"][0]["id"]

        memory = http.get(f"/v1/memories/{mid}").json()
        assert memory["user_id"] == user and memory["agent_id"] == "bot"  # the tenant prefix never shows
        assert memory["metadata"] == {"topic": "home"} and memory["valid_from"].startswith("2025-03-01")

        found = http.post("/v1/search", json={"query": "Where do I live?", "user_id": user}).json()
        assert found["results"][0]["id"] == mid and found["results"][0]["user_id"] == user
        assert {"score", "similarity"} <= set(found["results"][0])
        listed = http.get("/v1/memories", params={"user_id": user, "filters": json.dumps({"topic": "home"})}).json()
        assert [m["id"] for m in listed["results"]] == [mid]
        by_agent = http.get("/v1/memories", params={"user_id": user, "filters": json.dumps({"agent_id": "bot"})})
        assert [m["id"] for m in by_agent.json()["results"]] == [mid]  # filters on scope fields map too

        updated = http.put(f"/v1/memories/{mid}", json={"text": "User lives in Bergen", "metadata": {"v": 2}}).json()
        assert {k: updated[k] for k in ("id", "memory", "event")} == {"id": mid, "memory": "User lives in Bergen",
                                                                      "event": "UPDATE"}
        events = http.get(f"/v1/memories/{mid}/history").json()
        assert [e["event"] for e in events] == ["ADD", "UPDATE"]
        assert events[0]["source_messages"][0]["content"] == "I live in Oslo." and events[0]["user_id"] == user

        assert http.delete(f"/v1/memories/{mid}").json()["event"] == "DELETE"
        assert http.get(f"/v1/memories/{mid}").status_code == 404
        assert [e["event"] for e in http.get(f"/v1/memories/{mid}/history").json()][-1] == "DELETE"

        http.post("/v1/memories", json={"messages": "a", "user_id": user, "infer": False})
        http.post("/v1/memories", json={"messages": "b", "user_id": user, "run_id": "r1", "infer": False})
        assert http.delete("/v1/memories", params={"user_id": user}).json()["deleted"] == 2
        assert http.get("/v1/memories", params={"user_id": user}).json() == {"results": []}


def test_search_options(server: KeyedServer) -> None:
    user = uid()
    with server.http("acme") as http:
        http.post("/v1/memories", json={"messages": "I live in Rome.", "user_id": user, "timestamp": "2024-01-01"})
        http.post("/v1/memories", json={"messages": "I moved to Madrid.", "user_id": user, "timestamp": "2025-06-01"})
        now = http.post("/v1/search", json={"query": "where do I live", "user_id": user, "limit": 1}).json()
        past = http.post("/v1/search", json={"query": "where do I live", "user_id": user, "limit": 1,
                                             "as_of": "2024-06-01"}).json()
        assert "Madrid" in now["results"][0]["memory"] and "Rome" in past["results"][0]["memory"]
        epoch = http.post("/v1/search", json={"query": "where do I live", "user_id": user, "limit": 1,
                                              "as_of": 1717200000}).json()  # 2024-06-01 as epoch seconds
        assert "Rome" in epoch["results"][0]["memory"]
        everything = http.post("/v1/search", json={"query": "live", "user_id": user, "include_expired": True,
                                                   "config": "vector"}).json()
        assert len(everything["results"]) == 2
        tight = http.post("/v1/search", json={"query": "live", "user_id": user, "max_tokens": 1}).json()
        assert tight["results"] == []
        custom = http.post("/v1/search", json={"query": "live", "user_id": user,
                                               "config": {"dense_weight": 1.0, "lexical_weight": 0.5}})
        assert custom.status_code == 200
        rerank = http.post("/v1/search", json={"query": "live", "user_id": user, "config": "rerank"})
        assert rerank.status_code == 400 and rerank.json()["error"]["code"] == "invalid_argument"  # none configured
        assert "reranker" in rerank.json()["error"]["message"]
        listed = http.get("/v1/memories", params={"user_id": user, "as_of": "2024-06-01"}).json()["results"]
        assert [m["memory"] for m in listed] == ["User lives in Rome"]


def test_bulk_add(server: KeyedServer) -> None:
    user = uid()
    records = [{"text": f"fact number {i}", "user_id": user, "metadata": {"i": i}} for i in range(30)]
    records.append({"text": "fact number 0", "user_id": user, "metadata": {"i": 0}})  # a duplicate
    with server.http("acme") as http:
        out = http.post("/v1/memories/bulk", json={"records": records, "batch_size": 7}).json()
        assert (out["added"], out["duplicates"], out["records"]) == (30, 1, 31)
        listed = http.get("/v1/memories", params={"user_id": user, "limit": 1000}).json()["results"]
        assert len(listed) == 30 and {m["user_id"] for m in listed} == {user}
        bad = http.post("/v1/memories/bulk", json={"records": [{"text": "no scope"}]})
        assert bad.status_code == 400 and "record 0" in error(bad)["message"]


def test_graph_relations_sparql_and_export(server: KeyedServer) -> None:
    user = uid()
    with server.http("acme") as http:
        http.post("/v1/memories", json={"messages": "I work at Initech. I live in Austin.", "user_id": user})
        rels = http.get("/v1/graph/relations", params={"user_id": user}).json()["relations"]
        assert {(r["relationship"], r["destination"]) for r in rels} >= {("WORKS_AT", "Initech"), ("LIVES_IN", "Austin")}
        near = http.get("/v1/graph/relations", params={"user_id": user, "query": "Initech", "limit": 1}).json()
        assert near["relations"][0]["destination"] == "Initech"
        rows = http.post("/v1/graph/sparql", json={
            "query": "SELECT ?o WHERE { ?st a rdf:Statement ; rdf:predicate ?p ; rdf:object ?e . ?e rdfs:label ?o }",
            "user_id": user}).json()["rows"]
        assert {"Initech", "Austin"} <= {r["o"] for r in rows}
        bound = http.post("/v1/graph/sparql", json={"query": "SELECT ?e WHERE { ?e rdfs:label ?name }",
                                                    "bindings": {"name": "Initech"}, "user_id": user}).json()
        assert len(bound["rows"]) >= 1
        for fmt, marker in (("turtle", "Initech"), ("trig", "Initech"), ("json-ld", "Initech"),
                            ("nquads", "Initech"), ("jsonl", "User works at Initech")):
            out = http.get("/v1/export", params={"user_id": user, "format": fmt})
            assert out.status_code == 200 and marker in out.text, fmt
        lines = [json.loads(x) for x in http.get("/v1/export", params={"user_id": user}).text.splitlines()]
        assert {m["user_id"] for m in lines} == {user}
        assert http.get("/v1/graph/relations").status_code == 400  # a scope is required
        bad = http.post("/v1/graph/sparql", json={"query": "this is not sparql", "user_id": user})
        assert bad.status_code == 400 and error(bad)["code"] == "invalid_query"
        remote = http.post("/v1/graph/sparql", json={"query": "SELECT * WHERE { SERVICE <http://127.0.0.1:9/> "
                                                              "{ ?s ?p ?o } }", "user_id": user})
        assert remote.status_code == 400 and error(remote)["code"] == "invalid_query"


def test_auth_and_scopes(server: KeyedServer) -> None:
    user = uid()
    with server.http() as anonymous:
        missing = anonymous.post("/v1/search", json={"query": "x", "user_id": user})
        assert missing.status_code == 401 and error(missing)["code"] == "unauthorized"
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert anonymous.get("/health").status_code == 200  # health needs no key
    for bad in ("Bearer nope", "Basic abc", "Bearer mlk_000000000000_" + "A" * 43, "Bearer " + server.keys["acme"] + "x"):
        with server.http() as http:
            r = http.get("/v1/whoami", headers={"Authorization": bad})
            assert r.status_code == 401, bad
    with server.http("acme_read") as reader:
        refused = reader.post("/v1/memories", json={"messages": "x", "user_id": user})
        assert refused.status_code == 403 and "write" in error(refused)["message"]
        assert reader.post("/v1/search", json={"query": "x", "user_id": user}).status_code == 200
    with server.http("acme_write") as writer:
        assert writer.post("/v1/memories", json={"messages": "x", "user_id": user, "infer": False}).status_code == 200
        assert writer.post("/v1/search", json={"query": "x", "user_id": user}).status_code == 403
        assert writer.get("/v1/whoami").json() == {"tenant": "acme", "scopes": ["write"],
                                                   "key_id": server.keys["acme_write"][4:16], "open": False}
    with server.http("acme") as http:
        assert http.post("/v1/reset").status_code == 403


def test_reset_forgets_only_the_callers_tenant(server: KeyedServer) -> None:
    user = uid()
    with server.http("globex") as globex, server.http("acme_admin") as acme:
        globex.post("/v1/memories", json={"messages": "globex keeps this", "user_id": user, "infer": False})
        acme.post("/v1/memories", json={"messages": "acme loses this", "user_id": user, "infer": False})
        acme.post("/v1/memories", json={"messages": "and this", "agent_id": uid("agent"), "infer": False})
        out = acme.post("/v1/reset").json()
        assert out["deleted"] >= 2
        assert acme.get("/v1/memories", params={"user_id": user}).json() == {"results": []}
        kept = globex.get("/v1/memories", params={"user_id": user}).json()["results"]
        assert [m["memory"] for m in kept] == ["globex keeps this"]


def test_errors_have_one_shape_and_stable_codes(server: KeyedServer) -> None:
    user = uid()
    with server.http("acme") as http:
        cases = [
            (http.get("/v1/memories/does-not-exist"), 404, "not_found"),
            (http.put("/v1/memories/does-not-exist", json={"text": "x"}), 404, "not_found"),
            (http.delete("/v1/memories/does-not-exist"), 404, "not_found"),
            (http.get("/v1/nowhere"), 404, "not_found"),
            (http.patch("/v1/memories"), 405, "method_not_allowed"),
            (http.post("/v1/search", json={"query": 5, "user_id": user}), 422, "invalid_request"),
            (http.post("/v1/search", json={"query": "x"}), 400, "invalid_scope"),
            (http.post("/v1/search", json={"query": "x", "user_id": "  "}), 400, "invalid_scope"),
            (http.post("/v1/search", json={"query": "x", "user_id": user, "filters": {"k": {"bad": 1}}}), 400,
             "invalid_filter"),
            (http.post("/v1/search", json={"query": "x", "user_id": user, "as_of": "yesterday-ish"}), 400,
             "invalid_argument"),
            (http.post("/v1/search", json={"query": "x", "user_id": user, "as_of": "0001-01-01T00:00:00+14:00"}),
             400, "invalid_argument"),
            (http.post("/v1/memories", json={"messages": "x", "user_id": user, "infer": False,
                                             "timestamp": "9999-12-31T23:59:59-14:00"}), 400, "invalid_argument"),
            (http.post("/v1/search", json={"query": "x", "user_id": user, "config": {"candidates": 10**9}}), 400,
             "invalid_argument"),
            (http.post("/v1/memories", json={"messages": "x", "user_id": user, "infer": False,
                                             "metadata": {"expires_at": "2030-01-01"}}), 400, "invalid_argument"),
            (http.post("/v1/memories", json={"messages": "x", "user_id": user, "infer": False,
                                             "metadata": {"user_id": "other"}}), 400, "invalid_argument"),
            (http.post("/v1/search", json={"query": "x", "user_id": user, "surprise": 1}), 422, "invalid_request"),
            (http.get("/v1/memories", params={"user_id": user, "filters": "{not json"}), 400, "invalid_argument"),
            (http.get("/v1/memories", params={"user_id": user, "limit": -1}), 422, "invalid_request"),
            (http.get("/v1/memories", params={"user_id": user, "include_expire": "true"}), 422, "invalid_request"),
            (http.get("/v1/memories", params=[("user_id", user), ("user_id", "other")]), 422, "invalid_request"),
            (http.post("/v1/memories", content=b"{", headers={"content-type": "application/json"}), 422,
             "invalid_request"),
            (http.post("/v1/memories", content=b'{"messages": "x", "user_id": "a", "metadata": {"n": NaN}}',
                       headers={"content-type": "application/json"}), 422, "invalid_request"),
            (http.post("/v1/memories", content=b'{"messages": "x", "user_id": "a", "metadata": {"n": 1e999}}',
                       headers={"content-type": "application/json"}), 422, "invalid_request"),
            (http.post("/v1/memories", content=b'{"messages": "x", "user_id": "a", "metadata": {"n": '
                       + b"9" * 30 + b"}}", headers={"content-type": "application/json"}), 422, "invalid_request"),
            (http.post("/v1/memories", content=b'{"messages": "\\ud800", "user_id": "a"}',
                       headers={"content-type": "application/json"}), 422, "invalid_request"),
            (http.post("/v1/memories", content=b'{"messages": ' + b"[" * 5000 + b"]" * 5000 + b', "user_id": "a"}',
                       headers={"content-type": "application/json"}), 422, "invalid_request"),
            (http.post("/v1/memories", content=b'{"messages": "x", "user_id": "a"}',
                       headers={"content-type": "text/plain"}), 422, "invalid_request"),
            (http.post("/v1/memories", json={"messages": "x" * (5 * 1024 * 1024), "user_id": user}), 413,
             "payload_too_large"),
        ]
        for response, status, code in cases:
            assert (response.status_code, error(response)["code"]) == (status, code), response.text
            assert error(response)["message"]


def test_a_chunked_body_over_the_limit_is_cut_off_with_413(server: KeyedServer) -> None:
    def chunks():  # no Content-Length: the limit is counted as the body arrives
        yield b'{"messages": "'
        for _ in range(80):
            yield b"x" * 65536
        yield b'", "user_id": "u"}'

    with server.http("acme") as http:
        r = http.post("/v1/memories", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413 and error(r)["code"] == "payload_too_large"


def test_key_revocation_takes_effect_within_a_second(server: KeyedServer) -> None:
    import subprocess

    from .harness import child_env, cli_command, create_key

    key = create_key(server.proc.path, "acme", "read")
    key_id = key[4:16]
    with server.http(key) as http:
        assert http.get("/v1/whoami").status_code == 200
        listed = subprocess.run(cli_command("--path", str(server.proc.path), "--json", "keys", "list", "--tenant", "acme"),
                                capture_output=True, text=True, env=child_env(), timeout=120)
        rows = {r["id"]: r for r in json.loads(listed.stdout)}
        assert rows[key_id]["last_used_at"] is not None and rows[key_id]["scopes"] == "read"
        assert key not in listed.stdout and "sha256" not in listed.stdout  # never the key, nor its hash
        revoked = subprocess.run(cli_command("--path", str(server.proc.path), "keys", "revoke", key_id),
                                 capture_output=True, text=True, env=child_env(), timeout=120)
        assert revoked.returncode == 0, revoked.stderr
        revoked_at = time.monotonic()
        while http.get("/v1/whoami").status_code != 401:  # a checked key is trusted for KEY_CACHE_S
            assert time.monotonic() - revoked_at < KEY_CACHE_S + 2, "the revoked key still works"
            time.sleep(0.05)


def test_bulk_ids_follow_the_id_routes_grammar_and_conflicts_are_409(server: KeyedServer) -> None:
    user = uid()
    long_id = "m" * 200 + uid()
    with server.http("acme") as http:
        def bulk(*ids: str) -> httpx.Response:
            return http.post("/v1/memories/bulk", json={"records": [{"text": f"fact {i}", "user_id": user, "id": mid}
                                                                    for i, mid in enumerate(ids)]})

        assert bulk(long_id).json()["added"] == 1
        assert http.get(f"/v1/memories/{long_id}").json()["memory"] == "fact 0"  # what bulk takes, a route names
        assert http.delete(f"/v1/memories/{long_id}").status_code == 200
        for bad in (f"notes/{user}", ".", "..", "x" * 257):
            refused = bulk(bad)
            assert (refused.status_code, error(refused)["code"]) == (400, "invalid_argument"), refused.text
        mine = http.post("/v1/memories", json={"messages": "x", "user_id": user, "infer": False}).json()[
            "results"][0]["id"]
        for ids in ((mine,), (uid(), mid := uid(), mid)):
            conflict = bulk(*ids)
            assert (conflict.status_code, error(conflict)["code"]) == (409, "conflict"), conflict.text
        assert "you already have" in error(bulk(mine))["message"]
        assert len(http.get("/v1/memories", params={"user_id": user}).json()["results"]) == 1
