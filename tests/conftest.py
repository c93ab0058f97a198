"""Shared fixtures. Tests run offline: the tiktoken cache points at ../shared when present."""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_shared_cache = ROOT.parent / "shared" / "tiktoken_cache"
if _shared_cache.is_dir():
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(_shared_cache))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# tests never reach a real provider, or a developer's database, by accident
for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MEMLAYER_DATABASE_URL"):
    os.environ.pop(var, None)

LOCOMO_DEV = ROOT.parent / "shared" / "data" / "locomo" / "locomo_dev.json"

# Real PostgreSQL / Oxigraph servers as fixtures (and the CI rule that their tests never skip);
# pytester tests that rule. tests.postgres.fixtures: a schema per test for the PostgreSQL store's tests.
pytest_plugins = ["pytester", "tests.server_fixtures", "tests.postgres.fixtures"]


@pytest.fixture
def hash_embedder():
    from memlayer.embeddings.hashing import HashingEmbedder

    return HashingEmbedder(dims=64)


@pytest.fixture
def memory(tmp_path: Path, hash_embedder) -> Iterator:
    """A synchronous Memory on disk with the cheap deterministic embedder (no graph: fast)."""
    from memlayer import Memory

    m = Memory(str(tmp_path / "store"), embedder=hash_embedder, graph=False)
    yield m
    m.close()


@pytest.fixture
async def amemory(tmp_path: Path, hash_embedder) -> AsyncIterator:
    from memlayer import AsyncMemory

    m = AsyncMemory(str(tmp_path / "store"), embedder=hash_embedder, graph=False)
    yield m
    await m.close()


@pytest.fixture(scope="session")
def local_embedder():
    """The real offline all-MiniLM-L6-v2 embedder (loaded once per test session)."""
    pytest.importorskip("sentence_transformers")
    from memlayer.embeddings.sentence_transformers import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture
def fake_openai() -> Iterator:
    """A started fake OpenAI-compatible server on 127.0.0.1 (``.base_url``, ``.script_chat``, ``.requests``)."""
    from tests.fake_openai import FakeOpenAI

    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def llm_config(fake_openai):
    """memlayer's llm= config pointing the real openai client at the fake server (fast retries)."""
    return {"provider": "openai", "config": {"base_url": fake_openai.base_url, "api_key": "test-key",
                                             "model": "fake-model", "max_retries": 2, "backoff": 0.01,
                                             "timeout": 1.0}}


@pytest.fixture
def held_save(monkeypatch):
    """FaissIndex writes a snapshot file only once ``release`` is set (``writing`` is set when it starts): a test
    acts while a snapshot is under way. Yields ``(writing, release)``; ``release`` is set at teardown."""
    from memlayer.vectors.faiss import FaissIndex

    writing, release = threading.Event(), threading.Event()
    write = FaissIndex._write

    def held(self, *args):
        writing.set()
        assert release.wait(30), "the test never let the save go on"
        return write(self, *args)

    monkeypatch.setattr(FaissIndex, "_write", held)
    yield writing, release
    release.set()
