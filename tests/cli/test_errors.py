"""Errors a person can act on: no LLM, a missing extra, a bad config file, an unreadable file."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from .conftest import Cli, Result


def one_line_error(result: Result) -> str:
    assert result.rc == 2 and result.out == ""
    (line,) = result.err.strip().splitlines()
    assert line.startswith("memlayer: error: ") and "Traceback" not in result.err
    return line


def test_no_llm_says_pattern_extractor_and_how_to_configure_one(cli: Cli) -> None:
    out = cli("add", "I live in Paris.", "--user", "u")
    assert out.rc == 0
    (line,) = out.err.strip().splitlines()
    assert "pattern extractor" in line and "OPENAI_API_KEY" in line and '"llm"' in line
    verbatim = cli("add", "I live in Paris.", "--user", "u", "--no-infer")
    assert verbatim.err == ""  # nothing is extracted: nothing to say
    assert cli("list", "--user", "u").err == ""


def test_an_explicit_extractor_is_not_announced(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"extractor": "pattern"}))
    assert cli("--config", str(config), "add", "I live in Paris.", "--user", "u").err == ""


def test_demo_says_which_extractor_it_uses(cli: Cli) -> None:
    out = cli("demo")
    assert out.rc == 0
    assert "pattern extractor" in out.out and "OPENAI_API_KEY" in out.out
    assert "User lives in San Francisco" in out.out and "Forgot" in out.out


def test_missing_local_extra_names_the_install(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "sentence_transformers" else real(name, *a))
    line = one_line_error(cli("list", "--user", "u", embedder=None))
    assert 'pip install "memlayer[local]"' in line


@pytest.mark.parametrize("module", ["networkx", "matplotlib.figure"])
def test_missing_viz_extra_names_the_install(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             module: str) -> None:
    cli("add", "I live in Paris.", "--user", "u")
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if it were not installed
    line = one_line_error(cli("graph", "--user", "u", "--out", str(tmp_path / "g.png")))
    assert 'pip install "memlayer[viz]"' in line and module.split(".")[0] in line
    assert not (tmp_path / "g.png").exists()


def test_bad_config_key_is_named(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "memlayer.json"
    config.write_text(json.dumps({"embeder": "hash", "related_memories": 0}))
    line = one_line_error(cli("--config", str(config), "list", "--user", "u"))
    assert "embeder" in line and "Extra inputs are not permitted" in line
    assert "related_memories" in line and "greater than or equal to 1" in line


def test_a_good_config_file_is_used(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "memlayer.json"
    config.write_text(json.dumps({"embedder": {"provider": "hash", "config": {"dims": 32}}, "graph": False}))
    assert cli("--config", str(config), "add", "I like tea", "--user", "u", "--no-infer", embedder=None).rc == 0
    listed = cli("list", "--user", "u", "--config", str(config), embedder=None)  # after the command, too
    assert "I like tea" in listed.out


@pytest.mark.parametrize(("text", "expected"), [
    ('{"path": "x",\n  oops}', "not valid JSON (line 2, column 3)"),
    ('["a", "list"]', "must hold a JSON object of settings, not list"),
])
def test_config_file_that_is_not_a_json_object(cli: Cli, tmp_path: Path, text: str, expected: str) -> None:
    config = tmp_path / "bad.json"
    config.write_text(text)
    assert expected in one_line_error(cli("--config", str(config), "list", "--user", "u"))


def test_unreadable_files_are_one_line(cli: Cli, tmp_path: Path) -> None:
    assert "cannot read the config file" in one_line_error(cli("--config", str(tmp_path / "nope.json"), "list", "-u", "u"))
    assert "nope.jsonl" in one_line_error(cli("import", str(tmp_path / "nope.jsonl"), "--user", "u"))


@pytest.mark.parametrize(("argv", "kind", "expected"), [
    (["history", "no-such-id"], "NotFoundError", "no memory with id 'no-such-id'"),
    (["list"], "ScopeError", "needs a scope"),
    (["add", "x", "--user", "u", "--metadata", "{oops"], "ConfigError", "--metadata is not valid JSON"),
    (["search", "--user", "u"], "UsageError", "the following arguments are required: query"),
    (["list", "--user", "u", "--limit", "many"], "UsageError", "invalid int value: 'many'"),
    (["frobnicate"], "UsageError", "invalid choice: 'frobnicate'"),
])
def test_json_errors_are_json_on_stderr_with_the_same_status(cli: Cli, argv: list[str], kind: str,
                                                              expected: str) -> None:
    for where in ("before", "after"):
        out = cli("--json", *argv) if where == "before" else cli(*argv, "--json")
        assert out.rc == 2 and out.out == ""
        (line,) = [x for x in out.err.strip().splitlines() if not x.startswith("rebuilding ")]
        error = json.loads(line)["error"]
        assert error["type"] == kind and expected in error["message"]


def test_json_errors_for_a_missing_file_and_a_value_after_the_double_dash(cli: Cli, tmp_path: Path) -> None:
    error = json.loads(cli("--json", "import", str(tmp_path / "nope.jsonl"), "--user", "u").err)["error"]
    assert error["type"] == "FileNotFoundError" and "nope.jsonl" in error["message"]
    plain = cli("search", "--user", "u", "--limit", "x", "--", "--json")  # "--json" as the query: not the option
    assert plain.rc == 2 and plain.err.startswith("usage:")
