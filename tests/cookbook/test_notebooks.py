"""Every cookbook notebook runs top to bottom, offline, in a fresh MEMLAYER_HOME, on this interpreter.

The kernel is this test process's own Python: a kernelspec written to a temporary directory (through
jupyter_client's KernelSpecManager, so no user or system Jupyter configuration is read or changed).
A failing cell fails the test with the cell's error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
COOKBOOK = ROOT / "cookbook"
NOTEBOOKS = sorted(COOKBOOK.glob("*.ipynb"))
KERNEL = "memlayer-cookbook"
CELL_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelSpecManager]:
    kernels = tmp_path_factory.mktemp("kernels")
    spec = kernels / KERNEL
    spec.mkdir()
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"memlayer tests ({sys.executable})", "language": "python",
    }))
    yield KernelSpecManager(kernel_dirs=[str(kernels)])


def run_notebook(path: Path, specs: KernelSpecManager) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    manager = KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)
    client = NotebookClient(nb, km=manager, timeout=CELL_TIMEOUT_S, allow_errors=False,
                            resources={"metadata": {"path": str(COOKBOOK)}})
    try:
        client.execute()
    finally:  # nbclient shuts down only kernels it started itself, not one whose manager it was given
        if manager.has_kernel:
            manager.shutdown_kernel(now=True)
    return nb


def outputs(nb: nbformat.NotebookNode, kind: str) -> list[object]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if kind in o.get("data", {})]


def test_the_cookbook_has_its_notebooks() -> None:
    assert [p.stem for p in NOTEBOOKS] == [
        "01_quickstart", "02_langchain_agent", "03_llamaindex_chat", "04_knowledge_graph", "05_benchmarks",
        "06_server",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, kernel_specs: KernelSpecManager, tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMLAYER_HOME", str(tmp_path / "home"))  # the kernel inherits this environment
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = run_notebook(path, kernel_specs)
    if path.stem == "04_knowledge_graph":
        assert outputs(nb, "image/svg+xml"), "the knowledge graph picture was not displayed"
    if path.stem == "05_benchmarks":
        assert outputs(nb, "image/png"), "no benchmark figure was plotted"
    if "Memory()" in path.read_text():
        assert (tmp_path / "home").is_dir()  # the notebook used the fresh store, not ~/.memlayer
