"""README's sections and code blocks, for the tests that run README's examples as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def section(heading: str) -> str:
    """The text under ``heading`` (e.g. "## Serve", "### LlamaIndex") up to the next heading of its level or
    above (lines inside fenced code blocks, such as shell comments, are not headings)."""
    lines = README.read_text(encoding="utf-8").split("\n")
    start = lines.index(heading)
    level = len(heading) - len(heading.lstrip("#"))
    fenced = False
    for end in range(start + 1, len(lines)):
        line = lines[end]
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(rf"#{{1,{level}}} ", line):
            return "\n".join(lines[start:end])
    return "\n".join(lines[start:])


def blocks(heading: str) -> list[tuple[str, str]]:
    """The fenced code blocks of a section, as (language, code) in order."""
    return re.findall(r"```(\w+)\n(.*?)```", section(heading), flags=re.S)


def code(heading: str, language: str) -> list[str]:
    """The blocks of one language in a section."""
    return [body for lang, body in blocks(heading) if lang == language]


def run_example(code: str, fake_openai: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> str:
    """Run a README example against the fake OpenAI server (pointed at by env) in a fresh MEMLAYER_HOME; what
    it printed. A ``Memory`` it left open (itself or an adapter's ``.memory``) is closed."""
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
