"""When a time-bound statement stops being true: "I'm in Lisbon this week" lapses next Monday.

``time_bound(clause, reference)`` finds the common English phrasings of a bounded present or near future
and resolves them against the conversation's time (``reference``; days end at midnight UTC):

* ``today``, ``this morning/afternoon/evening`` (end of the day), ``tonight`` (6 am the next day);
* ``this week`` (next Monday), ``this weekend`` / ``for the weekend`` (the Monday after it), ``this month``,
  ``this year``, ``for the rest of the day/week/month/year``;
* ``until``/``till``/``through`` a weekday, ``tomorrow``, ``tonight``, ``the weekend``, ``next week/month/year``,
  ``the end of the day/week/month/year``, a date (``2025-06-20``, ``June 20``, ``20 June``, ``the 20th``):
  the end of that day or the start of that period;
* ``for the next N days``, ``for the coming N weeks``, ``over the next N hours``, ``for N more days``,
  ``for another N weeks``, ``for another month``: the reference plus N units (one without a number).

A statement in the past tense ("I started a new job this week") is history, not a passing state: it gets
no expiry. Phrases about when something starts ("next week", "tomorrow" alone) are not ends either.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from .dates import _add_months, _count
from .text import words

_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MONTHS = [m.lower() for m in calendar.month_name[1:]]
_MONTH_RX = "|".join(_MONTHS + [m[:3] for m in _MONTHS if len(m) > 3] + ["sept"])
_N = r"(?P<n{0}>\d{{1,3}}|a couple of|couple of|a few|a|an|one|two|three|four|five|six|seven|eight|nine|ten)"
_UNIT = r"(?P<unit{0}>minute|hour|day|night|week|month|year)s?"
_UNTIL_TARGET = (
    rf"(?:(?P<rel>next|this|coming|this coming)\s+)?(?P<wd>{'|'.join(_WEEKDAYS)})"
    r"|(?P<tom>tomorrow)(?:\s+(?:morning|afternoon|evening|night))?|(?P<tonight>tonight)|(?P<today>today)"
    r"|(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?(?P<end>day|week|weekend|month|year)"
    r"|(?P<weekend>the\s+weekend)|next\s+(?P<next>week|month|year)"
    r"|(?P<iso>\d{4}-\d{2}-\d{2})"
    rf"|(?P<md_m>{_MONTH_RX})\.?\s+(?P<md_d>\d{{1,2}})(?:st|nd|rd|th)?"
    rf"|(?:the\s+)?(?P<dm_d>\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+(?P<dm_m>{_MONTH_RX})\.?"
    r"|the\s+(?P<th>\d{1,2})(?:st|nd|rd|th)"
)
_PATTERN = re.compile(
    rf"\b(?:(?:until|till|til|through|thru|up\s+to)\s+(?:{_UNTIL_TARGET})"
    rf"|(?:for|over)\s+(?:the\s+next|the\s+coming|another)\s+(?:{_N.format(1)}\s+)?{_UNIT.format(1)}"
    rf"|for\s+{_N.format(2)}\s+more\s+{_UNIT.format(2)}"
    r"|(?:for\s+the\s+rest\s+of\s+(?:the\s+|this\s+)?|this\s+)(?P<this>week|weekend|month|year)"
    r"|for\s+the\s+(?P<for_weekend>weekend)"
    r"|(?P<now_tonight>tonight)|(?:for\s+)?(?P<now_today>today)|this\s+(?:morning|afternoon|evening)"
    r"|for\s+the\s+rest\s+of\s+the\s+day)\b",
    re.IGNORECASE,
)
_PAST = words(
    "was were had did went got made bought met saw took came began left found felt ran wrote told said gave "
    "thought brought caught taught sold sent spent built lost won paid heard kept slept sat stood understood "
    "forgot ate drank drove flew fell broke chose spoke stole swam woke wore became fought hurt quit moved"
)
_NOT_PAST = words("need feed bleed speed breed proceed succeed exceed heed shred embed wed bed red shed seed weed")
_PARTICIPLES = words("gone done seen taken begun eaten driven flown written spoken broken chosen known given become")
_SUBJECT_VERB = re.compile(r"\bI\s+(?P<first>[a-z]+)(?:\s+(?P<second>[a-z]+))?", re.IGNORECASE)


@dataclass(frozen=True)
class Bound:
    """Where a time-bound phrase is in the text, and when what it bounds ends."""

    end: datetime
    start: int
    stop: int


def _midnight(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=timezone.utc)


def _monday_after(d: date) -> date:
    return d + timedelta(days=7 - d.weekday())


def _first_of_next_month(d: date) -> date:
    return _add_months(d.replace(day=1), 1)


def _upcoming(month: int, day: int, today: date) -> date | None:
    for year in (today.year, today.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            return None
        if candidate >= today:
            return candidate
    return None


def _month_number(name: str) -> int:
    key = name.lower().rstrip(".")[:3]
    return next(i for i, m in enumerate(_MONTHS, 1) if m.startswith(key))


def _span(n: int, unit: str, ref: datetime) -> datetime:
    unit = unit.lower()
    if unit == "month":
        return datetime.combine(_add_months(ref.date(), n), ref.timetz())
    if unit == "year":
        return datetime.combine(_add_months(ref.date(), 12 * n), ref.timetz())
    size = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1),
            "night": timedelta(days=1), "week": timedelta(weeks=1)}[unit]
    return ref + n * size


def _period_end(period: str, today: date) -> datetime:
    period = period.lower()
    if period == "day":
        return _midnight(today + timedelta(days=1))
    if period in ("week", "weekend"):
        return _midnight(_monday_after(today))
    if period == "month":
        return _midnight(_first_of_next_month(today))
    return _midnight(date(today.year + 1, 1, 1))


def _until(m: re.Match[str], today: date) -> datetime | None:
    if m.group("wd"):
        target = _WEEKDAYS.index(m.group("wd").lower())
        ahead = (target - today.weekday()) % 7
        if (m.group("rel") or "").lower() == "next":
            ahead = ahead or 7
        return _midnight(today + timedelta(days=ahead + 1))
    if m.group("tom"):
        return _midnight(today + timedelta(days=2))
    if m.group("tonight"):
        return _midnight(today + timedelta(days=1)) + timedelta(hours=6)
    if m.group("today"):
        return _midnight(today + timedelta(days=1))
    if m.group("end"):
        return _period_end(m.group("end"), today)
    if m.group("weekend"):
        return _period_end("weekend", today)
    if m.group("next"):
        period = m.group("next").lower()
        if period == "week":
            return _midnight(_monday_after(today))
        if period == "month":
            return _midnight(_first_of_next_month(today))
        return _midnight(date(today.year + 1, 1, 1))
    day: date | None
    if m.group("iso"):
        try:
            day = date.fromisoformat(m.group("iso"))
        except ValueError:
            return None
    elif m.group("md_m"):
        day = _upcoming(_month_number(m.group("md_m")), int(m.group("md_d")), today)
    elif m.group("dm_m"):
        day = _upcoming(_month_number(m.group("dm_m")), int(m.group("dm_d")), today)
    else:
        day = next((d for months in range(0, 3) if (d := _day_of(today, months, int(m.group("th"))))), None)
    return None if day is None else _midnight(day + timedelta(days=1))


def _day_of(today: date, months_ahead: int, day: int) -> date | None:
    first = _add_months(today.replace(day=1), months_ahead)
    try:
        candidate = first.replace(day=day)
    except ValueError:
        return None
    return candidate if candidate >= today else None


def _end(m: re.Match[str], ref: datetime) -> datetime | None:
    today = ref.date()
    text = m.group(0).lower()
    if text.split()[0] in ("until", "till", "til", "through", "thru", "up"):
        return _until(m, today)
    for k in ("1", "2"):
        if m.group("unit" + k):
            n = (m.group("n" + k) or "one").lower()
            return _span(3 if n == "a few" else _count(n), m.group("unit" + k), ref)
    if m.group("this"):
        return _period_end(m.group("this"), today)
    if m.group("for_weekend"):
        return _period_end("weekend", today)
    if m.group("now_tonight"):
        return _midnight(today + timedelta(days=1)) + timedelta(hours=6)
    return _midnight(today + timedelta(days=1))  # today, this morning/afternoon/evening, the rest of the day


def in_past_tense(clause: str) -> bool:
    """Whether the speaker's verb is in a past tense ("I started", "I have moved", "I had", "I was"); "I have
    been ..." is a state still going on, "I have a cold" a present."""
    m = _SUBJECT_VERB.search(clause)
    if m is None:
        return False
    first, second = m.group("first").lower(), (m.group("second") or "").lower()
    if first == "had":
        return True
    if first in ("have", "has"):
        return second != "been" and (_past_form(second) or second in _PARTICIPLES)
    return _past_form(first)


def _past_form(verb: str) -> bool:
    return verb in _PAST or (verb.endswith("ed") and len(verb) > 3 and verb not in _NOT_PAST)


def time_bound(clause: str, reference: datetime) -> Bound | None:
    """The end of the state a present-tense clause bounds in time, and where the phrase is; None otherwise.
    The earliest end wins when a clause has several phrases; an end not after ``reference`` is ignored."""
    if in_past_tense(clause):
        return None
    ref = reference if reference.tzinfo else reference.replace(tzinfo=timezone.utc)
    found = []
    for m in _PATTERN.finditer(clause):
        end = _end(m, ref)
        if end is not None and end > ref:
            found.append(Bound(end, m.start(), m.end()))
    return min(found, key=lambda b: b.end) if found else None


def proposed_expiry(clause: str, reference: datetime) -> datetime | None:
    bound = time_bound(clause, reference)
    return None if bound is None else bound.end
