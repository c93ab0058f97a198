"""VectorStore internals: gathering rows across segments."""

from __future__ import annotations

import numpy as np

from memlayer.vectors.store import gather_rows


def test_gather_rows_matches_the_concatenated_segments():
    """Slots in one segment (the fast path), across several, empty, repeated, in any order."""
    rng = np.random.default_rng(0)
    segs = [rng.standard_normal((n, 4)).astype(np.float32) for n in (100, 50, 70)]
    starts = [0, 100, 150]
    full = np.vstack(segs)
    for _ in range(2000):
        lo = int(rng.integers(0, 220))
        hi = int(rng.integers(lo, 220)) + 1
        slots = rng.integers(lo, hi, int(rng.integers(0, 30)))
        assert np.array_equal(gather_rows(segs, starts, slots, 4), full[slots])
    assert gather_rows(segs[:1], starts[:1], np.array([3, 1]), 4).tolist() == full[[3, 1]].tolist()
