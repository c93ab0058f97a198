"""Pattern rules about the speaker's people, pets and things: relatives and friends, pets,
possessions, meetings, and notable past events."""

from __future__ import annotations

import re

from .facts import NAME, TAIL, VALUE, Clause, Fact, Rule, a_an, entity, leading_name, person_name, rx
from .text import strip_article, verb3, words

# Spoken forms of a role -> the canonical role used in attributes and relation names.
_ROLE_CANON = dict(
    pair.replace("_", " ").split("=")
    for pair in words(
        "mom=mother mum=mother mommy=mother mama=mother dad=father daddy=father papa=father "
        "grandma=grandmother granny=grandmother grandpa=grandfather hubby=husband bf=boyfriend "
        "gf=girlfriend fiancee=fiance fiancé=fiance fiancée=fiance co-worker=coworker "
        "neighbour=neighbor kid=child bff=best_friend buddy=friend pal=friend roomie=roommate "
        "flatmate=roommate housemate=roommate sis=sister bro=brother kids=children children=children"
    )
)
_PERSON_ROLES = words(
    "wife husband spouse partner girlfriend boyfriend fiance mother father sister brother sibling "
    "son daughter child baby grandmother grandfather grandson granddaughter grandchild aunt uncle "
    "cousin niece nephew friend roommate neighbor boss manager colleague coworker teammate mentor "
    "therapist doctor dentist landlord stepmother stepfather stepson stepdaughter stepsister "
    "stepbrother mother-in-law father-in-law sister-in-law brother-in-law son-in-law "
    "daughter-in-law parents"
)
SINGLE_ROLES = words(
    "wife husband spouse partner girlfriend boyfriend fiance mother father boss manager landlord "
    "therapist doctor dentist stepmother stepfather"
) | {"best friend"}
PET_KINDS = {
    **dict.fromkeys(
        words(
            "dog puppy pup retriever labrador lab poodle beagle terrier bulldog husky corgi dachshund "
            "chihuahua spaniel pug collie rottweiler doberman labradoodle goldendoodle greyhound "
            "schnauzer pomeranian shepherd"
        ),
        "dog",
    ),
    **dict.fromkeys(words("cat kitten kitty tabby siamese persian ragdoll sphynx bengal"), "cat"),
    **{
        w: w
        for w in words(
            "bird parrot hamster rabbit bunny fish goldfish turtle tortoise snake lizard horse pony "
            "ferret gecko iguana chinchilla hedgehog rat mouse budgie cockatiel parakeet pig goat"
        )
    },
    "guinea pig": "guinea pig",
}
_ROLE_WORDS = sorted(set(_PERSON_ROLES) | set(_ROLE_CANON) | set(PET_KINDS), key=len, reverse=True)
ROLE = "|".join(re.escape(w) for w in _ROLE_WORDS)
_ADJ = (
    r"(?:(?P<adj>older|younger|little|big|elder|eldest|oldest|youngest|baby|twin|step|late|new|best|"
    r"close|good|dear|childhood|ex)[\s-]+)?"
)
_ROLE_NAMED = rx(
    rf"my {_ADJ}(?P<role>{ROLE})(?:'s name is|'s name| is named| is called|, whose name is,?) {NAME}{TAIL}"
)
_ROLE_IS = rx(rf"my {_ADJ}(?P<role>{ROLE}) is (?P<rest>.+)")
_ROLE_REST = rx(rf"my {_ADJ}(?P<role>{ROLE}),? (?P<rest>.+)")
_IS_MY_ROLE = rx(rf"(?P<name>[\w'.-]+(?: [\w'.-]+){{0,2}}) is my {_ADJ}(?P<role>{ROLE}){TAIL}")
_HAVE = rx(r"I (?P<verb>have|have got|got|adopted|own|rescued|just got|bought) (?P<items>.+)")
_ITEM = re.compile(
    r"(?:^|,\s*|\s+and\s+)(?P<count>a|an|one|two|three|four|five|six|\d+) (?P<desc>(?:[\w-]+ ){0,2}?)"
    rf"{_ADJ}(?P<role>{ROLE})(?P<plural>s|es|ren)?(?:,? (?:named|called) (?P<names>[\w'. -]+?))?(?=,|\s+and\s+(?:a|an|one|two|three)\b|$)",
    re.I,
)
_TIME_TAIL = re.compile(
    r",?\s+(?:last|next|this|yesterday|today|tomorrow|recently|in \d{4}|on \w+day|(?:\d+|a|an|two|three) \w+ ago)\b.*$",
    re.I,
)
_PRED_RELATIONS = [
    (
        re.compile(rf"^(?:lives|is living|resides|has lived) in {VALUE}{TAIL}$", re.I),
        "LIVES_IN",
        "location",
        "residence",
    ),
    (
        re.compile(rf"^(?:has |just |recently )?moved to {VALUE}{TAIL}$", re.I),
        "LIVES_IN",
        "location",
        "residence",
    ),
    (
        re.compile(rf"^(?:works|is working) (?:at|for) {VALUE}{TAIL}$", re.I),
        "WORKS_AT",
        "organization",
        "employer",
    ),
    (re.compile(rf"^(?:is|comes) from {VALUE}{TAIL}$", re.I), "IS_FROM", "location", "origin"),
    (
        re.compile(rf"^(?:studies|is studying) at {VALUE}{TAIL}$", re.I),
        "STUDIES_AT",
        "organization",
        "school",
    ),
]


