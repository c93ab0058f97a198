"""The everyday commands, the option placement, JSON output and one-line errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from memlayer import Memory
from memlayer.cli import COMMANDS, build_parser, main

from .conftest import Cli


def test_every_command_is_listed_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in ("add", "search", "list", "show", "history", "forget", "import", "export", "graph", "demo"):
        assert name in COMMANDS and f"    {name} " in out


def test_add_search_list_history_forget(cli: Cli) -> None:
    added = cli("add", "I live in New York.", "--user", "alice")
    assert added.rc == 0 and "ADD" in added.out and "User lives in New York" in added.out
    assert "graph   user -[LIVES_IN]-> New York" in added.out
    moved = cli("--json", "add", "I moved to San Francisco.", "--user", "alice").data()
    assert {r["event"] for r in moved["results"]} == {"ADD", "DELETE"}

    found = cli("search", "where do I live", "--user", "alice", "--json").data()
    assert found["results"][0]["memory"] == "User lives in San Francisco"
    listed = cli("list", "--user", "alice")
    assert "San Francisco" in listed.out and "New York" not in listed.out
    everything = cli("list", "--user", "alice", "--all")
    assert "User lives in New York" in everything.out and "(old)" in everything.out

    old = next(r for r in moved["results"] if r["event"] == "DELETE")
    history = cli("history", old["id"])
    assert "ADD" in history.out and "DELETE" in history.out and "New York" in history.out

    gone = cli("forget", "--user", "alice")
    assert gone.rc == 0 and "Forgot 2 memories" in gone.out
    assert cli("list", "--user", "alice").out.strip() == "(nothing found)"


def test_global_options_work_before_and_after_the_command(cli: Cli, store_dir: Path) -> None:
    assert cli("add", "I like tea.", "--user", "u", "--no-infer").rc == 0
    after = main(["list", "--user", "u", "--json", "--path", str(store_dir), "--embedder", "hash"])
    assert after == 0
    args = build_parser().parse_args(["--json", "--path", "p", "list", "--user", "u"])
    assert args.json is True and args.path == "p"  # a subcommand's own copy does not reset them
    args = build_parser().parse_args(["list", "--user", "u"])
    assert args.json is False and args.path is None and args.config is None


def test_search_as_of_answers_the_past(cli: Cli) -> None:
    cli("add", "I live in Rome.", "--user", "v")
    cli("add", "I moved to Oslo.", "--user", "v")
    past = cli("search", "where do I live", "--user", "v", "--as-of", "2000-01-01", "--json").data()
    assert past["results"] == []
    now = cli("search", "where do I live", "--user", "v", "--json").data()
    assert "Oslo" in now["results"][0]["memory"]


def test_errors_are_one_line_with_status_2(cli: Cli) -> None:
    no_scope = cli("list")
    assert no_scope.rc == 2 and no_scope.err.startswith("memlayer: error: ") and "user_id" in no_scope.err
    assert "Traceback" not in no_scope.err and len(no_scope.err.strip().splitlines()) == 1
    bad_meta = cli("add", "x", "--user", "u", "--metadata", "{oops")
    assert bad_meta.rc == 2 and "--metadata is not valid JSON" in bad_meta.err
    unknown = cli("history", "no-such-id")
    assert unknown.rc == 2 and unknown.out == ""
    assert unknown.err.strip() == "memlayer: error: no memory with id 'no-such-id' (try `memlayer list --user ...` for ids)"


def test_debug_shows_the_traceback(cli: Cli) -> None:
    from memlayer.errors import ScopeError

    with pytest.raises(ScopeError):
        cli("list", "--debug")


def test_history_of_a_deleted_memory_is_still_shown(cli: Cli) -> None:
    added = cli("add", "I like tea", "--user", "u", "--no-infer", "--json").data()["results"][0]["id"]
    cli("forget", "--id", added)
    history = cli("history", added, "--json").data()
    assert [h["event"] for h in history] == ["ADD", "DELETE"]


def test_add_timestamp_dates_the_memory_and_its_relative_dates(cli: Cli) -> None:
    out = cli("add", "I moved here yesterday.", "--user", "u", "--timestamp", "2024-02-03T09:00:00Z", "--json")
    fact = next(r for r in out.data()["results"] if r["event"] == "ADD")
    row = cli("show", fact["id"], "--json").data()["memory"]
    assert row["created_at"].startswith("2024-02-03T09:00:00") and row["valid_from"] == row["created_at"]
    assert "2024-02-02" in row["memory"]  # "yesterday" of that day, not of today
    epoch = cli("add", "note", "--user", "u", "--no-infer", "--timestamp", "1700000000", "--json").data()
    assert cli("show", epoch["results"][0]["id"], "--json").data()["memory"]["created_at"].startswith("2023-11-14T22:13:20")
    past = cli("search", "moved", "--user", "u", "--as-of", "2024-02-02", "--json").data()
    assert [r["memory"] for r in past["results"]] == ["note"]  # the move was not said yet then; the 2023 note was
    bad = cli("add", "x", "--user", "u", "--timestamp", "last tuesday")
    assert bad.rc == 2 and "'last tuesday' is not a time" in bad.err


def test_demo_prints_hits_in_rank_order(cli: Cli) -> None:
    out = cli("demo")
    assert out.rc == 0
    blocks = [b.split("\n\n")[0] for b in out.out.split('\n? "')[1:]]
    assert len(blocks) == 5
    for block in blocks:
        lines = block.splitlines()
        assert lines[1].split() == ["score", "similarity"]
        scores = [float(line.split()[0]) for line in lines[2:] if not line.strip().startswith("graph:")]
        assert scores and scores == sorted(scores, reverse=True), block


def test_demo_touches_nothing_but_its_own_user(cli: Cli, store_dir: Path) -> None:
    """Pointed at a store that holds an application's data, the demo writes under a user id of its own and
    forgets only that one: the store's own "alice" keeps her memories, and no user of the demo stays behind."""
    assert cli("add", "I live in Oslo.", "--user", "alice").rc == 0
    out = cli("demo")
    assert out.rc == 0, out.err
    tour = re.search(r"the tour's user: (demo-alice-[0-9a-f]{8})", out.out)
    assert tour and f"store: sqlite:{store_dir}" in out.out and f"forget {tour.group(1)}: Forgot" in out.out
    assert "User lives in Oslo" in cli("list", "--user", "alice").out
    with Memory(str(store_dir), embedder="hash") as m:
        assert [u["id"] for u in m.scopes()["users"]] == ["alice"]
