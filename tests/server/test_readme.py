"""README's Serve section runs as written: its commands exist, its curl calls and its Python work against a
real server, its MCP snippets are valid JSON naming a real command and endpoint."""

from __future__ import annotations

import contextlib
import io
import json
import shlex
from pathlib import Path

import httpx

from memlayer.cli import build_parser
from tests import readme

from .harness import ServerProcess, create_key

BLOCKS = readme.blocks("## Serve")


def blocks(kind: str) -> list[str]:
    return [code for lang, code in BLOCKS if lang == kind]


def commands(code: str) -> list[list[str]]:
    joined = code.replace("\\\n", " ")
    return [shlex.split(line.split("#", 1)[0] if not line.lstrip().startswith("curl") else line)
            for line in joined.splitlines() if line.strip()]


def test_the_section_has_its_examples() -> None:
    assert [lang for lang, _ in BLOCKS] == ["bash", "bash", "python", "json", "json"]


def test_the_commands_exist() -> None:
    parser = build_parser()
    for argv in commands(blocks("bash")[0]):
        if argv[0] == "memlayer":
            parser.parse_args(argv[1:])


def curl_to_request(argv: list[str], url: str, key: str) -> httpx.Request:
    assert argv[0] == "curl"
    method, target, headers, data = "GET", None, {}, None
    args = iter(argv[1:])
    for arg in args:
        if arg == "-s":
            continue
        if arg == "-H":
            name, _, value = next(args).partition(":")
            headers[name.strip()] = value.strip().replace("$KEY", key)
        elif arg == "-d":
            data, method = next(args), "POST" if method == "GET" else method
        elif arg == "-X":
            method = next(args)
        else:
            target = arg.replace("http://127.0.0.1:8765", url)
    assert target is not None
    return httpx.Request(method, target, headers=headers, content=data)


def test_curl_and_python_against_a_real_server(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    key = create_key(store, "acme")  # `memlayer keys create --tenant acme`, as the section says
    with ServerProcess(store) as proc, httpx.Client(timeout=60) as http:
        answers = [http.send(curl_to_request(argv, proc.url, key)) for argv in commands(blocks("bash")[1])]
        assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
        assert answers[1].json()["results"][0]["memory"] == "User lives in Lisbon"
        assert [m["memory"] for m in answers[2].json()["results"]] == ["User lives in Lisbon"]

        code = blocks("python")[0].replace("http://127.0.0.1:8765", proc.url)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md (Serve)", "exec"), {"KEY": key})  # noqa: S102 - the README's own code
        printed = out.getvalue()
        assert "User works at Initech" in printed and "WORKS_AT" in printed and "Document(" in printed


def test_mcp_snippets() -> None:
    stdio, http = (json.loads(code)["mcpServers"]["memlayer"] for code in blocks("json"))
    assert stdio["command"] == "memlayer"
    build_parser().parse_args(stdio["args"])
    assert http["url"].endswith("/mcp") and http["headers"]["Authorization"].startswith("Bearer mlk_")
