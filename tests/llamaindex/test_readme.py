"""README's LlamaIndex example runs as written, against the fake OpenAI server (pointed at by env)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks(section: str) -> list[str]:
    text = README.read_text()
    body = text[text.index(f"### {section}"):]
    body = body[: body.index("\n## ", 1)] if "\n## " in body[1:] else body
    body = body[: body.find("\n### ", 1)] if "\n### " in body[1:] else body
    return re.findall(r"```python\n(.*?)```", body, re.DOTALL)


def run_example(code: str, fake_openai: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> str:
    for name, value in {"OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": fake_openai.base_url,
                        "OPENAI_API_BASE": fake_openai.base_url, "MEMLAYER_HOME": str(tmp_path / "home")}.items():
        monkeypatch.setenv(name, value)
    scope: dict[str, Any] = {"__name__": "readme_example"}
    try:
        exec(compile(code, str(README), "exec"), scope)
    finally:
        for value in list(scope.values()):
            close = getattr(getattr(value, "memory", value), "close", None)
            if type(getattr(value, "memory", value)).__name__ == "Memory" and close is not None:
                close()
    return str(capsys.readouterr().out)


def test_llamaindex_example(fake_openai: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    pytest.importorskip("llama_index.llms.openai")
    pytest.importorskip("sentence_transformers")
    (code,) = python_blocks("LlamaIndex")
    fact = {"facts": [{"event": "ADD", "text": "User is allergic to peanuts"}], "relations": []}
    fake_openai.script_chat("I will remember that.", fact, "Avoid peanuts.", {"facts": [], "relations": []})
    out = run_example(code, fake_openai, tmp_path, monkeypatch, capsys)
    assert "Avoid peanuts." in out
    replies = [r.json for r in fake_openai.calls("/chat/completions") if not r.json.get("response_format")]
    last = str(replies[-1].get("messages"))
    assert "What should I avoid eating?" in last and "User is allergic to peanuts" in last  # recalled
