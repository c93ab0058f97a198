"""memlayer show (history, provenance, relations) and memlayer graph (html, svg, png)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Cli


@pytest.fixture
def alice(cli: Cli) -> dict[str, str]:
    """alice lived in New York, moved to San Francisco, met Sarah from Google: memory ids by city/Sarah."""
    ids: dict[str, str] = {}
    for key, said in (("ny", "I live in New York."), ("sarah", "I had a meeting with Sarah from Google about the new search project."),
                      ("sf", "I moved to San Francisco.")):
        out = cli("add", said, "--user", "alice", "--json").data()
        ids[key] = next(r["id"] for r in out["results"] if r["event"] == "ADD")
    return ids


def test_show_a_superseded_memory_with_history_provenance_and_relations(cli: Cli, alice: dict[str, str]) -> None:
    out = cli("show", alice["ny"])
    assert out.rc == 0
    text = out.out
    assert "text     User lives in New York" in text and "scope    user_id=alice" in text
    assert f"superseded by {alice['sf']}" in text
    assert "from user: 'I live in New York.'" in text and "from user: 'I moved to San Francisco.'" in text
    history = text.split("history", 1)[1]
    assert history.index("ADD") < history.index("DELETE")
    assert "user -[LIVES_IN]-> New York" in text and "until " in text


def test_show_relations_only_of_that_memory(cli: Cli, alice: dict[str, str]) -> None:
    data = cli("show", alice["sarah"], "--json").data()
    assert data["memory"]["memory"] == "User had a meeting with Sarah from Google about the new search project"
    triples = {(r["source"], r["relationship"], r["destination"], r["current"]) for r in data["relations"]}
    assert triples == {("user", "MET", "Sarah", True), ("Sarah", "WORKS_AT", "Google", True)}
    assert all(r["memory_ids"] == [alice["sarah"]] for r in data["relations"])
    assert data["history"][0]["source_messages"][0]["content"].startswith("I had a meeting with Sarah")


def test_show_a_deleted_memory_keeps_its_history(cli: Cli, alice: dict[str, str]) -> None:
    cli("forget", "--id", alice["sf"])
    out = cli("show", alice["sf"])
    assert out.rc == 0 and "status   deleted" in out.out and "DELETE" in out.out


def test_show_an_unknown_id(cli: Cli) -> None:
    out = cli("show", "no-such-id")
    assert out.rc == 2 and "no memory with id 'no-such-id'" in out.err


def test_graph_pictures(cli: Cli, alice: dict[str, str], tmp_path: Path) -> None:
    png, svg, page = tmp_path / "g.png", tmp_path / "g.svg", tmp_path / "g.html"
    out = cli("graph", "--user", "alice", "--out", str(png))
    assert out.rc == 0 and "5 entities, 4 relations (1 superseded)" in out.err
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert cli("graph", "--user", "alice", "--out", str(svg)).rc == 0
    drawing = svg.read_text()
    assert "<svg" in drawing and "Francisco" in drawing and "WORKS_AT" in drawing and "until 20" in drawing
    assert cli("graph", "--user", "alice", "--out", str(page), "--title", "Alice & co").rc == 0
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "Alice &amp; co" in html
    assert "<script" not in html and "http://" not in html.split("<svg", 1)[0]  # self-contained, nothing fetched
    assert html.count("<tr class='current'>") == 3 and html.count("<tr class='superseded'>") == 1


def test_graph_current_only_and_bad_output_name(cli: Cli, alice: dict[str, str], tmp_path: Path) -> None:
    out = cli("graph", "--user", "alice", "--current", "--out", str(tmp_path / "g.svg"))
    assert "3 relations (0 superseded)" in out.err
    bad = cli("graph", "--user", "alice", "--out", str(tmp_path / "g.gif"))
    assert bad.rc == 2 and "--out must end in .html, .svg, .png" in bad.err


def test_render_an_empty_graph() -> None:
    from memlayer.cli.draw import render

    assert b"no relations yet" in render([], "svg")
