"""Late interaction: a sentence-transformers model's token vectors, each query word matched with its closest
word of the candidate (MaxSim, as ColBERT scores), averaged over the query's content words.

No model beyond the embedder's own: the default is the bundled all-MiniLM-L6-v2, loaded once per process
and shared with the embedder. A bi-encoder pools a text into one vector before the query is seen; here the
query's words meet the candidate's words ("activities" finds "pottery", "camping"), which is what the
retrievers miss on questions that ask for lists. Cost: the candidates are encoded again at query time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..embeddings.sentence_transformers import DEFAULT_MODEL, load_model
from ..errors import missing_extra
from ..search.lexical import STOPWORDS


class LateInteractionReranker:
    """Scores each text by the mean, over the query's content words, of its best cosine with a word of the
    text (stop words, question words and punctuation of the query are left out; the text keeps every word)."""

    def __init__(self, model: str = DEFAULT_MODEL, *, device: str = "cpu", batch_size: int = 64) -> None:
        try:
            import torch
        except ImportError as exc:  # pragma: no cover - sentence-transformers brings it
            raise missing_extra("local", "torch") from exc
        self._torch = torch
        self.model_name = model
        self.settings: dict[str, Any] = {"model": model}
        self._model = load_model(model, device)
        self._batch = max(1, int(batch_size))
        tokenizer = self._model.tokenizer
        self._special = set(tokenizer.all_special_ids)
        self._tokenizer = tokenizer
        self._content_ids: dict[int, bool] = {}

    def score(self, query: str, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.empty(0, dtype=np.float64)
        q_vecs, q_mask, q_ids = self._encode([query])
        words = self._query_words(q_ids[0], q_mask[0])
        if not words.any():
            return np.zeros(len(texts), dtype=np.float64)  # nothing to match: every text alike
        q = self._unit(q_vecs[0][words])
        out: list[np.ndarray] = []
        for start in range(0, len(texts), self._batch):
            d_vecs, d_mask, d_ids = self._encode(texts[start:start + self._batch])
            keep = d_mask.bool() & ~self._is_special(d_ids)
            sims = self._torch.einsum("qd,nld->nql", q, self._unit(d_vecs))
            sims = sims.masked_fill(~keep[:, None, :], -1.0)  # a cosine is never below -1
            out.append(sims.max(dim=2).values.mean(dim=1).double().cpu().numpy())
        return np.concatenate(out)

    # -- helpers ----------------------------------------------------------------------------------------
    def _encode(self, texts: list[str]) -> tuple[Any, Any, Any]:
        """Token vectors (n, length, dims), attention mask and input ids of ``texts``."""
        prepare = getattr(self._model, "preprocess", None) or self._model.tokenize  # tokenize before 6.x
        features = prepare(texts)
        features = {k: v.to(self._model.device) if hasattr(v, "to") else v for k, v in features.items()}
        with self._torch.inference_mode():
            out = self._model.forward(dict(features))
        return out["token_embeddings"].float(), features["attention_mask"], features["input_ids"]

    def _unit(self, vecs: Any) -> Any:
        return self._torch.nn.functional.normalize(vecs, dim=-1)

    def _is_special(self, ids: Any) -> Any:
        special = self._torch.zeros_like(ids, dtype=self._torch.bool)
        for sid in self._special:
            special |= ids == sid
        return special

    def _query_words(self, ids: Any, mask: Any) -> Any:
        """Which query tokens count: content words (a word piece of a stop word or of punctuation does not)."""
        flags = [bool(m) and self._is_content(int(i)) for i, m in zip(ids.tolist(), mask.tolist(), strict=True)]
        return self._torch.tensor(flags, dtype=self._torch.bool, device=ids.device)

    def _is_content(self, token_id: int) -> bool:
        found = self._content_ids.get(token_id)
        if found is None:
            piece = str(self._tokenizer.convert_ids_to_tokens(token_id)).lstrip("#").lower()
            found = (token_id not in self._special and piece not in STOPWORDS
                     and any(ch.isalnum() for ch in piece))
            self._content_ids[token_id] = found
        return found