def _canon(role: str, adj: str | None) -> str:
    role = _ROLE_CANON.get(role.lower(), role.lower())
    adj = (adj or "").lower()
    if adj == "best" and role == "friend":
        return "best friend"
    return f"ex-{role}" if adj == "ex" else role


def _role_words(role: str, adj: str | None) -> str:
    """How the speaker named the role: "older sister", "ex-wife", "dog"."""
    role, adj = role.lower(), (adj or "").lower()
    if adj == "ex":
        return f"ex-{role}"
    return f"{adj} {role}" if adj else role


def _relative(c: Clause, role: str, adj: str | None, name: str, text: str | None = None) -> Fact:
    """The fact naming a relative, friend or pet: attribute, relation and text."""
    canon = _canon(role, adj)
    kind = PET_KINDS.get(role.lower())
    label = _role_words(role, adj)
    if kind:
        rel = c.rel("self", f"HAS_{kind}", name, "person", "pet")
        text = text or f"{c.subject} has {a_an(label)} {label} named {name}"
        return c.fact(text, f"pet:{name.lower()}", name, relations=[rel])
    rel = c.rel("self", f"HAS_{canon}", name, "person", "person")
    attribute = canon if canon in SINGLE_ROLES else f"{canon}:{name.lower()}"
    return c.fact(text or f"{c.possessive} {label} is {name}", attribute, name, relations=[rel])


def _pred_fact(c: Clause, subject: str, slot: str, name: str | None, pred: str) -> Fact | None:
    """A fact about a relative: "User's sister Anna lives in Boston" (+ Anna LIVES_IN Boston)."""
    pred = pred.strip()
    for pattern, relationship, kind, attr in _PRED_RELATIONS:
        if m := pattern.match(pred):
            value = entity(m.group("value"))
            rel = c.rel(name, relationship, value, "person", kind) if name else None
            return c.fact(f"{subject} {c.phrase(pred)}", f"{slot}:{attr}", value, relations=[rel])
    said = c.free(pred)
    return c.fact(f"{subject} {said}") if said else None


def people_rule(c: Clause) -> list[Fact] | None:
    text = c.text
    if m := _ROLE_NAMED.match(text):
        name = person_name(m.group("name"), explicit=True)
        return [_relative(c, m.group("role"), m.group("adj"), name)] if name else None
    if (m := _IS_MY_ROLE.match(text)) and (name := person_name(m.group("name"))):
        return [_relative(c, m.group("role"), m.group("adj"), name)]
    if m := _ROLE_IS.match(text):
        name = person_name(m.group("rest"))
        if name:
            return [_relative(c, m.group("role"), m.group("adj"), name)]
    if m := _HAVE.match(text):
        return _have_rule(c, m.group("verb"), m.group("items"))
    if m := _ROLE_REST.match(text):
        role, adj, rest = m.group("role"), m.group("adj"), m.group("rest")
        if re.match(r"(?:and|or|&)\b", rest, re.I):
            return None
        label = _role_words(role, adj)
        name, pred = leading_name(rest.split())
        if name and pred:
            slot = f"{_canon(role, adj)}:{name.lower()}"
            about = _pred_fact(c, f"{c.possessive} {label} {name}", slot, name, " ".join(pred))
            return [_relative(c, role, adj, name)] + ([about] if about else [])
        if name:
            return [_relative(c, role, adj, name)]
        about = _pred_fact(c, f"{c.possessive} {label}", _canon(role, adj), None, rest)
        return [about] if about else None
    return None


