"""Lifetime settings as data: durations, explicit lifetimes, per-scope policies, and the value score."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from memlayer.errors import ConfigError
from memlayer.retention import (
    DAY,
    NEVER,
    Lifetime,
    Policy,
    RetentionConfig,
    ValueWeights,
    covering,
    decay,
    effective,
    lifetime_arg,
    parse_duration,
    policy_arg,
    reinforcement,
    value,
)
from memlayer.types import Scope


@pytest.mark.parametrize(("given", "seconds"), [
    (90, 90.0), (1.5, 1.5), (timedelta(hours=2), 7200.0), ("45s", 45.0), ("15m", 900.0), ("12h", 43200.0),
    ("7d", 7 * DAY), ("2 weeks", 14 * DAY), ("1.5 days", 1.5 * DAY), ("3600", 3600.0), ("never", NEVER),
    (math.inf, NEVER), (None, None),
])
def test_durations(given, seconds) -> None:
    assert parse_duration(given, "ttl") == seconds


@pytest.mark.parametrize("bad", [0, -1, "soon", "7 parsecs", True, float("nan"), [1]])
def test_bad_durations_say_what_is_expected(bad) -> None:
    with pytest.raises(ConfigError, match="ttl must be"):
        parse_duration(bad, "ttl")


def test_explicit_lifetimes() -> None:
    assert lifetime_arg(None, None) is None
    assert lifetime_arg(None, "1d") == Lifetime(ttl=DAY, explicit=True)
    at = lifetime_arg("2025-06-06T00:00:00Z", None)
    assert at is not None and at.expires_at == 1749168000.0 and at.end(0) == 1749168000.0 and at.kept_ttl is None
    never = lifetime_arg("never", None)
    assert never is not None and never.end(100.0) is None and never.kept_ttl is None and never.explicit
    assert Lifetime(ttl=60).end(100.0) == 160.0 and Lifetime(ttl=60).kept_ttl == 60
    assert Lifetime().end(100.0) is None
    with pytest.raises(ConfigError, match="not both"):
        lifetime_arg("2025-01-01", 60)
    with pytest.raises(ConfigError, match="not a time"):
        lifetime_arg("next tuesday-ish", None)


def test_config_reads_durations_and_refuses_unknown_keys() -> None:
    cfg = RetentionConfig.coerce({"ttl": "30d", "grace_period": "1d", "max_memories": 500,
                                  "value": {"half_life": "7d"}, "sweep_interval": None})
    assert (cfg.ttl, cfg.grace_period, cfg.max_memories, cfg.value.half_life) == (30 * DAY, DAY, 500, 7 * DAY)
    assert RetentionConfig.coerce({"ttl": "never"}).ttl is None and RetentionConfig.coerce(None) == RetentionConfig()
    with pytest.raises(ValueError, match="ttl_days"):
        RetentionConfig.coerce({"ttl_days": 3})
    with pytest.raises(ValueError, match="max_memories"):
        RetentionConfig.coerce({"max_memories": 0})


def test_policies_cover_their_sub_scopes_most_specific_first() -> None:
    assert covering(Scope("u")) == [Scope("u")]
    assert covering(Scope("u", "a", "r")) == [
        Scope("u", "a", "r"), Scope("u", "a"), Scope("u", None, "r"), Scope(None, "a", "r"),
        Scope("u"), Scope(agent_id="a"), Scope(run_id="r")]
    cfg = RetentionConfig(ttl=100.0, max_memories=50)
    assert effective([], cfg).ttl == 100.0 and effective([], cfg).max_memories == 50
    # field by field: the run sets the TTL, the user the cap
    got = effective([Policy(ttl=5.0), Policy(max_memories=7.0)], cfg)
    assert (got.ttl, got.max_memories) == (5.0, 7)
    never = effective([Policy(ttl=NEVER, max_memories=NEVER)], cfg)
    assert (never.ttl, never.max_memories) == (None, None)
    assert Policy.from_json(Policy(NEVER, 3.0).to_json()) == Policy(NEVER, 3.0) and Policy.from_json(None).empty


def test_policy_arguments() -> None:
    keep = object()
    base = Policy(ttl=60.0, max_memories=10.0)
    assert policy_arg(keep, keep, base, keep) == base
    assert policy_arg("2h", keep, base, keep) == Policy(7200.0, 10.0)
    assert policy_arg(None, "unlimited", base, keep) == Policy(None, NEVER)
    assert policy_arg("never", 3, base, keep) == Policy(NEVER, 3.0)
    for bad in (0, -2, 1.5, "lots", True):
        with pytest.raises(ConfigError, match="max_memories must be"):
            policy_arg(keep, bad, base, keep)


def test_value_score_terms() -> None:
    w = ValueWeights(half_life=10.0)
    assert decay(0, 10) == 1.0 and decay(-5, 10) == 1.0 and decay(10, 10) == 0.5 and decay(20, 10) == 0.25
    assert reinforcement(0, 10) == 0.0 and reinforcement(10, 10) == 1.0 and reinforcement(99, 10) == 1.0
    assert 0 < reinforcement(2, 10) < reinforcement(3, 10) < 1
    fresh = value(100.0, 0, {}, 100.0, w)
    assert fresh == pytest.approx(1.0 + 0.0 + 0.5)
    assert value(90.0, 0, {}, 100.0, w) == pytest.approx(0.5 + 0.5)
    assert value(90.0, 10, {"importance": 1}, 100.0, w) == pytest.approx(0.5 + 1 + 1)
    assert value(90.0, 0, {"importance": "high"}, 100.0, w) == value(90.0, 0, {}, 100.0, w)  # not a number: default
    assert value(90.0, 0, {"importance": 7}, 100.0, w) == value(90.0, 0, {"importance": 1.0}, 100.0, w)
