"""``memlayer demo`` on a PostgreSQL store: named by ``--store`` or, like every command, by
$MEMLAYER_DATABASE_URL; it touches nothing but the user it writes under."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from memlayer import Memory
from memlayer.cli import main
from memlayer.storage import DATABASE_URL_VARIABLE


@pytest.mark.parametrize("named_by", ["option", "environment"])
def test_demo_runs_on_the_database_and_leaves_its_users_alone(
    named_by: str, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with Memory(str(tmp_path / "app"), store=postgres_url, embedder="hash", graph=False) as app:
        app.add("I live in Oslo.", user_id="alice")
    options = ["--store", postgres_url] if named_by == "option" else []
    if named_by == "environment":
        monkeypatch.setenv(DATABASE_URL_VARIABLE, postgres_url)
    assert main([*options, "--path", str(tmp_path / "demo"), "--embedder", "hash", "demo"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"store: postgresql://\S*schema=t\d+_", out) and "Forgot" in out
    assert "San Francisco" in out  # the tour ran there: it remembered, updated and recalled
    monkeypatch.delenv(DATABASE_URL_VARIABLE, raising=False)
    with Memory(str(tmp_path / "app"), store=postgres_url, embedder="hash", graph=False) as app:
        assert [u["id"] for u in app.scopes()["users"]] == ["alice"]
        assert [r["memory"] for r in app.get_all(user_id="alice")["results"]] == ["User lives in Oslo"]
