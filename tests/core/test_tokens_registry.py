"""Offline token counting, the provider registry, and packaging."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import numpy as np
import pytest

from memlayer import Memory, registry
from memlayer.errors import ConfigError


def test_tokens_count_offline_without_any_cache(tmp_path):
    code = (
        "from memlayer.tokens import count_tokens; "
        "assert count_tokens('hello world') == 2; assert count_tokens('<|endoftext|>') > 1; print('ok')"
    )
    env = {"TIKTOKEN_CACHE_DIR": str(tmp_path / "empty"), "PATH": "", "HOME": str(tmp_path),
           "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


class TinyEmbedder:
    dims = 8

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def embed(self, texts):
        return np.array([[len(t) * self.scale, 1, 0, 0, 0, 0, 0, 1] for t in texts], dtype=np.float32)


def test_register_a_provider_by_name(tmp_path):
    registry.register("embedders", "tiny-test", TinyEmbedder)
    assert "tiny-test" in registry.names("embedders")
    with Memory(str(tmp_path), embedder={"provider": "tiny-test", "config": {"scale": 2.0}}, graph=False) as m:
        assert m.async_memory.embedder.scale == 2.0
        m.add("abc", user_id="u", infer=False)
        assert m.search("abc", user_id="u")["results"]


def test_user_object_embedder_and_bad_shapes(tmp_path):
    class Wrong(TinyEmbedder):
        def embed(self, texts):
            return np.zeros((len(texts), 3))

    with Memory(str(tmp_path), embedder=Wrong(), graph=False) as m, pytest.raises(Exception, match="shape"):
        m.add("abc", user_id="u", infer=False)


def test_unknown_provider_names_the_choices():
    with pytest.raises(ConfigError, match="hash"):
        registry.get("embedders", "no-such-embedder")
    with pytest.raises(ConfigError):
        registry.get("nonsense", "x")


def test_builtins_are_entry_points():
    eps = {ep.name for ep in importlib.metadata.entry_points(group="memlayer.embedders")}
    assert {"hash", "openai", "sentence-transformers"} <= eps


def test_wheel_installs_memlayer_not_core(tmp_path):
    """The core lives in core/ but the built distribution only ever contains `memlayer`."""
    import shutil
    import zipfile
    from pathlib import Path

    # Built from a copy without build caches: a stale build/ or egg-info would let a file the project's
    # own settings leave out slip into the wheel.
    root = tmp_path / "src"
    shutil.copytree(Path(__file__).resolve().parents[2], root, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "test-artifacts", ".benchmarks"))
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(root)],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    wheel = next(tmp_path.glob("memlayer-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"memlayer", "langchain_memlayer", "llamaindex_memlayer", wheel.name.split("-py")[0] + ".dist-info"}
    assert "memlayer/py.typed" in names and "memlayer/data/cl100k_base.tiktoken" in names
    assert "memlayer/projections/graph.py" in names and "memlayer/vectors/faiss.py" in names
    static = root / "core" / "server" / "static"  # the memory browser's pages ship with the wheel
    assert {f"memlayer/server/static/{f.name}" for f in static.iterdir()} <= set(names)
    assert "memlayer/server/static/index.html" in names and "memlayer/server/static/app.js" in names
