"""memlayer add --ttl/--expires-at, sweep and retention."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from .conftest import Cli


def test_add_with_a_ttl_and_a_sweep(cli: Cli) -> None:
    added = cli("--json", "add", "I am in Lisbon", "--user", "me", "--no-infer", "--ttl", "7d").data()
    mid = added["results"][0]["id"]
    listed = cli("--json", "list", "--user", "me").data()["results"]
    assert [r["id"] for r in listed] == [mid] and listed[0]["expires_at"] is not None
    dated = cli("--json", "add", "until new year", "--user", "me", "--no-infer", "--expires-at", "2999-01-01").data()
    assert cli("--json", "list", "--user", "me").data()["results"][0]["expires_at"] == "2999-01-01T00:00:00+00:00"
    assert dated["results"][0]["event"] == "ADD"
    swept = cli("--json", "sweep").data()
    assert (swept["forgotten"], swept["closed"], swept["complete"]) == (0, 0, True)
    plain = cli("sweep")
    assert plain.rc == 0 and plain.out.startswith("forgot 0 expired memories, closed 0 over budget")
    hour_ago, said = (datetime.now(timezone.utc) - timedelta(hours=h) for h in (1, 2))
    for text, user in (("lapsed", "me"), ("yours", "you")):
        cli("add", text, "--user", user, "--no-infer", "--expires-at", hour_ago.isoformat(), "--timestamp", said.isoformat())
    assert cli("--json", "sweep", "--user", "me").data()["forgotten"] == 0  # inside the store's grace period
    assert cli("--json", "sweep", "--user", "me", "--grace-period", "0").data()["forgotten"] == 1
    assert cli("--json", "list", "--user", "you", "--all").data()["results"]  # not swept: another user
    bad = cli("add", "x", "--user", "me", "--ttl", "soon")
    assert bad.rc == 2 and "ttl must be" in bad.err


def test_retention_shows_and_sets_a_scope_policy(cli: Cli) -> None:
    shown = cli("retention", "--user", "me")
    assert shown.rc == 0 and "default ttl: never" in shown.out and "nothing (store settings apply)" in shown.out
    set_ = cli("--json", "retention", "--user", "me", "--ttl", "30d", "--max-memories", "2").data()
    assert set_ == {"ttl": 2592000.0, "max_memories": 2, "own": {"ttl": 2592000.0, "max_memories": 2}}
    for text in ("one", "two", "three"):
        cli("add", text, "--user", "me", "--no-infer")
    assert len(cli("--json", "list", "--user", "me").data()["results"]) == 2
    closed = next(r for r in cli("--json", "list", "--user", "me", "--all").data()["results"] if r["valid_to"])
    history = cli("history", closed["id"])
    assert "why" in history.out and "closed by the budget" in history.out
    cleared = cli("--json", "retention", "--user", "me", "--ttl", "none", "--max-memories", "unlimited").data()
    assert cleared["own"] == {"ttl": None, "max_memories": "unlimited"} and cleared["max_memories"] is None
    bad = cli("retention", "--user", "me", "--max-memories", "lots")
    assert bad.rc == 2 and "--max-memories must be" in bad.err


def test_an_exported_expiry_survives_import(cli: Cli, tmp_path) -> None:
    cli("add", "in Lisbon for now", "--user", "me", "--no-infer", "--expires-at", "2999-06-01")
    cli("add", "lasting", "--user", "me", "--no-infer")
    dump = tmp_path / "dump.jsonl"
    assert cli("export", "--user", "me", "--out", str(dump)).rc == 0
    other = tmp_path / "other"
    assert cli("--path", str(other), "import", str(dump)).rc == 0
    listed = cli("--path", str(other), "--json", "list", "--user", "me").data()["results"]
    got = {r["memory"]: r["expires_at"] for r in listed}
    assert got == {"in Lisbon for now": "2999-06-01T00:00:00+00:00", "lasting": None}
