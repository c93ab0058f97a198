"""README's LangChain example runs as written, against the fake OpenAI server (pointed at by env)."""

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


def test_langchain_example(fake_openai: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    pytest.importorskip("langchain_openai")
    pytest.importorskip("sentence_transformers")
    (code,) = python_blocks("LangChain / LangGraph")
    fact = {"facts": [{"event": "ADD", "text": "User is vegetarian"}], "relations": []}
    fake_openai.script_chat("Noted, you are vegetarian.", fact)  # the agent's reply, then memlayer's extraction
    out = run_example(code, fake_openai, tmp_path, monkeypatch, capsys)
    assert "Document(" in out and "User is vegetarian" in out  # the retriever printed alice's memory
    chats = [r.json for r in fake_openai.calls("/chat/completions")]
    assert any("I'm vegetarian" in str(b.get("messages")) for b in chats)  # the agent's model call went to the fake
