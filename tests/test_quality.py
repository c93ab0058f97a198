"""The code base stays ruff- and mypy-clean (run in CI like every other test)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"memlayer": "core", "langchain_memlayer": "langchain_memlayer", "llamaindex_memlayer": "llamaindex_memlayer"}


def test_ruff_clean():
    if shutil.which("ruff") is None and not _module_available("ruff"):
        pytest.skip("ruff is not installed (it comes with the dev extra)")
    out = subprocess.run([sys.executable, "-m", "ruff", "check", str(ROOT)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.slow
def test_mypy_clean(tmp_path):
    if not _module_available("mypy"):
        pytest.skip("mypy is not installed (it comes with the dev extra)")
    # mypy must see the installed names: core/ imports as `memlayer`, so it checks a link farm.
    for name, folder in PACKAGES.items():
        os.symlink(ROOT / folder, tmp_path / name)
    args = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
            "--cache-dir", str(tmp_path / ".mypy_cache")]
    for name in PACKAGES:
        args += ["-p", name]
    out = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "MYPYPATH": str(tmp_path)})
    assert out.returncode == 0, out.stdout + out.stderr


def _module_available(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
