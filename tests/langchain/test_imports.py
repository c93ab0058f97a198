"""A missing optional dependency fails where it is needed, naming the extra to install."""

from __future__ import annotations

import importlib
import sys

import pytest


def hide(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make ``import <module>`` fail, and forget our modules that already imported it."""
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)
    for name in [n for n in sys.modules if n.startswith("langchain_memlayer.") and n != "langchain_memlayer._memory"]:
        monkeypatch.delitem(sys.modules, name)


def test_package_import_is_lazy() -> None:
    import langchain_memlayer

    assert set(langchain_memlayer.__all__) == {
        "MemlayerRetriever", "MemlayerStore", "MemlayerMiddleware", "create_memory_tools",
    }
    with pytest.raises(AttributeError):
        langchain_memlayer.Nope  # noqa: B018


@pytest.mark.parametrize(
    ("hidden", "module", "name"),
    [
        ("langgraph.store.base", "store", "MemlayerStore"),
        ("langchain.agents.middleware", "middleware", "MemlayerMiddleware"),
        ("langgraph.prebuilt", "tools", "create_memory_tools"),
    ],
)
def test_missing_langchain_extra(monkeypatch: pytest.MonkeyPatch, hidden: str, module: str, name: str) -> None:
    import langchain_memlayer

    hide(monkeypatch, hidden)
    with pytest.raises(ImportError, match=r'pip install "memlayer\[langchain\]"'):
        importlib.import_module(f"langchain_memlayer.{module}")
    with pytest.raises(ImportError, match=r'pip install "memlayer\[langchain\]"'):
        getattr(langchain_memlayer, name)
    assert langchain_memlayer.MemlayerRetriever is not None  # the rest still imports


def test_missing_langchain_classic(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "langchain_classic", "langchain_classic.base_memory")
    with pytest.raises(ImportError, match=r'pip install "memlayer\[langchain-classic\]"'):
        importlib.import_module("langchain_memlayer.classic")
