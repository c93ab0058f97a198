"""The structure holds: the layer contracts (import-linter), no import circles, and no SQL outside storage/."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"memlayer": ROOT / "core", "langchain_memlayer": ROOT / "langchain_memlayer",
            "llamaindex_memlayer": ROOT / "llamaindex_memlayer"}
SQL = re.compile(
    r"\bSELECT\b[^{}]*?\bFROM\s+[A-Za-z_(]|\bINSERT\s+(OR\s+\w+\s+)?INTO\b|\bDELETE\s+FROM\b|\bUPDATE\s+\w+\s+SET\b"
    r"|\bPRAGMA\s+\w|\bCREATE\s+(TABLE|INDEX|VIRTUAL|TRIGGER|UNIQUE)\b|\bALTER\s+TABLE\b|\bDROP\s+(TABLE|INDEX)\b",
)  # keywords in capitals, as every statement of this code base writes them


def test_layer_contracts_hold():
    pytest.importorskip("importlinter")
    out = subprocess.run([sys.executable, "-m", "importlinter.cli", "--config", str(ROOT / "pyproject.toml")],
                         capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0 and "No module named importlinter.cli" in out.stderr:
        out = subprocess.run(["lint-imports", "--config", str(ROOT / "pyproject.toml")],
                             capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr


def test_no_import_circles():
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    modules = {m for m in graph.modules if m not in PACKAGES}  # a package root only re-exports lazily
    edges = {m: {d for d in graph.find_modules_directly_imported_by(m) if d in modules} for m in modules}
    circles = [c for c in _strongly_connected(edges) if len(c) > 1]
    assert not circles, "import circles: " + "; ".join(" <-> ".join(sorted(c)) for c in circles)


def test_no_sql_outside_storage():
    """Only memlayer.storage speaks SQL: no SQL text in any other module, no sqlite3 import."""
    found = []
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder)
            if package == "memlayer" and rel.parts[0] == "storage":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
                    found.append(f"{package}/{rel}:{node.lineno}: {node.value[:60]!r}")
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                    if any(n.split(".")[0] in ("sqlite3", "psycopg", "psycopg_pool") for n in names):
                        found.append(f"{package}/{rel}:{node.lineno}: imports {names}")
    assert not found, "SQL outside storage/:\n" + "\n".join(found)


def test_the_sql_detector_sees_sql_and_not_sparql():
    assert SQL.search("SELECT rid FROM memories WHERE x = ?")
    assert SQL.search("INSERT INTO meta VALUES (?, ?)")
    assert SQL.search("UPDATE memories SET text = ?")
    assert not SQL.search("SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
    assert not SQL.search("Select the memories from the scope")


def _strongly_connected(edges: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.add(top)
                    if top == node:
                        break
                out.append(component)
    return out
