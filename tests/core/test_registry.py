"""The provider registry: built-ins declared once (pyproject's entry points), typed lookups, offered
arguments, runtime registrations and third-party entry points."""

from __future__ import annotations

import importlib.metadata
import logging
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memlayer import registry
from memlayer.embeddings.base import Embedder
from memlayer.errors import ConfigError
from memlayer.extract.base import Extractor
from memlayer.graph.base import GraphStore
from memlayer.llm.base import LLM
from memlayer.rerank.base import Reranker
from memlayer.storage.base import Store
from memlayer.vectors.base import VectorIndex

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_registry() -> Iterator[None]:
    """Undo this test's registrations and entry-point reads."""
    saved = (dict(registry._registered), set(registry._runtime), set(registry._loaded_groups))
    yield
    for live, old in zip((registry._registered, registry._runtime, registry._loaded_groups), saved, strict=True):
        live.clear()
        live.update(old)  # type: ignore[attr-defined]


def test_builtins_are_declared_once_as_entry_points() -> None:
    tomllib = pytest.importorskip("tomllib")
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    installed = importlib.metadata.distribution("memlayer").entry_points
    for kind in registry.KINDS:
        group = f"memlayer.{kind}"
        assert group in declared, f"pyproject.toml declares no {group} entry points"
        assert {ep.name: ep.value for ep in installed if ep.group == group} == declared[group], (
            f"the installed entry points of {group} differ from pyproject.toml: reinstall (pip install -e .)"
        )
        assert set(declared[group]) <= set(registry.names(kind))  # type: ignore[arg-type]
    assert not hasattr(registry, "_BUILTINS")  # no second list in the code


@pytest.mark.parametrize("kind", registry.KINDS)
def test_every_builtin_loads(kind: Any) -> None:
    for name in registry.names(kind):
        assert callable(registry.get(kind, name))


def test_lookups_are_typed() -> None:
    """``create``/``get`` overloads give each kind its protocol (what a type checker reports)."""
    expected = {"llms": LLM, "embedders": Embedder, "vector_indexes": VectorIndex, "graph_stores": GraphStore,
                "extractors": Extractor, "stores": Store, "rerankers": Reranker}
    namespace = {**vars(registry), "LLM": LLM, "Embedder": Embedder, "VectorIndex": VectorIndex,
                 "GraphStore": GraphStore, "Extractor": Extractor, "Store": Store, "Reranker": Reranker}
    for function in (registry.create, registry.get):
        typed = {}
        for overload in typing.get_overloads(function):
            hints = typing.get_type_hints(overload, globalns=namespace)
            (kind,) = typing.get_args(hints["kind"])
            result = hints["return"]
            typed[kind] = result if function is registry.create else typing.get_args(result)[1]
        assert typed == expected


def test_offered_arguments_reach_only_factories_that_take_them(clean_registry: None) -> None:
    seen: dict[str, Any] = {}

    class NeedsLLM:
        def __init__(self, llm: Any, *, depth: int = 1) -> None:
            seen["needs"] = (llm, depth)

    def plain(depth: int = 1) -> str:
        seen["plain"] = depth
        return "plain"

    registry.register("extractors", "needs-llm", NeedsLLM)
    registry.register("extractors", "plain", plain)
    registry.create("extractors", {"provider": "needs-llm", "config": {"depth": 3}}, offer={"llm": "the-llm", "x": 1})
    registry.create("extractors", "plain", offer={"llm": "the-llm"})
    assert seen == {"needs": ("the-llm", 3), "plain": 1}
    registry.create("extractors", {"provider": "needs-llm", "config": {"llm": "mine"}}, offer={"llm": "the-llm"})
    assert seen["needs"] == ("mine", 1)  # the config wins over an offer


def test_registrations_win_and_load_lazily(clean_registry: None) -> None:
    registry.register("embedders", "hash", "memlayer.embeddings.hashing:HashingEmbedder")
    registry.register("embedders", "lazy-missing", "no_such_module_xyz:Thing")
    assert "lazy-missing" in registry.names("embedders")  # nothing imported yet
    with pytest.raises(ConfigError, match=r"'lazy-missing' \(no_such_module_xyz:Thing\) cannot be loaded"):
        registry.get("embedders", "lazy-missing")
    with pytest.raises(ConfigError, match="must be callable"):
        registry.register("embedders", "bad", 42)  # type: ignore[arg-type]


@pytest.mark.parametrize(("spec", "needle"), [
    ({"provider": "hash", "config": {"dimz": 8}}, "embedder 'hash' does not take these settings"),
    ({"provider": "hash", "config": [1]}, "'config' of embedder 'hash' must be a mapping"),
    ({"name": "hash"}, "takes 'provider' \\(a name\\) and optional 'config'"),
    ("no-such", "no embedder named 'no-such'; registered: hash, local, openai"),
])
def test_bad_specs_name_the_problem(spec: Any, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        registry.create("embedders", spec)


def test_third_party_entry_points(tmp_path: Path, clean_registry: None, monkeypatch: pytest.MonkeyPatch,
                                  caplog: pytest.LogCaptureFixture) -> None:
    """A distribution's entry points add providers; one naming a built-in does not replace memlayer's."""
    (tmp_path / "thirdparty_mod.py").write_text(
        "class Tiny:\n    dims = 4\n    def embed(self, texts):\n        return [[1.0, 0, 0, 0] for _ in texts]\n"
        "class Evil:\n    pass\n"
    )
    info = tmp_path / "thirdparty-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[memlayer.embedders]\ntiny-3p = thirdparty_mod:Tiny\nopenai = thirdparty_mod:Evil\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry._loaded_groups.discard("embedders")
    with caplog.at_level(logging.WARNING, logger="memlayer"):
        names = registry.names("embedders")
    assert "tiny-3p" in names
    assert registry.create("embedders", "tiny-3p").dims == 4
    assert registry.get("embedders", "openai").__module__ == "memlayer.embeddings.openai"
    assert ("two entry points name the embedder 'openai': keeping memlayer.embeddings.openai:OpenAIEmbedder "
            "(memlayer), ignoring thirdparty_mod:Evil (thirdparty)") in caplog.text
    sys.modules.pop("thirdparty_mod", None)
