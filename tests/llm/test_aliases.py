"""llm="ollama" / "vllm" / "lmstudio" / "azure": the OpenAI provider with each server's usual endpoint,
checked for the defaults they set and against the fake server (base_url override)."""

from __future__ import annotations

from typing import Any

import pytest

from memlayer import Memory, registry
from memlayer.embeddings.hashing import HashingEmbedder
from memlayer.errors import LLMError
from memlayer.llm.compatible import AZURE_API_VERSION
from memlayer.llm.openai import OpenAILLM
from tests.fake_openai import FakeOpenAI

MSGS = [{"role": "user", "content": "hello"}]
ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OLLAMA_HOST", "VLLM_API_KEY", "AZURE_OPENAI_API_KEY",
       "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_DEPLOYMENT", "OPENAI_API_VERSION")


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(("name", "endpoint"), [
    ("ollama", "http://localhost:11434/v1"),
    ("vllm", "http://localhost:8000/v1"),
    ("lmstudio", "http://localhost:1234/v1"),
])
def test_local_servers_get_their_usual_endpoint(name: str, endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://elsewhere:9/v1")  # an alias names its own endpoint
    llm = registry.create("llms", name)
    assert isinstance(llm, OpenAILLM)
    assert llm.base_url == endpoint and llm.model is None  # the model is asked of the server
    assert str(llm._transport.client.base_url).rstrip("/") == endpoint
    assert (llm.timeout, llm.deadline) == (30.0, 60.0)


@pytest.mark.parametrize(("host", "endpoint"), [
    ("127.0.0.1", "http://127.0.0.1:11434/v1"),
    ("gpu-box:8080", "http://gpu-box:8080/v1"),
    ("https://ollama.example.com", "https://ollama.example.com/v1"),
])
def test_ollama_honours_ollama_host(host: str, endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", host)
    assert registry.create("llms", "ollama").base_url == endpoint


@pytest.mark.parametrize("name", ["ollama", "vllm", "lmstudio"])
async def test_against_the_fake_server_with_the_served_model(
    name: str, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-for-openai-only")
    fake_openai.models = ["llama3.1:8b", "qwen2.5:7b"]
    llm = registry.create("llms", {"provider": name, "config": {"base_url": fake_openai.base_url, "backoff": 0.01}})
    fake_openai.script_chat("hi there", "again")
    assert (await llm.complete(MSGS)).content == "hi there"
    assert (await llm.complete(MSGS)).content == "again"
    assert [r.method for r in fake_openai.requests] == ["GET", "POST", "POST"]  # the model is asked once
    assert [r.json["model"] for r in fake_openai.calls("/chat/completions")] == ["llama3.1:8b"] * 2
    assert {r.headers["authorization"] for r in fake_openai.requests} == {"Bearer not-needed"}  # never OpenAI's key
    assert llm.model == "llama3.1:8b"
    await llm.aclose()  # type: ignore[attr-defined]


async def test_an_explicit_model_and_key_are_used_as_given(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_API_KEY", "vllm-token")
    llm = registry.create("llms", {"provider": "vllm", "config": {"base_url": fake_openai.base_url, "model": "mistral"}})
    await llm.complete(MSGS)
    assert [r.method for r in fake_openai.requests] == ["POST"]
    assert fake_openai.requests[0].json["model"] == "mistral"
    assert fake_openai.requests[0].headers["authorization"] == "Bearer vllm-token"


async def test_a_server_with_no_model_says_so(fake_openai: FakeOpenAI) -> None:
    fake_openai.models = []
    llm = registry.create("llms", {"provider": "ollama", "config": {"base_url": fake_openai.base_url}})
    with pytest.raises(LLMError, match="no model is served at .*; pass model="):
        await llm.complete(MSGS)


def test_a_memory_with_an_alias(tmp_path: Any, fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat({"facts": [{"event": "ADD", "text": "User likes tea"}], "relations": []})
    llm = {"provider": "lmstudio", "config": {"base_url": fake_openai.base_url}}
    with Memory(str(tmp_path), embedder=HashingEmbedder(32), graph=False, llm=llm) as m:
        assert [r["memory"] for r in m.add("I like tea", user_id="u")["results"]] == ["User likes tea"]
    with Memory(":memory:", embedder=HashingEmbedder(8), graph=False, llm="ollama") as m:  # no network at open
        assert m.async_memory.llm.base_url == "http://localhost:11434/v1"  # type: ignore[union-attr]


async def test_azure_from_the_environment(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", fake_openai.base_url.removesuffix("/v1"))
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "az-key")
    llm = registry.create("llms", "azure")
    fake_openai.script_chat("from azure")
    assert (await llm.complete(MSGS)).content == "from azure"
    request = fake_openai.requests[-1]
    assert request.path == f"/openai/deployments/gpt-4o-mini/chat/completions?api-version={AZURE_API_VERSION}"
    assert request.headers["api-key"] == "az-key"

    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "my-deployment")
    monkeypatch.setenv("OPENAI_API_VERSION", "2025-01-01-preview")
    await registry.create("llms", "azure").complete(MSGS)
    assert fake_openai.requests[-1].path.startswith("/openai/deployments/my-deployment/chat/completions?api-version=2025-01-01-preview")


def test_azure_without_an_endpoint_says_what_to_set() -> None:
    with pytest.raises(LLMError, match="set AZURE_OPENAI_ENDPOINT"):
        registry.create("llms", "azure")
