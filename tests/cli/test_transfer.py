"""memlayer import (JSONL/JSON, validation first, progress bar) and export (JSONL, Turtle, TriG, JSON-LD)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import rdflib

from memlayer.progress import Progress

from .conftest import Cli

RECORDS = [
    {"messages": [{"role": "user", "content": "I live in New York."}], "user_id": "alice",
     "timestamp": "2025-01-01T10:00:00Z"},
    {"text": "I had a meeting with Sarah from Google about the new search project.", "user_id": "alice",
     "metadata": {"source": "notes"}},
    {"text": "I moved to San Francisco.", "user_id": "alice", "timestamp": "2025-06-01T10:00:00Z"},
    {"text": "I like cricket.", "agent_id": "coach"},
]


def write_jsonl(path: Path, records: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def current(cli: Cli, **scope: str) -> dict[str, dict[str, object]]:
    args = [a for k, v in scope.items() for a in (f"--{k}", v)]
    return {r["memory"]: r for r in cli("list", *args, "--json").data()["results"]}


def test_import_jsonl_extracts_facts_with_a_progress_bar(cli: Cli, tmp_path: Path) -> None:
    out = cli("import", str(write_jsonl(tmp_path / "c.jsonl", RECORDS)))
    assert out.rc == 0
    assert out.out.strip() == "imported 4 records: 4 add, 1 delete"
    assert "importing [" in out.err and "4/4 100%" in out.err and "pattern extractor" in out.err
    alice = current(cli, user="alice")
    assert set(alice) == {"User lives in San Francisco",
                          "User had a meeting with Sarah from Google about the new search project"}
    assert alice["User had a meeting with Sarah from Google about the new search project"]["metadata"] == {"source": "notes"}
    assert alice["User lives in San Francisco"]["valid_from"].startswith("2025-06-01T10:00:00")
    assert set(current(cli, agent="coach")) == {"User likes cricket"}


def test_import_json_array_with_default_scope_and_no_infer(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps([{"text": "hello there"}, {"messages": "I like tea", "run_id": "r1"}]))
    out = cli("import", str(path), "--user", "bob", "--no-infer", "--json")
    assert out.data() == {"records": 2, "skipped_superseded": 0, "events": {"ADD": 2}}
    assert "pattern extractor" not in out.err
    assert set(current(cli, user="bob")) == {"hello there", "I like tea"}
    assert set(current(cli, run="r1")) == {"I like tea"}


@pytest.mark.parametrize(("lines", "expected"), [
    (['{"text": "ok", "user_id": "u"}', "{not json"], "c.jsonl:2: not valid JSON"),
    (['{"text": "ok", "user_id": "u"}', '{"user_id": "u"}'], "c.jsonl:2: a record needs exactly one of"),
    (['{"text": "a", "memory": "b", "user_id": "u"}'], "(has text, memory)"),
    (['{"text": "no scope"}'], "c.jsonl:1: no user_id, agent_id or run_id"),
    (['{"text": "x", "user_id": "u", "metadata": [1]}'], "'metadata' must be a JSON object"),
    (['"just a string"'], "a record must be a JSON object, got str"),
    (['{"memory": "x", "user_id": "u", "metadata": {"user_id": "v"}}'], "metadata may not hold ['user_id']"),
    (['{"text": 5, "user_id": "u"}'], "'text' must be a string, got int"),
    # values only add() used to check, after the records before them had been written:
    (['{"text": "ok", "user_id": "u"}', '{"text": "x", "user_id": "u", "timestamp": "soon"}'],
     "c.jsonl:2: 'soon' is not a time"),
    (['{"text": "ok", "user_id": "u"}', '{"text": "x", "user_id": "  "}'], "c.jsonl:2: user_id must be a non-empty"),
    (['{"text": "ok", "user_id": "u"}', '{"text": "x", "user_id": "u", "metadata": {"n": NaN}}'],
     "c.jsonl:2: metadata must be JSON-serialisable"),
    (['{"text": "ok", "user_id": "u"}', '{"messages": [{"role": "user"}], "user_id": "u"}'],
     "c.jsonl:2: message 0 has no 'content' key"),
    (['{"text": "ok", "user_id": "u"}', '{"messages": [{"content": "x", "metadata": {"user_id": "v"}}], "user_id": "u"}'],
     "c.jsonl:2: metadata may not use the reserved key"),
    (['{"memory": "ok", "user_id": "u", "id": "m1"}', '{"memory": "x", "user_id": "u", "id": "m1"}'],
     "c.jsonl:2: the id 'm1' is already used by "),
    (['{"memory": "ok", "user_id": "u", "id": ""}'], "c.jsonl:1: 'id' must be a non-empty string"),
    (['{"text": "I like tea", "user_id": "u", "id": "m1"}'], "c.jsonl:1: an 'id' is kept only for memories stored as"),
])
def test_a_bad_record_stops_the_import_before_anything_is_written(
    cli: Cli, tmp_path: Path, lines: list[str], expected: str
) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out = cli("import", str(path))
    assert out.rc == 2 and expected in out.err and len(out.err.strip().splitlines()) == 1
    assert current(cli, user="u") == {}


def test_export_jsonl_round_trips_through_import(cli: Cli, tmp_path: Path, store_dir: Path) -> None:
    cli("import", str(write_jsonl(tmp_path / "c.jsonl", RECORDS)))
    dump = tmp_path / "alice.jsonl"
    out = cli("export", "--user", "alice", "--out", str(dump))
    assert out.rc == 0 and "wrote 2 memories of user_id=alice" in out.err
    rows = [json.loads(line) for line in dump.read_text().splitlines()]
    assert {r["memory"] for r in rows} == set(current(cli, user="alice"))
    everything = [json.loads(line) for line in cli("export", "--user", "alice", "--all").out.splitlines()]
    assert len(everything) == 3 and any(r["valid_to"] for r in everything)

    from memlayer.cli import main

    other = tmp_path / "other"
    assert main(["--path", str(other), "--embedder", "hash", "import", str(dump)]) == 0
    again = tmp_path / "again.jsonl"
    everything_file = write_jsonl(tmp_path / "all.jsonl", everything)
    assert main(["--path", str(tmp_path / "third"), "--embedder", "hash", "import", str(everything_file)]) == 0
    main(["--path", str(other), "--embedder", "hash", "export", "--user", "alice", "--out", str(again)])
    restored = [json.loads(line) for line in again.read_text().splitlines()]
    assert sorted((r["memory"], json.dumps(r["metadata"]), r["valid_from"]) for r in restored) == sorted(
        (r["memory"], json.dumps(r["metadata"]), r["valid_from"]) for r in rows)


def test_verbatim_import_without_bulk_add_goes_record_by_record(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from memlayer import Memory

    monkeypatch.delattr(Memory, "bulk_add", raising=False)
    records = [{"text": "hello", "user_id": "u"}, {"text": "hello", "user_id": "u"}, {"memory": "Tea", "user_id": "u"}]
    out = cli("import", str(write_jsonl(tmp_path / "v.jsonl", records)), "--no-infer", "--json")
    assert out.data()["events"]["ADD"] == 2 and "3/3 100%" in out.err
    assert set(current(cli, user="u")) == {"hello", "Tea"}


def test_import_skips_superseded_memories_of_an_export(cli: Cli, tmp_path: Path) -> None:
    rows = [{"memory": "User lives in Rome", "user_id": "u", "valid_to": "2025-01-01T00:00:00+00:00"},
            {"memory": "User lives in Oslo", "user_id": "u"}]
    out = cli("import", str(write_jsonl(tmp_path / "e.jsonl", rows)))
    assert out.out.strip() == "imported 1 records: 1 add; skipped 1 superseded memories"
    assert set(current(cli, user="u")) == {"User lives in Oslo"}


@pytest.mark.parametrize(("fmt", "rdflib_format", "suffix"), [
    ("turtle", "turtle", ".ttl"), ("trig", "trig", ".trig"), ("json-ld", "json-ld", ".jsonld"),
])
def test_export_graph_formats_parse(cli: Cli, tmp_path: Path, fmt: str, rdflib_format: str, suffix: str) -> None:
    cli("import", str(write_jsonl(tmp_path / "c.jsonl", RECORDS)))
    text = cli("export", "--user", "alice", "--format", fmt).out
    data = rdflib.Dataset()
    data.parse(data=text, format=rdflib_format)
    labels = {str(o) for s, p, o, g in data.quads((None, rdflib.RDFS.label, None, None))}
    assert {"Sarah", "Google", "New York", "San Francisco"} <= labels
    by_extension = tmp_path / f"g{suffix}"
    assert cli("export", "--user", "alice", "--out", str(by_extension)).rc == 0
    assert by_extension.read_text() == text


def test_export_without_scope_or_graph_is_a_clear_error(cli: Cli, tmp_path: Path) -> None:
    out = cli("export")
    assert out.rc == 2 and "user_id" in out.err
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"graph": False}))
    out = cli("--config", str(config), "export", "--user", "u", "--format", "turtle")
    assert out.rc == 2 and "no knowledge graph" in out.err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_redraws_on_a_terminal_and_logs_tenths_elsewhere() -> None:
    tty = Terminal()
    bar = Progress(4, "importing", stream=tty, width=8)
    for _ in range(4):
        bar.update()
    bar.close()
    frames = tty.getvalue().split("\r")[1:]
    assert len(frames) == 5 and frames[-1].startswith("importing [########] 4/4 100%") and tty.getvalue().endswith("\n")
    log = io.StringIO()
    bar = Progress(100, "importing", stream=log)
    for _ in range(100):
        bar.update()
    bar.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 11 and lines[0].endswith("0/100   0% -") and "100/100 100%" in lines[-1]


def test_import_user_option_applies_to_every_record(cli: Cli, tmp_path: Path) -> None:
    rows = [{"memory": "User likes tea", "user_id": "alice"}, {"text": "I like jazz", "user_id": "alice"},
            {"text": "Agent is terse", "agent_id": "coach"}, {"memory": "no scope in the file"}]
    out = cli("import", str(write_jsonl(tmp_path / "a.jsonl", rows)), "--user", "you", "--no-infer", "--json")
    assert out.data()["events"] == {"ADD": 4}
    assert current(cli, user="alice") == {}
    assert set(current(cli, user="you")) == {"User likes tea", "I like jazz", "Agent is terse", "no scope in the file"}
    assert current(cli, user="you", agent="coach")["Agent is terse"]["agent_id"] == "coach"  # other ids stay


def test_restoring_an_export_keeps_the_ids(cli: Cli, tmp_path: Path) -> None:
    cli("import", str(write_jsonl(tmp_path / "c.jsonl", RECORDS)))
    dump = tmp_path / "alice.jsonl"
    assert cli("export", "--user", "alice", "--out", str(dump)).rc == 0
    exported = {r["id"]: r for r in map(json.loads, dump.read_text().splitlines())}

    from memlayer.cli import main

    other = ["--path", str(tmp_path / "other"), "--embedder", "hash"]
    assert main([*other, "import", str(dump)]) == 0
    assert main([*other, "--json", "export", "--user", "alice", "--out", str(tmp_path / "again.jsonl")]) == 0
    restored = {r["id"]: r for r in map(json.loads, (tmp_path / "again.jsonl").read_text().splitlines())}
    assert set(restored) == set(exported)
    for mid, row in restored.items():
        assert (row["memory"], row["metadata"], row["created_at"]) == (
            exported[mid]["memory"], exported[mid]["metadata"], exported[mid]["created_at"])


def test_restoring_into_a_store_that_has_the_ids_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    cli("add", "I like tea", "--user", "u", "--no-infer")
    dump = tmp_path / "u.jsonl"
    cli("export", "--user", "u", "--out", str(dump))
    rows = [{"memory": "a new one", "user_id": "u"}, *map(json.loads, dump.read_text().splitlines())]
    out = cli("import", str(write_jsonl(tmp_path / "back.jsonl", rows)))
    assert out.rc == 2 and "the store already has memories with the ids of 1 record(s): " in out.err
    assert "back.jsonl:2 (" in out.err and "Nothing was imported" in out.err
    assert set(current(cli, user="u")) == {"I like tea"}


def test_without_bulk_add_ids_are_not_kept_and_it_says_so(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from memlayer import Memory

    monkeypatch.delattr(Memory, "bulk_add", raising=False)
    out = cli("import", str(write_jsonl(tmp_path / "v.jsonl", [{"memory": "Tea", "user_id": "u", "id": "m1"}])))
    assert out.rc == 0 and "the imported memories get new ids" in out.err
    assert current(cli, user="u")["Tea"]["id"] != "m1"
