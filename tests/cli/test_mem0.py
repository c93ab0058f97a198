"""Coming from mem0 on the command line: `memlayer import --from mem0 FILE` restores a mem0 export (the JSON
of its get_all: fixtures/mem0_get_all.json) with ids, scopes, metadata and both timestamps, checked before
anything is written; `--config` reads a mem0 config file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import Cli

EXPORT = Path(__file__).parent / "fixtures" / "mem0_get_all.json"
ITEMS: list[dict[str, Any]] = json.loads(EXPORT.read_text())["results"]
ALICE_PEANUTS, ALICE_RAMEN, BOB_DOG, DUPLICATE = ITEMS[0]["id"], ITEMS[1]["id"], ITEMS[5]["id"], ITEMS[7]["id"]


def show(cli: Cli, memory_id: str) -> dict[str, Any]:
    out = cli("list", "--json", "--all", *scope_args(next(i for i in ITEMS if i["id"] == memory_id)))
    return {r["id"]: r for r in out.data()["results"]}[memory_id]


def scope_args(item: dict[str, Any]) -> list[str]:
    flags = {"user_id": "--user", "agent_id": "--agent", "run_id": "--run"}
    return [a for k, flag in flags.items() if item.get(k) for a in (flag, item[k])]


def test_a_mem0_export_is_restored_with_ids_scopes_metadata_and_times(cli: Cli) -> None:
    out = cli("import", "--from", "mem0", str(EXPORT), "--json")
    assert out.data() == {"records": 8, "skipped_superseded": 0, "events": {"ADD": 7, "NONE": 1}}
    assert "2 relations of mem0's graph: they are not imported" in out.err
    assert "pattern extractor" not in out.err  # nothing is extracted: memories are restored as they are

    peanuts = show(cli, ALICE_PEANUTS)
    assert peanuts["memory"] == "Is allergic to peanuts"
    assert (peanuts["user_id"], peanuts["agent_id"], peanuts["run_id"]) == ("alice", None, None)
    assert peanuts["metadata"] == {"category": "health", "role": "user"}  # mem0's role joins the metadata
    assert peanuts["created_at"] == peanuts["valid_from"] == peanuts["updated_at"] == "2025-03-01T18:15:42.123456+00:00"
    ramen = show(cli, ALICE_RAMEN)
    assert ramen["created_at"] == "2025-03-01T18:15:42.654321+00:00"
    assert ramen["updated_at"] == "2025-04-19T02:02:05.000001+00:00"  # mem0's updated_at, kept
    assert show(cli, BOB_DOG)["metadata"] == {"source": "crm", "actor_id": "bob", "role": "user", "attributed_to": "user"}

    for item in ITEMS[:7]:  # every scope as mem0 had it: user, user+agent, user+agent+run, agent only
        row = show(cli, item["id"])
        assert (row["memory"], row["user_id"], row["agent_id"], row["run_id"]) == (
            item["memory"], item.get("user_id"), item.get("agent_id"), item.get("run_id"))
        assert "hash" not in row["metadata"]
    # the second "Is allergic to peanuts" of alice (same text and metadata) is a duplicate, its id unused
    alice = cli("list", "--user", "alice", "--json").data()["results"]
    assert DUPLICATE not in {r["id"] for r in alice}
    assert [r["memory"] for r in alice].count("Is allergic to peanuts") == 1
    assert cli("search", "peanut allergy", "--user", "alice", "--json").data()["results"][0]["id"] == ALICE_PEANUTS


def test_importing_the_same_export_twice_writes_nothing_the_second_time(cli: Cli) -> None:
    assert cli("import", "--from", "mem0", str(EXPORT)).rc == 0
    before = cli("list", "--user", "alice", "--json").data()["results"]
    again = cli("import", "--from", "mem0", str(EXPORT))
    # 7: the duplicate's id was never used
    assert again.rc == 2 and "the store already has memories with the ids of 7 record(s)" in again.err
    assert f"results[0] ({ALICE_PEANUTS})" in again.err and "Nothing was imported" in again.err
    assert cli("list", "--user", "alice", "--json").data()["results"] == before


@pytest.mark.parametrize("form", ["list", "jsonl", "one"])
def test_a_bare_list_json_lines_and_a_single_memory_are_read_too(cli: Cli, tmp_path: Path, form: str) -> None:
    path = tmp_path / "export.json"
    if form == "list":  # mem0's v1.0 answers and its hosted platform: a bare list
        path.write_text(json.dumps(ITEMS[:2]))
    elif form == "jsonl":  # one get_all per user, a line each
        path.write_text(json.dumps({"results": ITEMS[:2]}) + "\n" + json.dumps({"results": ITEMS[4:6]}) + "\n")
    else:
        path.write_text(json.dumps(ITEMS[4]))
    out = cli("import", "--from", "mem0", str(path), "--json")
    expected = {"list": 2, "jsonl": 4, "one": 1}[form]
    assert out.data()["events"] == {"ADD": expected}


def test_user_option_moves_every_memory_to_that_user_keeping_ids(cli: Cli) -> None:
    assert cli("import", "--from", "mem0", str(EXPORT), "--user", "carol").rc == 0
    assert cli("list", "--user", "bob", "--json").data()["results"] == []
    carol = {r["id"] for r in cli("list", "--user", "carol", "--json").data()["results"]}
    assert {ALICE_PEANUTS, ALICE_RAMEN, BOB_DOG} <= carol


@pytest.mark.parametrize(("change", "expected"), [
    ({"memory": ""}, "results[6]: a mem0 memory needs its text in 'memory' (a non-empty string), got ''"),
    ({"created_at": "last tuesday"}, "results[6]: 'last tuesday' is not a time"),
    ({"updated_at": "soon"}, "results[6]: 'soon' is not a time"),
    ({"id": 42}, "results[6]: 'id' must be a string (mem0's ids are UUIDs), got 42"),
    ({"id": ITEMS[0]["id"]}, f"results[6]: the id '{ITEMS[0]['id']}' is already used by"),
    ({"agent_id": None}, "results[6]: no user_id, agent_id or run_id; put one in the record or pass --user"),
    ({"metadata": ["x"]}, "results[6]: 'metadata' must be a JSON object, got list"),
    ({"metadata": {"memory_type": "episodic"}, "memory_type": "procedural_memory"},
     "results[6]: the field 'memory_type' ('procedural_memory') and metadata['memory_type'] ('episodic') differ"),
    ({"metadata": {"n": float("nan")}}, "results[6]: metadata must be JSON-serialisable"),
])
def test_a_bad_memory_stops_the_import_before_anything_is_written(
    cli: Cli, tmp_path: Path, change: dict[str, Any], expected: str
) -> None:
    items = [dict(i) for i in ITEMS]
    items[6].update(change)
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"results": items}))
    out = cli("import", "--from", "mem0", str(path))
    assert out.rc == 2 and expected in out.err, out.err
    assert cli("list", "--user", "alice", "--json").data()["results"] == []  # the six before it are not written


@pytest.mark.parametrize(("text", "expected"), [
    ('{"memories": []}', "not a mem0 export; expected what mem0's get_all returns"),
    ('{"results": {"id": 1}}', "'results' must be a list of memories, got dict"),
    ('{"results": [1]}', "results[0]: a mem0 memory must be a JSON object, got int"),
    ('{"results": [}', "not valid JSON (line 1, column 14)"),
])
def test_a_file_that_is_not_a_mem0_export_is_refused(cli: Cli, tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(text)
    out = cli("import", "--from", "mem0", str(path))
    assert out.rc == 2 and expected in out.err


def test_export_after_a_mem0_import_restores_with_both_times(cli: Cli, tmp_path: Path) -> None:
    from memlayer.cli import main

    cli("import", "--from", "mem0", str(EXPORT))
    dump = tmp_path / "alice.jsonl"
    assert cli("export", "--user", "alice", "--out", str(dump)).rc == 0
    other = ["--path", str(tmp_path / "other"), "--embedder", "hash"]
    assert main([*other, "import", str(dump)]) == 0
    again = tmp_path / "again.jsonl"
    assert main([*other, "export", "--user", "alice", "--out", str(again)]) == 0
    first, second = (sorted(map(json.loads, f.read_text().splitlines()), key=lambda r: r["id"]) for f in (dump, again))
    assert first == second and any(r["updated_at"] != r["created_at"] for r in second)


def test_the_config_file_may_be_a_mem0_config(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "mem0.json"
    config.write_text(json.dumps({"embedder": {"provider": "hash", "config": {"dims": 64}}, "version": "v1.1"}))
    assert cli("--config", str(config), "add", "I live in Lisbon", "--user", "me", embedder=None).rc == 0
    assert cli("--config", str(config), "list", "--user", "me", "--json", embedder=None).data()["results"]
    config.write_text(json.dumps({"vector_store": {"provider": "chroma", "config": {"path": "db"}}}))
    out = cli("--config", str(config), "list", "--user", "me")
    assert out.rc == 2 and "vector_store (chroma): memlayer keeps its own FAISS index" in out.err


def test_a_mem0_expiration_date_becomes_the_memory_expiry(cli: Cli, tmp_path: Path) -> None:
    items = [
        {"id": "e1", "memory": "Is in Lisbon", "user_id": "carol", "created_at": "2025-03-01T10:00:00Z",
         "expiration_date": "2999-03-08"},
        {"id": "e2", "memory": "Has a cold", "user_id": "carol", "created_at": "2025-03-01T10:00:00Z",
         "expiration_date": "2999-03-05T12:00:00+02:00"},
        {"id": "e3", "memory": "Odd date", "user_id": "carol", "created_at": "2025-03-01T10:00:00Z",
         "expiration_date": "2025-02-01"},  # before the memory itself: kept as metadata only
        {"id": "e4", "memory": "Likes tea", "user_id": "carol", "created_at": "2025-03-01T10:00:00Z",
         "expiration_date": None},
    ]
    export = tmp_path / "expiring.json"
    export.write_text(json.dumps({"results": items}))
    assert cli("import", "--from", "mem0", str(export)).rc == 0
    rows = {r["id"]: r for r in cli("list", "--user", "carol", "--json").data()["results"]}
    assert rows["e1"]["expires_at"] == "2999-03-09T00:00:00+00:00"  # a date: the end of that day
    assert rows["e2"]["expires_at"] == "2999-03-05T10:00:00+00:00"
    assert rows["e3"]["expires_at"] is None and rows["e3"]["metadata"] == {"expiration_date": "2025-02-01"}
    assert rows["e4"]["expires_at"] is None and rows["e1"]["metadata"] == {"expiration_date": "2999-03-08"}
