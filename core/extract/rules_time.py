"""Pattern rules for time-bound states: "I'm in Lisbon this week", "I'm on vacation until June 20",
"I'm at the cinema tonight". Each becomes a memory that says until when, and that expires then (the
``expires_at`` every pattern fact gets from ``expiry.time_bound``)."""

from __future__ import annotations

import re
from datetime import timedelta

from .expiry import time_bound
from .facts import Clause, Fact, Rule, rx

_STATE = rx(r"I am (?P<state>.+)")
_CONVERSATIONAL = re.compile(r"^(?:not )?(?:sure|sorry|afraid|glad|here to|just|so|very|too|really|it|that|this)\b",
                             re.I)
_PLACE = re.compile(
    r"^(?:(?:staying|living|based|working|traveling|travelling|vacationing|holidaying|"
    r"on (?:a )?(?:trip|holiday|vacation|business trip|work trip))\s+)?(?:in|at)\s+"
    r"(?-i:(?P<place>[A-Z][\w'.-]*(?:\s+[A-Z][\w'.-]*){0,2}))$"
    r"|^visiting\s+(?-i:(?P<visit>[A-Z][\w'.-]*(?:\s+[A-Z][\w'.-]*){0,2}))$",
    re.I,
)
_BARE = re.compile(r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|\d{1,2}(?:st|nd|rd|th)?|"
                   r"january|february|march|april|may|june|july|august|september|october|november|december)\b",
                   re.I)


def temporary_state_rule(c: Clause) -> list[Fact] | None:
    """ "I am <state> <until when>", the time phrase closing the clause; a place is the current location."""
    m = _STATE.match(c.text)
    if not m or c.when is None:
        return None
    bound = time_bound(c.text, c.when)
    if bound is None or c.text[bound.stop:].strip(" .,!") or bound.start <= m.start("state"):
        return None
    state = c.text[m.start("state"):bound.start].strip(" ,")
    if not state or len(state.split()) > 8 or _CONVERSATIONAL.match(state):
        return None
    said = c.free(state)
    if not said:
        return None
    phrase = c.text[bound.start:bound.stop]
    when = c.dated(phrase)
    if when == phrase and _BARE.search(phrase):  # "until Friday": say which Friday
        when = f"{phrase} ({(bound.end - timedelta(seconds=1)).date().isoformat()})"
    place_match = None if c.casual else _PLACE.match(state)
    place = (place_match.group("place") or place_match.group("visit")) if place_match else None
    relations = [c.rel("self", "IS_IN", place, "person", "location")] if place else []
    return [c.fact(f"{c.subject} is {said} {when}", "current location" if place else None, place,
                   relations=relations)]


RULES: list[Rule] = [temporary_state_rule]
