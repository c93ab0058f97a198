"""OpenAIEmbedder against the fake server, through the real openai client."""

from __future__ import annotations

from typing import Any

import numpy as np
import openai
import pytest

from memlayer import registry
from memlayer.embeddings.base import Embedder
from memlayer.embeddings.openai import PROBE_TEXT, OpenAIEmbedder
from memlayer.errors import ProviderError
from tests.fake_openai import FakeOpenAI, Fault, fake_embeddings


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def make(server: FakeOpenAI, **kwargs: Any) -> OpenAIEmbedder:
    options: dict[str, Any] = {"base_url": server.base_url, "timeout": 0.5, "backoff": 0.01}
    return OpenAIEmbedder(**{**options, **kwargs})


def test_embeds_with_known_dims(fake_openai: FakeOpenAI) -> None:
    emb = make(fake_openai)
    assert isinstance(emb, Embedder) and emb.dims == 1536
    assert fake_openai.requests == []  # known model: no probe
    texts = ["Ada likes tea", "Bob likes coffee"]
    out = emb.embed(texts)
    assert out.shape == (2, 1536) and out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_allclose(out, fake_embeddings(texts, 1536), rtol=1e-6)
    sent = fake_openai.requests[-1]
    assert sent.json["input"] == texts and sent.json["model"] == "text-embedding-3-small"
    assert "dimensions" not in sent.json and sent.json["encoding_format"] == "float"
    assert sent.headers["authorization"] == "Bearer not-needed"
    assert emb.prompt_tokens == 6


def test_known_dims_for_other_models(fake_openai: FakeOpenAI) -> None:
    assert make(fake_openai, model="text-embedding-3-large").dims == 3072
    assert make(fake_openai, model="text-embedding-ada-002").dims == 1536
    assert fake_openai.embedding_calls == 0


@pytest.mark.parametrize(("n", "batch_size", "requests"), [(10, 3, 4), (9, 3, 3), (1, 256, 1), (300, 256, 2)])
def test_batching(fake_openai: FakeOpenAI, n: int, batch_size: int, requests: int) -> None:
    texts = [f"text number {i}" for i in range(n)]
    # a generous timeout: on a loaded machine the fake server may take over 0.5 s to encode 256 vectors, and a
    # retried batch would be counted twice
    out = make(fake_openai, batch_size=batch_size, timeout=10.0).embed(texts)
    assert out.shape == (n, 1536)
    assert fake_openai.embedding_calls == requests
    sizes = [len(r.json["input"]) for r in fake_openai.calls("/embeddings")]
    assert sizes == [min(batch_size, n - i) for i in range(0, n, batch_size)]
    np.testing.assert_allclose(out, fake_embeddings(texts, 1536), rtol=1e-6)  # order preserved


def test_empty_list_makes_no_request(fake_openai: FakeOpenAI) -> None:
    out = make(fake_openai).embed([])
    assert out.shape == (0, 1536) and fake_openai.embedding_calls == 0


def test_empty_strings_are_sent_as_a_space(fake_openai: FakeOpenAI) -> None:
    out = make(fake_openai).embed(["", "x"])
    assert out.shape == (2, 1536)
    assert fake_openai.requests[-1].json["input"] == [" ", "x"]


def test_explicit_dims_are_sent_to_v3_models(fake_openai: FakeOpenAI) -> None:
    emb = make(fake_openai, dims=256)
    assert emb.dims == 256 and emb.embed(["a b"]).shape == (1, 256)
    assert fake_openai.requests[-1].json["dimensions"] == 256


def test_dims_are_probed_for_unknown_models(fake_openai: FakeOpenAI) -> None:
    emb = make(fake_openai, model="nomic-embed-text")
    assert emb.dims == 1536
    assert fake_openai.embedding_calls == 1
    probe = fake_openai.requests[0].json
    assert probe["input"] == [PROBE_TEXT] and "dimensions" not in probe


