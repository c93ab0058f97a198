"""README's LlamaIndex example runs as written, against the fake OpenAI server (pointed at by env)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests import readme


def test_llamaindex_example(fake_openai: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    pytest.importorskip("llama_index.llms.openai")
    pytest.importorskip("sentence_transformers")
    (code,) = readme.code("### LlamaIndex", "python")
    fact = {"facts": [{"event": "ADD", "text": "User is allergic to peanuts"}], "relations": []}
    fake_openai.script_chat("I will remember that.", fact, "Avoid peanuts.", {"facts": [], "relations": []})
    out = readme.run_example(code, fake_openai, tmp_path, monkeypatch, capsys)
    assert "Avoid peanuts." in out
    replies = [r.json for r in fake_openai.calls("/chat/completions") if not r.json.get("response_format")]
    last = str(replies[-1].get("messages"))
    assert "What should I avoid eating?" in last and "User is allergic to peanuts" in last  # recalled
