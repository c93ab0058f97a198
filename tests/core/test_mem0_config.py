"""A mem0 ``Memory.from_config`` mapping read as memlayer's (memlayer.compat.mem0): recognised, mapped,
refused by name with what to do instead, and run end to end against the fake OpenAI server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from memlayer import AsyncMemory, Memory
from memlayer.compat.mem0 import DECIDE_FRAME, FOCUS_FRAME, from_mem0_config, looks_like_mem0
from memlayer.config import MemoryConfig, load_config
from memlayer.errors import ConfigError
from tests.fake_openai import FakeOpenAI

ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OLLAMA_HOST", "OPENAI_API_VERSION", "AZURE_OPENAI_ENDPOINT")


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("config", [
    {},
    {"llm": {"provider": "openai", "config": {"model": "gpt-4o-mini", "temperature": 0.1, "api_key": "k"}}},
    {"llm": "ollama", "embedder": "hash", "path": ":memory:"},
    {"embedder": {"provider": "openai", "config": {"base_url": "http://x/v1", "dims": 256}}},
    {"llm": {"provider": "azure", "config": {"azure_endpoint": "https://r.openai.azure.com"}},
     "extractor": {"provider": "llm", "config": {"focus": "food"}}, "graph": False},
])
def test_memlayer_configs_are_read_as_they_are(config: dict[str, Any]) -> None:
    assert not looks_like_mem0(config)
    assert load_config(config) == MemoryConfig(**config)


@pytest.mark.parametrize("config", [
    {"vector_store": {"provider": "qdrant", "config": {"path": "/tmp/qdrant"}}},
    {"version": "v1.1"},
    {"custom_instructions": "Only food."},
    {"custom_fact_extraction_prompt": "Only food."},
    {"llm": {"provider": "azure_openai", "config": {}}},
    {"llm": {"provider": "openai", "config": {"openai_base_url": "http://x/v1"}}},
    {"llm": {"provider": "openai", "config": {"max_tokens": 2000}}},
    {"embedder": {"provider": "huggingface"}},
    {"embedder": {"provider": "openai", "config": {"embedding_dims": 1536}}},
])
def test_mem0_configs_are_recognised(config: dict[str, Any]) -> None:
    assert looks_like_mem0(config)


@pytest.mark.parametrize(("mem0", "memlayer"), [
    ({"provider": "openai", "config": {"model": "gpt-4o-mini", "api_key": "sk", "temperature": 0.1,
                                       "openai_base_url": "https://proxy/v1"}},
     {"provider": "openai", "config": {"model": "gpt-4o-mini", "api_key": "sk", "temperature": 0.1,
                                       "base_url": "https://proxy/v1"}}),
    ({"provider": "openai_structured", "config": {"model": "gpt-4o", "max_retries": 5}},  # memlayer's own keys too
     {"provider": "openai", "config": {"model": "gpt-4o", "max_retries": 5}}),
    ({"config": {"model": "gpt-4o-mini", "top_p": None}},  # mem0's default provider; null means its default
     {"provider": "openai", "config": {"model": "gpt-4o-mini"}}),
    ({"provider": "azure_openai", "config": {"model": "gpt-4o", "azure_kwargs": {
        "azure_deployment": "prod-4o", "azure_endpoint": "https://r.openai.azure.com", "api_key": "ak",
        "api_version": "2024-06-01", "default_headers": None}}},
     {"provider": "azure", "config": {"model": "prod-4o", "azure_endpoint": "https://r.openai.azure.com",
                                      "api_key": "ak", "api_version": "2024-06-01"}}),
    ({"provider": "ollama", "config": {"model": "llama3.1:8b", "ollama_base_url": "http://gpu-box:11434"}},
     {"provider": "ollama", "config": {"model": "llama3.1:8b", "base_url": "http://gpu-box:11434/v1"}}),
    ({"provider": "vllm", "config": {"model": "qwen", "vllm_base_url": "http://gpu:8000/v1"}},
     {"provider": "vllm", "config": {"model": "qwen", "base_url": "http://gpu:8000/v1"}}),
    ({"provider": "lmstudio", "config": {"lmstudio_base_url": "http://mac:1234/v1"}},
     {"provider": "lmstudio", "config": {"base_url": "http://mac:1234/v1"}}),
])
def test_llms_map_onto_memlayers(mem0: dict[str, Any], memlayer: dict[str, Any]) -> None:
    assert from_mem0_config({"llm": mem0, "version": "v1.1"}) == {"llm": memlayer}


@pytest.mark.parametrize(("mem0", "memlayer"), [
    ({"provider": "openai", "config": {"model": "text-embedding-3-large", "embedding_dims": 1024, "api_key": "sk"}},
     {"provider": "openai", "config": {"model": "text-embedding-3-large", "dims": 1024, "api_key": "sk"}}),
    ({"provider": "azure_openai", "config": {"azure_kwargs": {"azure_deployment": "emb", "api_key": "ak",
                                                              "azure_endpoint": "https://r.openai.azure.com"}}},
     {"provider": "openai", "config": {"model": "emb", "api_key": "ak", "azure_endpoint": "https://r.openai.azure.com",
                                       "api_version": "2024-10-21"}}),
    ({"provider": "ollama", "config": {"ollama_base_url": "http://gpu-box:11434"}},
     {"provider": "openai", "config": {"base_url": "http://gpu-box:11434/v1", "api_key": "not-needed",
                                       "model": "nomic-embed-text"}}),
    ({"provider": "ollama", "config": {"model": "mxbai-embed-large"}},
     {"provider": "openai", "config": {"model": "mxbai-embed-large", "api_key": "not-needed",
                                       "base_url": "http://localhost:11434/v1"}}),
    ({"provider": "lmstudio", "config": {"model": "text-embedding-nomic-embed-text-v1.5"}},
     {"provider": "openai", "config": {"model": "text-embedding-nomic-embed-text-v1.5", "api_key": "not-needed",
                                       "base_url": "http://localhost:1234/v1"}}),
    ({"provider": "huggingface", "config": {"model": "/models/minilm", "model_kwargs": {"device": "cpu"},
                                            "embedding_dims": 384}},
     {"provider": "sentence-transformers", "config": {"model": "/models/minilm", "device": "cpu", "dims": 384}}),
    ({"provider": "huggingface", "config": {"huggingface_base_url": "http://tei:8080/v1"}},
     {"provider": "openai", "config": {"base_url": "http://tei:8080/v1", "api_key": "not-needed"}}),
    ({"provider": "hash", "config": {"dims": 64}}, {"provider": "hash", "config": {"dims": 64}}),  # memlayer's own
])
def test_embedders_map_onto_memlayers(mem0: dict[str, Any], memlayer: dict[str, Any]) -> None:
    assert from_mem0_config({"embedder": mem0, "version": "v1.1"}) == {"embedder": memlayer}


def test_what_memlayer_does_differently_is_refused_by_name_with_what_to_do() -> None:
    config = {
        "vector_store": {"provider": "qdrant", "config": {"collection_name": "mem0", "path": "/tmp/qdrant"}},
        "graph_store": {"provider": "neo4j", "config": {"url": "bolt://localhost:7687"}},
        "history_db_path": "/home/me/.mem0/history.db",
        "reranker": {"provider": "cohere", "config": {}},
        "version": "v1.0",
        "llm": {"provider": "openai", "config": {"model": "gpt-4o-mini", "max_tokens": 2000, "top_p": 0.1,
                                                 "ollama_base_url": "http://localhost:11434",
                                                 "http_client_proxies": {"https": "http://proxy:3128"}}},
        "embedder": {"provider": "huggingface", "config": {"model_kwargs": {"device": "cpu", "trust_remote_code": True},
                                                           "api_key": "hf_x"}},
    }
    with pytest.raises(ConfigError) as caught:
        Memory.from_config(config)
    message = str(caught.value)
    for needle in [
        "vector_store (qdrant): memlayer keeps its own FAISS index", "give 'path'", "memlayer import --from mem0",
        "For a shared store (as with pgvector), give 'store': 'postgresql://",
        "graph_store (neo4j): memlayer builds its own knowledge graph", "'graph': true",
        "history_db_path: memlayer keeps every memory's history in the same SQLite store",
        "reranker (cohere): memlayer's rerankers run locally", "search with config='rerank'",
        "version 'v1.0'", "read result['results']",
        "llm.config.max_tokens: memlayer does not cap", "llm.config.top_p", "HTTPS_PROXY",
        "llm.config.ollama_base_url: belongs to provider 'ollama', and this llm is 'openai'; give its endpoint as "
        "openai_base_url",
        "embedder.config.model_kwargs: only the local embedder's model_kwargs {'device': ...} is read",
        "remove trust_remote_code", "embedder.config.api_key: memlayer loads local models offline",
    ]:
        assert needle in message
    assert message.count("\n  - ") == 11  # every problem at once, one line each


@pytest.mark.parametrize(("kind", "provider", "needles"), [
    ("llm", "groq", ["llm.provider 'groq': memlayer has no such llm",
                     "Available: openai, openai_structured, azure_openai, azure_openai_structured, ollama, vllm, lmstudio",
                     '"openai_base_url": "https://api.groq.com/openai/v1"']),
    ("llm", "anthropic", ["memlayer has no such llm", "LiteLLM's proxy", "as provider 'openai' with its openai_base_url"]),
    ("embedder", "gemini", ["embedder.provider 'gemini'", "openai, azure_openai, ollama, lmstudio, huggingface",
                            "and memlayer's hash, local, sentence-transformers", "generativelanguage.googleapis.com"]),
])
def test_an_unknown_provider_lists_the_ones_available(kind: str, provider: str, needles: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        from_mem0_config({kind: {"provider": provider, "config": {"model": "m"}}})
    for needle in needles:
        assert needle in str(caught.value)


@pytest.mark.parametrize(("version", "ok"), [("v1.1", True), ("v2.0", True), ("v1.0", False), (1.1, False)])
def test_version(version: Any, ok: bool) -> None:
    if ok:
        assert from_mem0_config({"version": version}) == {}
    else:
        with pytest.raises(ConfigError, match="version"):
            from_mem0_config({"version": version})


def test_custom_prompts_become_the_extractors_focus_and_instructions() -> None:
    out = from_mem0_config({"custom_fact_extraction_prompt": "  Only food.\n", "custom_update_memory_prompt": "Never delete."})
    assert out == {"extractor": {"provider": "llm", "config": {"focus": FOCUS_FRAME + "Only food.",
                                                                "instructions": DECIDE_FRAME + "Never delete."}}}
    assert from_mem0_config({"custom_instructions": "Only food."}) == {
        "extractor": {"provider": "llm", "config": {"focus": FOCUS_FRAME + "Only food."}}}
    merged = from_mem0_config({"custom_prompt": "Only food.", "extractor": {"provider": "llm", "config": {"max_facts": 5}}})
    assert merged["extractor"]["config"] == {"max_facts": 5, "focus": FOCUS_FRAME + "Only food."}
    assert from_mem0_config({"custom_instructions": None, "custom_update_memory_prompt": "  "}) == {}


@pytest.mark.parametrize(("config", "needle"), [
    ({"custom_instructions": "a", "custom_fact_extraction_prompt": "b"},
     "custom_instructions and custom_fact_extraction_prompt: give one"),
    ({"custom_instructions": "a", "extractor": "pattern"}, "extractor 'pattern': mem0's custom prompts need"),
    ({"custom_instructions": "a", "extractor": {"provider": "llm", "config": {"focus": "b"}}},
     "extractor.config.focus: a mem0 custom prompt sets it as well"),
    ({"custom_instructions": "a", "extractor": {"provider": "llm", "config": {"prompt": "terse"}}},
     "extractor.config.prompt: a whole prompt"),
    ({"custom_update_memory_prompt": ["not", "text"]}, "custom_update_memory_prompt: must be a text, got list"),
    ({"embedder": {"provider": "lmstudio", "config": {}}}, "embedder.config.model: give the name LM Studio shows"),
    ({"llm": {"provider": "openai", "config": {"azure_kwargs": {"api_key": "k"}}}},
     "llm.config.azure_kwargs: belongs to provider 'azure_openai'"),
    ({"llm": {"provider": "openai", "settings": {}}}, "llm: expected {\"provider\": name, \"config\": {...}}"),
])
def test_conflicts_and_bad_values_are_refused(config: dict[str, Any], needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_mem0_config(config)
    assert needle in str(caught.value)


def mem0_config(fake: FakeOpenAI, path: Path) -> dict[str, Any]:
    """What a mem0 user has, plus memlayer's own path and graph keys beside it."""
    return {
        "llm": {"provider": "openai", "config": {"model": "fake-model", "api_key": "sk-test", "temperature": 0.2,
                                                 "openai_base_url": fake.base_url, "max_tokens": None}},
        "embedder": {"provider": "openai", "config": {"model": "text-embedding-3-small", "api_key": "sk-test",
                                                      "openai_base_url": fake.base_url, "embedding_dims": 64}},
        "custom_fact_extraction_prompt": "Only extract allergies. Input: I hate peanuts. Output: {\"facts\": []}",
        "custom_update_memory_prompt": "Never DELETE an allergy; UPDATE it instead.",
        "version": "v1.1",
        "path": str(path),
        "graph": False,
    }