def test_explicit_dims_for_other_models_are_checked(fake_openai: FakeOpenAI) -> None:
    emb = make(fake_openai, model="nomic-embed-text", dims=768)
    assert fake_openai.embedding_calls == 0  # no probe, no dimensions= sent
    with pytest.raises(ProviderError, match="returned 1536-dimensional vectors but dims=768"):
        emb.embed(["hello"])


def test_rate_limit_then_success(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_embeddings(Fault.status(429, times=2))
    out = make(fake_openai).embed(["a", "b"])
    assert out.shape == (2, 1536) and fake_openai.embedding_calls == 3


def test_server_errors_exhaust_bounded_retries(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_embeddings(Fault.status(503, times=10))
    with pytest.raises(ProviderError, match="after 3 attempts.*HTTP 503"):
        make(fake_openai, max_retries=2).embed(["a"])
    assert fake_openai.embedding_calls == 3


def test_failure_in_a_later_batch(fake_openai: FakeOpenAI) -> None:
    emb = make(fake_openai, batch_size=2, max_retries=1)
    # batch 1 answers normally (a zero-second "slow" fault), batch 2 fails twice
    fake_openai.script_embeddings(Fault.slow(0.0), Fault.status(500, times=2))
    with pytest.raises(ProviderError, match="after 2 attempts"):
        emb.embed(["a", "b", "c"])
    assert [r.json["input"] for r in fake_openai.calls("/embeddings")] == [["a", "b"], ["c"], ["c"]]


def test_timeout_retried_then_fails(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_embeddings(Fault.slow(2.0, times=2))
    with pytest.raises(ProviderError, match="timed out after 0.2s"):
        make(fake_openai, timeout=0.2, max_retries=1).embed(["a"])
    assert fake_openai.embedding_calls == 2


def test_timeout_then_success(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_embeddings(Fault.slow(2.0))
    assert make(fake_openai, timeout=0.2).embed(["a"]).shape == (1, 1536)
    assert fake_openai.embedding_calls == 2


def test_garbage_body_is_retried(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_embeddings(Fault.garbage_body())
    assert make(fake_openai).embed(["a"]).shape == (1, 1536)
    assert fake_openai.embedding_calls == 2


@pytest.mark.parametrize(
    ("status", "needle"),
    [(400, "rejected the embedding request"), (401, "check api_key"), (404, "check the model name")],
)
def test_client_errors_are_not_retried(fake_openai: FakeOpenAI, status: int, needle: str) -> None:
    fake_openai.script_embeddings(Fault.status(status, times=5))
    with pytest.raises(ProviderError, match=needle):
        make(fake_openai).embed(["a"])
    assert fake_openai.embedding_calls == 1


def test_probe_failure_is_a_provider_error(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_embeddings(Fault.status(500, times=2))
    with pytest.raises(ProviderError, match="after 2 attempts"):
        make(fake_openai, model="some-local-model", max_retries=1)


def test_injected_sync_client_gets_its_retries_disabled(fake_openai: FakeOpenAI) -> None:
    client = openai.OpenAI(base_url=fake_openai.base_url, api_key="sk-x", max_retries=5)
    fake_openai.script_embeddings(Fault.status(500, times=5))
    emb = OpenAIEmbedder(client=client, max_retries=1, backoff=0.01, timeout=0.5)
    with pytest.raises(ProviderError):
        emb.embed(["a"])
    assert fake_openai.embedding_calls == 2
    emb.close()


def test_settings_and_registry() -> None:
    with pytest.raises(ProviderError, match="pass api_key=... or set OPENAI_API_KEY"):
        OpenAIEmbedder()
    with pytest.raises(ProviderError, match="batch_size must be >= 1"):
        OpenAIEmbedder(base_url="http://localhost:1/v1", batch_size=0)
    with pytest.raises(ProviderError, match="dims must be a positive integer"):
        OpenAIEmbedder(base_url="http://localhost:1/v1", dims=0)
    assert registry.get("embedders", "openai") is OpenAIEmbedder
    with pytest.raises(ProviderError, match="a list of texts"):
        OpenAIEmbedder(base_url="http://localhost:1/v1").embed("oops")  # type: ignore[arg-type]