def _have_rule(c: Clause, verb: str, items: str) -> list[Fact] | None:
    """ "I have a dog named Max and a cat named Luna", "I have two kids", "I adopted a kitten"."""
    when = ""
    if tail := _TIME_TAIL.search(items):
        items, when = items[: tail.start()], " " + c.phrase(tail.group(0).lstrip(", "))
    has = "has" if verb.lower() in ("have", "have got", "own") else verb.lower().replace("just ", "")
    facts: list[Fact] = []
    end = 0
    for m in _ITEM.finditer(items):
        if m.start() != end:
            return None  # something in between that is not a relative or pet: let other rules try
        end = m.end()
        role, adj, count = m.group("role"), m.group("adj"), m.group("count")
        singular = f"{m.group('desc') or ''}{adj + ' ' if adj else ''}{role}"
        plural = singular + (m.group("plural") or "")
        names = [n for n in re.split(r",\s*|\s+and\s+", m.group("names") or "") if n.strip()]
        if not names:
            kind = PET_KINDS.get(role.lower())
            canon = _canon(role, adj)
            attribute = (
                f"pet:{kind}"
                if kind
                else ("children" if canon in ("child", "children", "son", "daughter") else None)
            )
            number = None if count.lower() in ("a", "an", "one") else count
            facts.append(c.fact(f"{c.subject} {has} {count} {plural}{when}", attribute, number))
            continue
        for raw in names:
            if name := person_name(raw, explicit=True):
                noun = f"{count} {plural}" if len(names) == 1 else f"{a_an(singular)} {singular}"
                facts.append(_relative(c, role, adj, name, f"{c.subject} {has} {noun} named {name}{when}"))
    if end != len(items) or not facts:
        return None
    return facts


# --- possessions ------------------------------------------------------------------------------
THINGS = words(
    "car truck van suv house home apartment condo flat bike bicycle motorcycle motorbike scooter boat "
    "yacht laptop computer pc macbook phone smartphone iphone tablet ipad piano guitar violin drums "
    "camera cabin cottage garden pool farm ranch watch kindle console playstation xbox"
)
_POSSESS = rx(
    r"I (?P<verb>own|have|have got|drive|ride|bought|just bought|purchased|leased|got|just got) "
    rf"(?P<what>(?:(?P<art>a|an|the|two|three|\d+)\s)?(?P<thing>[^,;]+?)){TAIL}"
)
_THING_ADJ = re.compile(
    r"^(?:(?:brand[- ])?new|used|old|second[- ]hand|little|big|small|nice|cool|red|blue|black|white|silver)\s+",
    re.I,
)


def possession_rule(c: Clause) -> list[Fact] | None:
    m = _POSSESS.match(c.text)
    if not m:
        return None
    verb, thing = m.group("verb").lower().replace("just ", ""), m.group("thing").strip()
    key = _THING_ADJ.sub("", strip_article(thing)).lower()
    head = key.split()[-1] if key else ""
    branded = any(ch.isupper() for ch in re.sub(r"\bI\b", "", thing))
    if (
        not key
        or c.free(thing) is None
        or (verb in ("have", "have got", "got") and head not in THINGS and not branded)
    ):
        return None
    if verb in ("drive", "ride"):
        rel = (
            c.rel("self", f"{verb.upper()}S", _THING_ADJ.sub("", strip_article(thing)), "person", "object")
            if branded
            else None
        )
        attr = "car" if verb == "drive" else f"possession:{key}"
        return [c.fact(f"{c.subject} {verb}s {m.group('what')}", attr, thing, relations=[rel])]
    rel = (
        c.rel("self", "OWNS", _THING_ADJ.sub("", strip_article(thing)), "person", "object")
        if branded
        else None
    )
    if verb in ("own", "have", "have got"):
        text = f"{c.subject} {'owns' if verb == 'own' else 'has'} {m.group('what')}"
    else:
        said = c.free(c.text[m.start("what") :])
        if said is None:
            return None
        text = f"{c.subject} {verb} {said}"
    return [c.fact(text, f"possession:{key}", thing, relations=[rel])]


