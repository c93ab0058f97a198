"""Decay and reinforcement in ranking: a fused score gains a recency term and a reinforcement term.

    score += recency_weight * 0.5 ** (age / recency_half_life)
           + reinforcement_weight * min(1, log(1 + n) / log(1 + reinforcement_saturation))

``age`` is the time from a memory's last write, re-statement or recall to the moment searched (``as_of``,
else now); ``n`` how often it was re-stated or recalled. Both terms are on the ``weighted`` fusion scale (a
retriever adds at most its weight), like the other priors. Off unless a ``SearchConfig`` sets a weight (the
``lifetimes`` preset does; see BENCHMARKS.md for what it does to retrieval quality).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..retention import decay, reinforcement
from ..storage.base import StoredMemory

if TYPE_CHECKING:
    from .config import SearchConfig


def lifetime_bonus(
    fused: dict[int, float], rows: Mapping[int, StoredMemory], now: float, config: SearchConfig
) -> dict[int, float]:
    """``fused`` with each memory's recency and reinforcement terms added (a row missing: nothing added)."""
    out = dict(fused)
    for rid, row in rows.items():
        if rid not in out:
            continue
        bonus = 0.0
        if config.recency_weight:
            bonus += config.recency_weight * decay(now - row.fresh_ts, config.recency_half_life)
        if config.reinforcement_weight:
            bonus += config.reinforcement_weight * reinforcement(row.reinforced, config.reinforcement_saturation)
        out[rid] += bonus
    return out
