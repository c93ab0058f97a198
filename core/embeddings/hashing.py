"""A deterministic, dependency-free embedder: feature hashing of words and character trigrams.

It needs no model and no network, so it suits tests, benchmarks (a fixed cheap embedder) and
environments where the ``local`` extra is not installed. Its notion of similarity is lexical.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    def __init__(self, dims: int = 384, *, seed: int = 0) -> None:
        self.dims = int(dims)
        self.seed = int(seed)
        self._seed = seed.to_bytes(4, "little")

    @property
    def settings(self) -> dict[str, int]:
        """What makes its vectors (a second ``Memory`` on an open store must give the same)."""
        return {"dims": self.dims, "seed": self.seed}

    def _bucket(self, token: str) -> tuple[int, float]:
        h = hashlib.blake2b(token.encode("utf-8"), digest_size=8, key=self._seed).digest()
        value = int.from_bytes(h, "little")
        return value % self.dims, (1.0 if (value >> 63) & 1 else -1.0)

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for row, text in enumerate(texts):
            words = [w.lower() for w in _WORD.findall(text)]
            feats = words + [f"#{w[i:i + 3]}" for w in words for i in range(max(1, len(w) - 2))]
            for tok in feats or ["<empty>"]:
                col, sign = self._bucket(tok)
                out[row, col] += sign
        return out
