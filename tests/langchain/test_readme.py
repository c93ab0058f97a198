"""README's LangChain example runs as written, against the fake OpenAI server (pointed at by env)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests import readme


def test_langchain_example(fake_openai: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    pytest.importorskip("langchain_openai")
    pytest.importorskip("sentence_transformers")
    (code,) = readme.code("### LangChain / LangGraph", "python")
    fact = {"facts": [{"event": "ADD", "text": "User is vegetarian"}], "relations": []}
    fake_openai.script_chat("Noted, you are vegetarian.", fact)  # the agent's reply, then memlayer's extraction
    out = readme.run_example(code, fake_openai, tmp_path, monkeypatch, capsys)
    assert "Document(" in out and "User is vegetarian" in out  # the retriever printed alice's memory
    chats = [r.json for r in fake_openai.calls("/chat/completions")]
    assert any("I'm vegetarian" in str(b.get("messages")) for b in chats)  # the agent's model call went to the fake
