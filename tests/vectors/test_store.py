"""VectorStore internals: gathering rows across segments, adopting a snapshot's rows."""

from __future__ import annotations

import numpy as np
import pytest

from memlayer.vectors.store import MAX_ID, VectorStore, dot_slots, gather_rows


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


def test_dot_slots_scores_rows_where_they_lie():
    rng = np.random.default_rng(1)
    segs = [rng.standard_normal((n, 8)).astype(np.float32) for n in (5, 1, 7)]
    starts = [0, 5, 6]
    whole = np.concatenate(segs)
    q = rng.standard_normal(8).astype(np.float32)
    for slots in ([], [3], [0, 5, 6, 12], rng.integers(0, 13, 40).tolist(), [12, 0, 12]):
        got = dot_slots(segs, starts, np.array(slots, dtype=np.int64), q)
        assert np.allclose(got, whole[slots] @ q, atol=1e-5)
    mapped = np.asfortranarray(segs[0])  # a segment the kernel cannot address: gathered instead
    assert np.allclose(dot_slots([mapped], [0], np.array([4, 1]), q), segs[0][[4, 1]] @ q, atol=1e-5)


def test_adopt_takes_rows_in_id_order_and_refuses_repeated_or_out_of_range_ids():
    rows = np.arange(12, dtype=np.float32).reshape(4, 3)
    store = VectorStore(3)
    store.adopt(np.array([7, 2, 9, 4]), rows)
    assert len(store) == 4 and store.get(np.array([9, 2]))[1].tolist() == [rows[2].tolist(), rows[1].tolist()]
    for bad in ([7, 2, 7, 4], [7, 2, -1, 4], [7, 2, MAX_ID + 1, 4]):
        with pytest.raises(ValueError, match="unique and in range"):
            VectorStore(3).adopt(np.array(bad), rows)