FACT = {"facts": [{"event": "ADD", "text": "User is allergic to peanuts", "attribute": "allergy:peanuts"}],
        "relations": []}


def check_the_calls(fake: FakeOpenAI) -> None:
    (chat,) = [r.json for r in fake.calls("/chat/completions")]
    system = chat["messages"][0]["content"]
    assert chat["model"] == "fake-model" and chat["temperature"] == 0.2
    assert "## What to remember\nAs the owner of this memory describes it" in system
    assert "Only extract allergies." in system and "## Answer" in system  # memlayer's answer shape stays
    assert system.index("## Additional instructions") > system.index("## Answer")
    assert "Never DELETE an allergy; UPDATE it instead." in system
    assert {r.json.get("dimensions") for r in fake.calls("/embeddings")} == {64}


def test_memory_from_a_mem0_config(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.script_chat(FACT)
    with Memory.from_config(mem0_config(fake_openai, tmp_path / "store")) as m:
        out = m.add("I'm allergic to peanuts.", user_id="alice")
        assert [(r["event"], r["memory"]) for r in out["results"]] == [("ADD", "User is allergic to peanuts")]
        hits = m.search("what is alice allergic to?", user_id="alice")["results"]
        assert hits[0]["memory"] == "User is allergic to peanuts"
        assert m.config.path == str(tmp_path / "store")
    check_the_calls(fake_openai)


async def test_async_memory_from_a_mem0_config(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.script_chat(FACT)
    m = AsyncMemory.from_config(mem0_config(fake_openai, tmp_path / "store"))
    try:
        out = await m.add("I'm allergic to peanuts.", user_id="alice")
        assert [r["event"] for r in out["results"]] == ["ADD"]
    finally:
        await m.close()
    check_the_calls(fake_openai)


def test_local_servers_never_get_the_openai_key(fake_openai: FakeOpenAI, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-for-openai-only")
    root = fake_openai.base_url.removesuffix("/v1")  # mem0 gives Ollama's own address, without /v1
    fake_openai.script_chat(FACT)
    config = {"llm": {"provider": "ollama", "config": {"model": "llama3.1", "ollama_base_url": root}},
              "embedder": {"provider": "ollama", "config": {"ollama_base_url": root}}, "version": "v1.1",
              "path": str(tmp_path / "store"), "graph": False}
    with Memory.from_config(config) as m:
        assert [r["event"] for r in m.add("I'm allergic to peanuts.", user_id="alice")["results"]] == ["ADD"]
    assert {r.json["model"] for r in fake_openai.calls("/embeddings")} == {"nomic-embed-text"}
    assert fake_openai.chat_calls == 1
    assert {r.headers["authorization"] for r in fake_openai.requests} == {"Bearer not-needed"}


def test_a_local_embedder_of_another_size_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    config = {"embedder": {"provider": "huggingface", "config": {"embedding_dims": 768}}, "version": "v1.1",
              "path": str(tmp_path), "graph": False}
    with pytest.raises(ConfigError, match="dims=768, but the embedder model 'all-MiniLM-L6-v2' makes 384-dimensional"):
        Memory.from_config(config)
    config["embedder"]["config"]["embedding_dims"] = 384
    with Memory.from_config(config) as m:
        assert m.async_memory.engine.embedder.dims == 384
        assert m.async_memory.engine.embedder.settings == {"model": "all-MiniLM-L6-v2"}  # (sharing an open store)


def test_a_local_cross_encoder_reranker_maps_onto_memlayers_and_searches_rerank() -> None:
    spec = {"provider": "sentence_transformer",
            "config": {"model": "/models/ms-marco", "device": "cpu", "batch_size": 16}}
    assert from_mem0_config({"reranker": spec, "version": "v1.1"}) == {
        "reranker": {"provider": "cross-encoder", "config": {"model": "/models/ms-marco", "device": "cpu",
                                                             "batch_size": 16}},
        "search": "rerank",  # mem0 reranks every search once a reranker is configured
    }
    hf = {"provider": "huggingface", "config": {"model": "/models/bge", "max_length": 256}}
    assert from_mem0_config({"reranker": hf, "search": "default"}) == {
        "reranker": {"provider": "cross-encoder", "config": {"model": "/models/bge", "max_length": 256}},
        "search": "default",  # a search the config names stays
    }
    with pytest.raises(ConfigError) as caught:
        from_mem0_config({"reranker": {"provider": "sentence_transformer",
                                       "config": {"model": "m", "top_k": 5, "show_progress_bar": True}}})
    assert "reranker.config.top_k: give search() a limit=" in str(caught.value)
    assert "reranker.config.show_progress_bar" in str(caught.value)


def test_memlayers_own_reranker_key_is_not_read_as_mem0() -> None:
    for spec in ("late", {"provider": "late", "config": {"cache_size": 10}}, {"provider": "cross-encoder"}):
        config = {"path": ":memory:", "reranker": spec}
        assert not looks_like_mem0(config)
        assert load_config(config).reranker == spec
    assert looks_like_mem0({"reranker": {"provider": "cohere", "config": {"api_key": "x"}}})
