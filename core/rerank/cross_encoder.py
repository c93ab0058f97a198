"""A cross-encoder (sentence-transformers ``CrossEncoder``): one transformer pass over the query and a
candidate together, trained to say whether the candidate answers the query (e.g. the ms-marco MiniLM
cross-encoders). The strongest reranker of the two memlayer offers, and the slowest; memlayer bundles none,
so ``model`` is the directory of one saved locally (memlayer loads models offline)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..errors import ConfigError, missing_extra


class CrossEncoderReranker:
    """Scores (query, text) pairs with a saved sentence-transformers cross-encoder."""

    def __init__(self, model: str | None = None, *, device: str = "cpu", batch_size: int = 32,
                 max_length: int | None = None) -> None:
        if not model or not os.path.isdir(model):
            raise ConfigError(
                f"the cross-encoder reranker needs model=<the directory of a saved cross-encoder>, got {model!r}; "
                "memlayer loads models offline: save one first (e.g. CrossEncoder('cross-encoder/ms-marco-MiniLM-"
                "L6-v2').save(path) on a machine with internet), or use reranker='late' (no extra model)"
            )
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as exc:
            raise missing_extra("local", "sentence-transformers") from exc
        self.model_name = model
        self.settings: dict[str, Any] = {"model": model, "max_length": max_length}
        self._model = CrossEncoder(model, device=device, max_length=max_length)
        self._batch = max(1, int(batch_size))

    def score(self, query: str, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.empty(0, dtype=np.float64)
        pairs = [(query, text) for text in texts]
        scores = self._model.predict(pairs, batch_size=self._batch, show_progress_bar=False, convert_to_numpy=True)
        return np.asarray(scores, dtype=np.float64).reshape(len(texts), -1)[:, -1]  # one logit, or the last class
