"""The CLI run in-process: ``cli("add", "...", "--user", "u")`` -> Result(rc, out, err), on a fresh store
with the cheap hash embedder (the Oxigraph graph store stays on: ``show``/``graph``/``export`` need it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Result:
    rc: int
    out: str
    err: str

    def data(self) -> Any:
        """The --json output, after checking that the command succeeded."""
        assert self.rc == 0, f"exit status {self.rc}: {self.err}"
        return json.loads(self.out)


Cli = Callable[..., Result]


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def cli(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    from memlayer.cli import main

    def run(*argv: str, embedder: str | None = "hash") -> Result:
        options = ["--path", str(store_dir)] + (["--embedder", embedder] if embedder else [])
        try:
            rc = main([*options, *argv])
        except SystemExit as exc:  # argparse refusing the command line
            rc = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return Result(rc, captured.out, captured.err)

    return run