# --- meetings and events ----------------------------------------------------------------------
_MEETING = rx(
    r"I (?P<verb>had|have|am having|will have|have got|got) (?:a |an )?(?:[\w-]+ ){0,2}?"
    r"(?P<what>meeting|call|lunch|dinner|coffee|breakfast|brunch|drinks|chat|date|interview|"
    r"appointment|session|catch-up|catch up|conversation|meetup|meet-up|discussion|one-on-one) "
    r"with (?P<rest>.+)"
)
_MET = rx(
    r"I (?P<verb>met up with|met with|met|ran into|bumped into|talked to|talked with|spoke to|spoke with|"
    r"chatted with|caught up with|hung out with|called|phoned|went out with|worked with|am meeting with|"
    r"am meeting|will meet with|will meet|am seeing) (?P<rest>.+)"
)
_FUTURE = (
    "have",
    "am having",
    "will have",
    "have got",
    "am meeting with",
    "am meeting",
    "will meet with",
    "will meet",
    "am seeing",
)
_MET_REL = {
    "called": "CALLED",
    "phoned": "CALLED",
    "worked with": "WORKED_WITH",
    "talked to": "TALKED_TO",
    "talked with": "TALKED_TO",
    "spoke to": "TALKED_TO",
    "spoke with": "TALKED_TO",
    "chatted with": "TALKED_TO",
}
_ORG_LINK = re.compile(r"^,?\s*(?:from|at|of|who works (?:at|for)|with)$", re.I)


def _person(c: Clause, rest: str) -> tuple[str | None, str | None, str | None, str | None]:
    """(name, role, role adjective, organisation) at the start of ``rest``."""
    loose = c.casual
    tokens = rest.split()
    role = adj = None
    if tokens and tokens[0].lower() == "my":
        m = re.match(rf"my {_ADJ}(?P<role>{ROLE})\b,?\s*(?P<after>.*)$", rest, re.I)
        if not m:
            return None, None, None, None
        role, adj, tokens = m.group("role"), m.group("adj"), m.group("after").split()
    name, after = leading_name(tokens, loose=loose and role is None)
    org = None
    if name and len(after) >= 2 and _ORG_LINK.match(after[0]):
        org, _ = leading_name(after[1:], loose=loose)
    return name, role, adj, org


def meeting_rule(c: Clause) -> list[Fact] | None:
    m = _MEETING.match(c.text) or _MET.match(c.text)
    if not m:
        return None
    verb = m.group("verb").lower()
    name, role, adj, org = _person(c, m.group("rest"))
    if not name and not role:
        return None
    future = verb in _FUTURE
    kind = "WILL_MEET" if future else _MET_REL.get(verb, "MET")
    relations = [c.rel("self", kind, name, "person", "person")] if name else []
    if name and org:
        relations.append(c.rel(name, "WORKS_AT", org, "person", "organization"))
    said = c.free(c.text.split(" ", 1)[1])
    if said is None:
        return None
    text = f"{c.subject} {verb3(said)}"
    for proper in (name, org) if c.casual else ():
        if proper:  # typed in lowercase: write the names as names
            text = re.sub(rf"\b{re.escape(proper.lower())}\b", proper, text)
    facts = [c.fact(text, relations=relations)]
    if role and name:
        facts.append(_relative(c, role, adj, name))
    return facts


_EVENT = rx(
    r"I (?P<verb>visited|went to|traveled to|travelled to|flew to|drove to|graduated|finished|completed|"
    r"started|began|sold|won|lost|ran|climbed|published|wrote|launched|founded|co-founded|built|learned|"
    r"learnt|attended|watched|saw|got|received|passed|failed|signed|booked|ordered|celebrated|hosted|"
    r"organized|organised|retired|broke|injured|hurt|had|made|took|gave|cooked|baked|painted|fixed|"
    r"returned|came back from|became|raised|donated|volunteered|earned|scored|submitted|applied|"
    r"proposed|welcomed|quit|stopped|tried|bought|adopted|moved) (?P<rest>.+)"
)
_EVENT_SKIP = re.compile(
    r"^(?:you|it|that|this|them|to say|to ask|to know|a question|the question|an idea|no idea|a feeling|"
    r"the feeling|a thought|to|up|back to you|your|lost|confused|so|too|some time|time)\b",
    re.I,
)
_PLACE_VERBS = ("visited", "went to", "traveled to", "travelled to", "flew to", "drove to", "came back from")


def event_rule(c: Clause) -> list[Fact] | None:
    m = _EVENT.match(c.text)
    if not m or _EVENT_SKIP.match(m.group("rest")):
        return None
    verb, rest = m.group("verb").lower(), m.group("rest")
    relations = []
    name, _ = leading_name(rest.split())
    if name and verb in _PLACE_VERBS:
        relations.append(c.rel("self", "VISITED", name, "person", "location"))
    elif name and verb in ("founded", "co-founded"):
        relations.append(c.rel("self", "FOUNDED", name, "person", "organization"))
    said = c.free(rest)
    return [c.fact(f"{c.subject} {verb} {said}", relations=relations)] if said else None


RULES: list[Rule] = [people_rule, meeting_rule, possession_rule]
LATE_RULES: list[Rule] = [event_rule]
