"""Memory lifetimes over a real ``memlayer serve``: expiry on add/bulk/update, include_expired reads,
refresh, sweeps (a tenant's own scopes only) and retention policies; the Client answers as Memory does."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from memlayer import Client, Memory
from memlayer.embeddings.hashing import HashingEmbedder
from memlayer.errors import NotFoundError

from .conftest import KeyedServer
from .test_endpoints import error, uid


def ago(hours: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(hours=hours)).isoformat()


def lapsed(http: Any, user: str, text: str = "I was in Lisbon") -> str:
    """A memory stated two hours ago that lapsed an hour ago (inside the server's 30-day grace period)."""
    out = http.post("/v1/memories", json={"messages": text, "user_id": user, "infer": False,
                                          "timestamp": ago(2), "expires_at": ago(1)})
    assert out.status_code == 200, out.text
    return str(out.json()["results"][0]["id"])


def test_expiry_on_add_update_bulk_and_reads(server: KeyedServer) -> None:
    user = uid()
    with server.http("acme") as http:
        week = http.post("/v1/memories", json={"messages": "I am in Oslo", "user_id": user, "infer": False,
                                               "ttl": "7d"}).json()["results"][0]["id"]
        gone = lapsed(http, user)
        shown = http.get(f"/v1/memories/{week}").json()
        assert shown["expires_at"] is not None and shown["expires_at"] > datetime.now(timezone.utc).isoformat()

        current = [m["id"] for m in http.get("/v1/memories", params={"user_id": user}).json()["results"]]
        every = http.get("/v1/memories", params={"user_id": user, "include_expired": "true"}).json()["results"]
        assert current == [week] and {m["id"] for m in every} == {week, gone}
        found = http.post("/v1/search", json={"query": "Lisbon Oslo", "user_id": user}).json()["results"]
        assert [h["id"] for h in found] == [week]
        found = http.post("/v1/search", json={"query": "Lisbon", "user_id": user, "include_expired": True,
                                              "config": "vector"}).json()["results"]
        assert found[0]["id"] == gone
        assert http.get(f"/v1/memories/{gone}").json()["id"] == gone  # by id, as Memory.get: expired too
        strict = http.get(f"/v1/memories/{gone}", params={"include_expired": "false"})
        assert strict.status_code == 404 and error(strict)["code"] == "not_found"

        kept = http.put(f"/v1/memories/{week}", json={"ttl": "never"}).json()
        assert (kept["event"], kept["memory"]) == ("UPDATE", "I am in Oslo")
        assert http.get(f"/v1/memories/{week}").json()["expires_at"] is None
        assert http.get(f"/v1/memories/{week}/history").json()[-1]["reason"] == "never expires"
        revived = http.put(f"/v1/memories/{gone}", json={"text": "I am in Lisbon again", "expires_at": "2999-01-01"})
        assert (revived.status_code, error(revived)["code"]) == (404, "not_found"), revived.text  # as a missing id
        assert "expired at" in error(revived)["message"] and "add() the fact again" in error(revived)["message"]
        strict = http.get(f"/v1/memories/{gone}", params={"include_expired": "false"})
        assert strict.status_code == 404 and http.get(f"/v1/memories/{gone}").json()["memory"] == "I was in Lisbon"

        bulk = http.post("/v1/memories/bulk", json={"records": [
            {"text": "bulk with a ttl", "user_id": user, "ttl": 3600},
            {"text": "bulk until", "user_id": user, "expires_at": "2999-06-01T00:00:00Z"}]}).json()
        assert bulk["added"] == 2
        listed = {m["memory"]: m["expires_at"] for m in http.get("/v1/memories", params={"user_id": user}).json()["results"]}
        assert listed["bulk until"] == "2999-06-01T00:00:00+00:00" and listed["bulk with a ttl"] is not None

        for body, code in (({}, "bad_request"), ({"ttl": "soon"}, "invalid_argument"),
                           ({"ttl": "1d", "expires_at": "2999-01-01"}, "invalid_argument"),
                           ({"text": "I am in Bergen", "expires_at": ago(1)}, "invalid_argument")):
            bad = http.put(f"/v1/memories/{week}", json=body)
            assert (bad.status_code, error(bad)["code"]) == (400, code), bad.text
        bad = http.post("/v1/memories", json={"messages": "x", "user_id": user, "expires_at": ago(1)})
        assert bad.status_code == 400 and "not after the memory's time" in error(bad)["message"]
        bad = http.put(f"/v1/memories/{week}", json={"expires_at": ago(1)})  # as add: a past expiry is refused
        assert bad.status_code == 400 and "is not after now" in error(bad)["message"]
        assert http.get(f"/v1/memories/{week}").json()["expires_at"] is None


def test_lifetimes_past_the_year_9999_are_invalid_arguments(server: KeyedServer) -> None:
    """A ttl ending after the year 9999 is a 400 wherever it is given, and nothing of it is stored to break the
    scope's reads or another tenant's writes of the same text."""
    user = uid()
    with server.http("acme") as http, server.http("globex") as globex:
        mid = http.post("/v1/memories", json={"messages": "I like tea", "user_id": user, "infer": False,
                                              "ttl": "1d"}).json()["results"][0]["id"]
        for method, path, body in (
                ("POST", "/v1/memories", {"messages": "I live in Lisbon", "user_id": user, "ttl": 1e300}),
                ("POST", "/v1/memories", {"messages": "x", "user_id": user, "timestamp": "2020-01-01T00:00:00Z",
                                          "ttl": f"{7985 * 366}d"}),  # (a timestamp is never later than now)
                ("POST", "/v1/memories/bulk", {"records": [{"text": "x", "user_id": user, "ttl": 1e300}]}),
                ("PUT", f"/v1/memories/{mid}", {"ttl": 1e300}), ("POST", "/v1/memories/refresh", {"ids": [mid],
                                                                                                  "ttl": 1e300}),
                ("PUT", "/v1/retention", {"user_id": user, "ttl": 1e300})):
            bad = http.request(method, path, json=body)
            assert (bad.status_code, error(bad)["code"]) == (400, "invalid_argument"), bad.text
            assert "year 9999" in error(bad)["message"]
        assert [m["id"] for m in http.get("/v1/memories", params={"user_id": user}).json()["results"]] == [mid]
        other = globex.post("/v1/memories", json={"messages": "I live in Lisbon", "user_id": user})
        assert other.status_code == 200, other.text


def test_refresh_extends_by_the_memory_ttl_inside_the_tenant(server: KeyedServer) -> None:
    user = uid()
    with server.http("acme") as http, server.http("globex") as globex:
        day = http.post("/v1/memories", json={"messages": "a day", "user_id": user, "infer": False,
                                              "ttl": "1d"}).json()["results"][0]["id"]
        before = http.get(f"/v1/memories/{day}").json()["expires_at"]
        out = http.post("/v1/memories/refresh", json={"ids": [day], "ttl": "30d"}).json()["results"]
        assert [(r["id"], r["refreshed"]) for r in out] == [(day, True)] and out[0]["expires_at"] > before
        assert http.get(f"/v1/memories/{day}").json()["expires_at"] == out[0]["expires_at"]
        mine = http.post("/v1/memories/refresh", json={"ids": [day], "user_id": user}).json()["results"]
        assert mine[0]["refreshed"] is True and mine[0]["expires_at"] >= out[0]["expires_at"]  # its TTL is 30d now
        stranger = globex.post("/v1/memories/refresh", json={"ids": [day]})
        assert stranger.status_code == 404 and error(stranger)["code"] == "not_found"
        assert http.post("/v1/memories/refresh", json={"ids": []}).status_code == 422


def test_a_sweep_forgets_only_the_callers_scopes(server: KeyedServer) -> None:
    user, other = uid(), uid()
    with server.http("acme") as acme, server.http("globex") as globex, server.http("acme_read") as reader:
        mine, also_mine = lapsed(acme, user), lapsed(acme, other)
        theirs = lapsed(globex, user)
        assert acme.post("/v1/sweep", json={"user_id": user}).json()["forgotten"] == 0  # the 30-day grace period
        scoped = acme.post("/v1/sweep", json={"user_id": user, "grace_period": 0}).json()
        assert (scoped["forgotten"], scoped["complete"], scoped["recalls"]) == (1, True, 0)
        events = acme.get(f"/v1/memories/{mine}/history").json()
        assert events[-1]["event"] == "DELETE" and events[-1]["reason"].endswith("forgotten by a sweep")
        assert acme.get(f"/v1/memories/{also_mine}").status_code == 200
        everything = acme.post("/v1/sweep", json={"grace_period": "0s"}).json()
        assert everything["forgotten"] >= 1 and acme.get(f"/v1/memories/{also_mine}").status_code == 404
        assert globex.get(f"/v1/memories/{theirs}").status_code == 200  # another tenant's: untouched
        assert globex.post("/v1/sweep", json={"user_id": user, "filters": {"nope": 1}, "grace_period": 0}).json()[
            "forgotten"] == 0
        assert globex.post("/v1/sweep", json={"user_id": user, "grace_period": 0}).json()["forgotten"] == 1
        assert reader.post("/v1/sweep", json={}).status_code == 403
        bad = acme.post("/v1/sweep", json={"grace_period": -5})
        assert bad.status_code == 400 and error(bad)["code"] == "invalid_argument"


def test_retention_policies_per_scope(server: KeyedServer) -> None:
    user = uid()
    with server.http("acme") as http, server.http("globex") as globex:
        assert http.get("/v1/retention", params={"user_id": user}).json() == {
            "ttl": None, "max_memories": None, "own": {"ttl": None, "max_memories": None}}
        set_ = http.put("/v1/retention", json={"user_id": user, "ttl": "1d"}).json()
        assert set_["ttl"] == 86400.0 and set_["own"] == {"ttl": 86400.0, "max_memories": None}
        capped = http.put("/v1/retention", json={"user_id": user, "max_memories": 2}).json()
        assert capped["own"] == {"ttl": 86400.0, "max_memories": 2}  # the ttl stays as it was
        for text in ("one", "two", "three"):
            http.post("/v1/memories", json={"messages": text, "user_id": user, "infer": False})
        listed = http.get("/v1/memories", params={"user_id": user}).json()["results"]
        assert [m["memory"] for m in listed] == ["three", "two"] and all(m["expires_at"] for m in listed)
        assert globex.get("/v1/retention", params={"user_id": user}).json()["own"] == {"ttl": None,
                                                                                        "max_memories": None}
        cleared = http.put("/v1/retention", json={"user_id": user, "ttl": None, "max_memories": "unlimited"}).json()
        assert cleared["own"] == {"ttl": None, "max_memories": "unlimited"}
        assert http.get("/v1/retention").status_code == 400  # a scope is required
        bad = http.put("/v1/retention", json={"user_id": user, "max_memories": 0})
        assert bad.status_code == 400 and error(bad)["code"] == "invalid_argument"


def _script(m: Any, user: str) -> list[Any]:
    past, before = datetime.now(timezone.utc) - timedelta(hours=1), datetime.now(timezone.utc) - timedelta(hours=2)
    week = m.add("in Oslo this week", user_id=user, infer=False, ttl=timedelta(days=7))
    gone = m.add("was in Lisbon", user_id=user, infer=False, timestamp=before, expires_at=past)
    week_id, gone_id = week["results"][0]["id"], gone["results"][0]["id"]
    out = [week, gone, m.get_all(user_id=user), m.get_all(user_id=user, include_expired=True),
           m.search("Oslo Lisbon", user_id=user, config="vector"), m.get(gone_id, include_expired=False),
           m.get(gone_id), m.update(week_id, ttl="never"), m.get(week_id), m.refresh(gone_id),
           _refused(lambda: m.update(gone_id, ttl="1d")),
           m.set_retention(user_id=user, ttl="2d"), m.set_retention(user_id=user, max_memories=5),
           m.get_retention(user_id=user), m.sweep(user_id=user), m.sweep(user_id=user, grace_period=0),
           m.get(gone_id), m.history(gone_id)]
    return out


def _refused(call: Any) -> str:
    """What a refused call raised, in terms both faces share (the Client's error is the class the code names)."""
    try:
        call()
    except NotFoundError as exc:
        return "not found: " + str(exc).split(": ", 1)[-1]
    return "accepted"


def _clean(value: Any) -> Any:
    volatile = {"id", "memory_id", "created_at", "updated_at", "valid_from", "valid_to", "expires_at", "at",
                "score", "similarity", "reason", "recalls"}
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k not in volatile}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def test_client_lifetimes_answer_as_memory(server: KeyedServer, tmp_path) -> None:
    user = f"u-{uuid.uuid4().hex[:8]}"
    with Memory(str(tmp_path / "local"), embedder=HashingEmbedder(dims=64), graph=False) as local:
        expected = _script(local, user)
    with Client(server.url, server.keys["acme"]) as client:
        got = _script(client, user)
    assert _clean(got) == _clean(expected)
    assert any(str(x).startswith("not found: add() the fact again") for x in got)  # an expired memory stays so
    assert got[-1][-1]["reason"].endswith("forgotten by a sweep") and got[6]["expires_at"] is not None
