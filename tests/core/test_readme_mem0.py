"""README's "Coming from mem0" runs as written: its Python against the fake OpenAI server (pointed at by the
environment, as a mem0 user's OPENAI_API_KEY would be), then its import command on a mem0 export of alice."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from memlayer import Memory
from memlayer.cli import main
from tests import readme
from tests.fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parents[2]
BLOCKS = readme.blocks("## Coming from mem0")
EXPORT = ROOT / "tests" / "cli" / "fixtures" / "mem0_get_all.json"


def test_the_section_has_its_examples() -> None:
    assert [lang for lang, _ in BLOCKS] == ["python", "bash"]


def test_coming_from_mem0(fake_openai: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("sentence_transformers")
    for name, value in {"OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": fake_openai.base_url,
                        "MEMLAYER_HOME": str(tmp_path / "home")}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    fake_openai.script_chat({"facts": [{"event": "ADD", "text": "User is allergic to peanuts",
                                        "attribute": "allergy:peanuts"}], "relations": []})
    scope: dict[str, Any] = {}
    try:
        exec(compile(BLOCKS[0][1], "README.md (Coming from mem0)", "exec"), scope)  # noqa: S102 - the README's code
    finally:
        scope["m"].close()
    assert capsys.readouterr().out.strip() == "User is allergic to peanuts"
    (chat,) = [r.json for r in fake_openai.calls("/chat/completions")]
    assert "Only remember what the user eats, avoids or is allergic to." in chat["messages"][0]["content"]
    assert chat["model"] == "gpt-4o-mini" and chat["temperature"] == 0.1

    items = json.loads(EXPORT.read_text())["results"]
    alice = [i for i in items if i.get("user_id") == "alice"]  # what get_all(filters={"user_id": "alice"}) gives
    (tmp_path / "alice.json").write_text(json.dumps({"results": alice}))
    commands = [shlex.split(line) for line in BLOCKS[1][1].splitlines() if line.startswith("memlayer ")]
    assert len(commands) == 1
    assert main(commands[0][1:]) == 0
    assert "imported 5 records: 4 add, 1 none" in capsys.readouterr().out
    with Memory("./memories") as m:
        texts = {r["memory"] for r in m.get_all(user_id="alice")["results"]}
        assert {"User is allergic to peanuts", "Is allergic to peanuts", "Loves ramen, especially tonkotsu"} <= texts
        assert m.get(alice[1]["id"])["updated_at"] == "2025-04-19T02:02:05.000001+00:00"  # type: ignore[index]
