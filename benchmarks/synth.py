"""Deterministic synthetic memories for the scale benchmarks: texts and their "embeddings".

Row ``i`` has the text ``"m<i> <words>"`` and a unit vector drawn near one of many cluster centres in
a low-rank subspace (like sentence embeddings: neighbours are clearly closer than random pairs, so an
approximate index has structure to exploit — uniform random vectors would be a worst case nothing
indexes well). Rows are generated a block at a time from the seed, so a million of them never need
to be held by the benchmark itself (its RSS stays the library's). Words follow a Zipf law over a
pseudo-vocabulary, so the lexical retriever meets realistic posting-list lengths (in LOCOMO's
conversation turns the commonest content words occur in 10-20% of them).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

BLOCK = 4096


class Synth:
    def __init__(self, dims: int = 384, seed: int = 0, centres: int = 10_000, spread: float = 1.5,
                 vocab: int = 30_000) -> None:
        self.dims, self.seed, self.spread = dims, seed, spread
        rng = np.random.default_rng(seed)
        basis = rng.standard_normal((64, dims)).astype(np.float32) / 8
        cent = rng.standard_normal((centres, 64)).astype(np.float32) @ basis
        cent += 0.3 * rng.standard_normal((centres, dims)).astype(np.float32) / np.sqrt(dims)
        self.centres = cent / np.linalg.norm(cent, axis=1, keepdims=True)
        syll = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "be", "da", "fe", "go", "hu", "ji", "pe", "zo"]
        self.words = [syll[i % 16] + syll[(i // 16) % 16] + syll[(i // 256) % 16] + str(i // 4096 or "")
                      for i in range(vocab)]
        p = 1.0 / np.arange(1, vocab + 1) ** 0.8  # the commonest word in ~20% of texts, as in LOCOMO's turns
        self.word_p = p / p.sum()

    @lru_cache(maxsize=16)  # noqa: B019 - a benchmark helper, one instance per process
    def vector_block(self, b: int) -> np.ndarray:
        rng = np.random.default_rng((self.seed, b, 0))
        labels = rng.integers(0, len(self.centres), BLOCK)
        x = self.centres[labels] + self.spread * rng.standard_normal((BLOCK, self.dims)).astype(np.float32) / np.sqrt(self.dims)
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    @lru_cache(maxsize=16)  # noqa: B019
    def text_block(self, b: int) -> list[str]:
        rng = np.random.default_rng((self.seed, b, 1))
        lengths = rng.integers(5, 12, BLOCK)
        picks = rng.choice(len(self.words), size=int(lengths.sum()), p=self.word_p)
        texts, at = [], 0
        for i, n in enumerate(lengths):
            texts.append(f"m{b * BLOCK + i} " + " ".join(self.words[w] for w in picks[at:at + n]))
            at += n
        return texts

    def vectors(self, start: int, stop: int) -> np.ndarray:
        out = np.empty((stop - start, self.dims), dtype=np.float32)
        for b in range(start // BLOCK, (stop - 1) // BLOCK + 1):
            lo, hi = max(start, b * BLOCK), min(stop, (b + 1) * BLOCK)
            out[lo - start:hi - start] = self.vector_block(b)[lo - b * BLOCK:hi - b * BLOCK]
        return out

    def vectors_of(self, rows: np.ndarray) -> np.ndarray:
        return np.vstack([self.vectors(int(r), int(r) + 1) for r in rows]) if len(rows) else np.empty((0, self.dims))

    def text(self, i: int) -> str:
        return self.text_block(i // BLOCK)[i % BLOCK]

    def query(self, i: int) -> str:
        """Row i's text cut to five words (questions have ~5 content words in LOCOMO)."""
        return " ".join(self.text(i).split(" ")[:6])

    def texts(self, start: int, stop: int) -> list[str]:
        return [self.text(i) for i in range(start, stop)]


class SynthEmbedder:
    """An embedder returning row i's vector for a text starting "m<i>" (microseconds: embedding time
    is excluded from every figure)."""

    def __init__(self, synth: Synth) -> None:
        self.synth = synth
        self.dims = synth.dims
        self.pinned: dict[int, np.ndarray] = {}

    def pin(self, start: int, stop: int) -> None:
        """Precompute rows (the queries), so a search never waits for a block to be generated."""
        for i, v in zip(range(start, stop), self.synth.vectors(start, stop), strict=True):
            self.pinned[i] = v

    def embed(self, texts: list[str]) -> np.ndarray:
        rows = [int(t.split(" ", 1)[0][1:]) for t in texts]
        out = np.empty((len(rows), self.dims), dtype=np.float32)
        for j, i in enumerate(rows):
            if i in self.pinned:
                out[j] = self.pinned[i]
                continue
            b = i // BLOCK
            out[j] = self.synth.vector_block(b)[i - b * BLOCK]
        return out

    def __call__(self, texts: list[str]) -> np.ndarray:
        return self.embed(texts)
