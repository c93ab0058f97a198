"""What a query says beyond its words, found without an LLM: the time span it names, and the words that
co-occur with it in the memories that answer it best (pseudo-relevance feedback).

* ``time_window`` — "in May 2023", "in 2022", "on 8 May 2023", "May 8, 2023", "yesterday", "last week",
  "this month", "3 days ago"... resolved against a reference moment (the search's ``as_of`` or now) into a
  [start, end) span of epoch seconds; memories created inside it can be boosted (``temporal_boost``).
* ``cooccurring`` — the content words shared by several of the best memories and absent from the query:
  a second lexical search for them finds the memories that talk about the same thing in other words (the
  entity a question names, seen next to what it did) — ``expansion_weight``.
"""

from __future__ import annotations

import calendar
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone

from .lexical import terms

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_UNITS = {"day": 1, "week": 7, "month": 30, "year": 365}
_NUMBER = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
           "eight": 8, "nine": 9, "ten": 10}
_PATTERNS = [
    ("day", re.compile(rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+(?P<year>(?:19|20)\d\d)\b", re.I)),
    ("day", re.compile(rf"\b{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>(?:19|20)\d\d)\b", re.I)),
    ("iso", re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<month>\d\d)-(?P<day>\d\d)\b")),
    ("month", re.compile(rf"\b{_MONTH},?\s+(?P<year>(?:19|20)\d\d)\b", re.I)),
    ("year", re.compile(r"\b(?:in|during|of|since)\s+(?P<year>(?:19|20)\d\d)\b", re.I)),
    ("ago", re.compile(r"\b(?P<n>\d{1,3}|a|an|one|two|three|four|five|six|seven|eight|nine|ten)\s+"
                       r"(?P<unit>day|week|month|year)s?\s+ago\b", re.I)),
    ("last", re.compile(r"\b(?P<rel>last|this|past)\s+(?P<unit>day|week|weekend|month|year)\b", re.I)),
    ("yesterday", re.compile(r"\b(?P<word>yesterday|today|tonight)\b", re.I)),
]


def time_window(query: str, reference: datetime) -> tuple[float, float] | None:
    """The [start, end) span (epoch seconds, UTC) of the first date expression in the query, or None."""
    ref = reference if reference.tzinfo else reference.replace(tzinfo=timezone.utc)
    for kind, pattern in _PATTERNS:
        m = pattern.search(query)
        if m is None:
            continue
        span = _span(kind, m, ref)
        if span is not None:
            return span[0].timestamp(), span[1].timestamp()
    return None


def _span(kind: str, m: re.Match[str], ref: datetime) -> tuple[datetime, datetime] | None:
    g = m.groupdict()
    try:
        if kind in ("day", "iso"):
            month = int(g["month"]) if kind == "iso" else _MONTHS[g["month"].lower()]
            start = datetime(int(g["year"]), month, int(g["day"]), tzinfo=timezone.utc)
            return start, start + timedelta(days=1)
        if kind == "month":
            year, month = int(g["year"]), _MONTHS[g["month"].lower()]
            start = datetime(year, month, 1, tzinfo=timezone.utc)
            return start, datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=timezone.utc)
        if kind == "year":
            year = int(g["year"])
            return datetime(year, 1, 1, tzinfo=timezone.utc), datetime(year + 1, 1, 1, tzinfo=timezone.utc)
    except ValueError:  # 31 February
        return None
    day = ref.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == "ago":
        n = int(g["n"]) if g["n"].isdigit() else _NUMBER[g["n"].lower()]
        width = _UNITS[g["unit"].lower()]
        centre = day - timedelta(days=n * width)
        return centre - timedelta(days=max(1, width // 2)), centre + timedelta(days=max(1, width // 2) + 1)
    if kind == "last":
        unit = g["unit"].lower()
        width = 2 if unit == "weekend" else _UNITS[unit]
        if g["rel"].lower() == "this":
            return day - timedelta(days=width), day + timedelta(days=1)
        return day - timedelta(days=2 * width), day + timedelta(days=1)  # "last week": the two weeks before now
    word = g["word"].lower()
    start = day - timedelta(days=1) if word == "yesterday" else day
    return start, start + timedelta(days=1)


def in_window(times: dict[int, float], window: tuple[float, float]) -> set[int]:
    """The memories (rid -> created_at) created inside the window."""
    return {rid for rid, t in times.items() if window[0] <= t < window[1]}


def cooccurring(query: str, texts: Iterable[str], limit: int, min_docs: int = 2) -> list[str]:
    """Content words found in at least ``min_docs`` of ``texts`` and not in the query, most shared first."""
    asked = set(terms(query))
    seen: Counter[str] = Counter()
    for text in texts:
        seen.update({t for t in terms(text) if t not in asked and not t.isdigit() and len(t) > 2})
    return [t for t, n in sorted(seen.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_docs][:limit]


def scaled(scores: Sequence[tuple[int, float]], weight: float) -> dict[int, float]:
    """Scores divided by the best one, times ``weight`` (the fusion's scale for a retriever)."""
    top = max((s for _, s in scores), default=0.0) or 1.0
    return {rid: weight * s / top for rid, s in scores}
