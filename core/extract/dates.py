"""Resolve relative dates ("yesterday", "next Friday", "last month") against a reference moment."""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta

_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "couple of": 2,
    "a couple of": 2,
}
_PREPOSITIONS = ("since", "until", "till", "by", "from", "before", "after", "through")
_COUNT = r"(?P<n>\d{1,3}|a couple of|couple of|a|an|one|two|three|four|five|six|seven|eight|nine|ten)"
_UNIT = r"(?P<unit>day|week|month|year)s?"

_PATTERN = re.compile(
    rf"(?:\b(?P<prep>{'|'.join(_PREPOSITIONS)})\s+)?\b(?:"
    r"(?P<dby>the day before yesterday)|(?P<dat>the day after tomorrow)"
    r"|(?P<yest>yesterday|last night)(?:\s+(?:morning|afternoon|evening))?"
    r"|(?P<today>today|tonight|this (?:morning|afternoon|evening))"
    r"|(?P<tom>tomorrow)(?:\s+(?:morning|afternoon|evening|night))?"
    rf"|(?P<rel>last|next|this|coming|this coming)\s+(?P<wd>{'|'.join(_WEEKDAYS)})"
    r"|(?P<rel2>last|next|this)\s+(?P<span>week|weekend|month|year)"
    rf"|{_COUNT}\s+{_UNIT}\s+ago"
    rf"|in\s+(?P<n2>\d{{1,3}}|a couple of|a|an|one|two|three|four|five|six|seven|eight|nine|ten)\s+"
    r"(?P<unit2>day|week|month|year)s?"
    r")\b",
    re.IGNORECASE,
)


def _day(d: date) -> str:
    return d.isoformat()


def _month(d: date) -> str:
    return f"{calendar.month_name[d.month]} {d.year}"


def _add_months(d: date, months: int) -> date:
    index = d.month - 1 + months
    year, month = d.year + index // 12, index % 12 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _shift(d: date, n: int, unit: str) -> tuple[date, str]:
    """``d`` moved by ``n`` units, and how precisely to say it ("day", "month", "year")."""
    unit = unit.lower()
    if unit == "day":
        return d + timedelta(days=n), "day"
    if unit == "week":
        return d + timedelta(weeks=n), "day"
    if unit == "month":
        return _add_months(d, n), "month"
    return date(d.year + n, d.month, min(d.day, 28 if d.month == 2 else d.day)), "year"


def _count(raw: str) -> int:
    raw = raw.lower()
    return int(raw) if raw.isdigit() else _NUMBERS.get(raw, 1)


def _resolve(m: re.Match[str], today: date) -> tuple[str, str]:
    """(phrase with its own preposition, bare phrase) for one match."""
    if m.group("dby"):
        d = _day(today - timedelta(days=2))
        return f"on {d}", d
    if m.group("dat"):
        d = _day(today + timedelta(days=2))
        return f"on {d}", d
    if m.group("yest"):
        d = _day(today - timedelta(days=1))
        return f"on {d}", d
    if m.group("today"):
        return f"on {_day(today)}", _day(today)
    if m.group("tom"):
        d = _day(today + timedelta(days=1))
        return f"on {d}", d
    if m.group("wd"):
        target = _WEEKDAYS.index(m.group("wd").lower())
        ahead = (target - today.weekday()) % 7
        if m.group("rel").lower() == "last":
            back = (today.weekday() - target) % 7 or 7
            d = _day(today - timedelta(days=back))
        else:
            d = _day(today + timedelta(days=(ahead or 7) if m.group("rel").lower() == "next" else ahead))
        return f"on {d}", d
    if m.group("span"):
        step = {"last": -1, "next": 1, "this": 0}[m.group("rel2").lower()]
        span = m.group("span").lower()
        if span == "year":
            year = str(today.year + step)
            return f"in {year}", year
        if span == "month":
            month = _month(_add_months(today, step))
            return f"in {month}", month
        monday = today - timedelta(days=today.weekday()) + timedelta(weeks=step)
        if span == "week":
            return f"in the week of {_day(monday)}", f"the week of {_day(monday)}"
        saturday = _day(monday + timedelta(days=5))
        return f"on the weekend of {saturday}", f"the weekend of {saturday}"
    if m.group("unit"):
        moved, precision = _shift(today, -_count(m.group("n")), m.group("unit"))
    else:
        moved, precision = _shift(today, _count(m.group("n2")), m.group("unit2"))
    if precision == "year":
        return f"in {moved.year}", str(moved.year)
    if precision == "month":
        return f"in {_month(moved)}", _month(moved)
    return f"around {_day(moved)}", _day(moved)


def resolve_dates(text: str, reference: datetime | date) -> str:
    """``text`` with its relative dates written as absolute ones, relative to ``reference``.

    "I met Sarah yesterday" (reference 2024-05-03) -> "I met Sarah on 2024-05-02";
    "since last year" -> "since 2023".
    """
    today = reference.date() if isinstance(reference, datetime) else reference

    def replace(m: re.Match[str]) -> str:
        own, bare = _resolve(m, today)
        prep = m.group("prep")
        return f"{prep} {bare}" if prep else own

    return _PATTERN.sub(replace, text)
