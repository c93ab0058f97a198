"""Pattern rules for diet, health and languages, likes and dislikes, plans, "my X is Y" details,
habits, ongoing activities and plain "I am a X" identities."""

from __future__ import annotations

import re

from .facts import TAIL, Clause, Fact, Rule, a_an, leading_name, rx, trim_clause
from .text import conjugate, strip_article, verb3, words

# --- diet, health, languages ----------------------------------------------------------------
_DIET = rx(
    r"I am (?:a |an )?(?:strict |full )?(?P<diet>vegetarian|vegan|pescatarian|pescetarian|flexitarian|"
    r"keto|paleo|gluten[- ]free|dairy[- ]free|halal|kosher|plant[- ]based|carnivore|omnivore)" + TAIL
)
_ALLERGIC = rx(r"I am (?:very |severely |deathly |mildly )?allergic to (?P<value>[^,;]+?)" + TAIL)
_ALLERGY = rx(r"I have (?:a |an )?(?:severe |mild )?(?P<value>[\w -]+?) allergy" + TAIL)
_ALLERGY_TO = rx(r"I have (?:a |an )?(?:severe |mild )?allergy to (?P<value>[^,;]+?)" + TAIL)
_INTOLERANT = rx(r"I am (?P<value>lactose|gluten|fructose|histamine) intolerant" + TAIL)
_CONDITION = rx(
    r"I (?:have|suffer from|was diagnosed with|live with) (?P<value>(?:type [12] )?diabetes|asthma|adhd|"
    r"autism|celiac(?: disease)?|coeliac(?: disease)?|arthritis|migraines|epilepsy|insomnia|anxiety|"
    r"depression|dyslexia|hypertension|high blood pressure|a heart condition|ibs)" + TAIL
)
_SPEAK = rx(
    r"I (?:speak|can speak|am fluent in|am a native speaker of|am native in) "
    r"(?P<value>[A-Za-z ,]+?)(?: fluently| natively| well| a little(?: bit)?)?"
)
LANGUAGES = words(
    "english spanish french german italian portuguese dutch russian chinese mandarin cantonese japanese "
    "korean arabic hindi urdu bengali punjabi tamil telugu turkish persian farsi hebrew greek polish "
    "swedish norwegian danish finnish czech hungarian romanian ukrainian vietnamese thai indonesian "
    "malay tagalog swahili latin catalan basque gujarati marathi"
)


def health_rule(c: Clause) -> list[Fact] | None:
    if m := _DIET.match(c.text):
        diet = m.group("diet").lower()
        return [c.fact(f"{c.subject} is {diet}", "diet", diet)]
    if m := _ALLERGIC.match(c.text) or _ALLERGY.match(c.text) or _ALLERGY_TO.match(c.text):
        thing = strip_article(m.group("value").strip()).lower()
        rel = c.rel("self", "ALLERGIC_TO", thing, "person", "substance")
        return [c.fact(f"{c.subject} is allergic to {thing}", f"allergy:{thing}", thing, relations=[rel])]
    if m := _INTOLERANT.match(c.text):
        thing = m.group("value").lower()
        return [c.fact(f"{c.subject} is {thing} intolerant", f"intolerance:{thing}", thing)]
    if m := _CONDITION.match(c.text):
        condition = m.group("value")
        key = strip_article(condition).lower()
        return [c.fact(f"{c.subject} has {condition}", f"condition:{key}", condition)]
    if m := _SPEAK.match(c.text):
        names = [w.strip() for w in re.split(r",|\band\b|\bor\b", m.group("value")) if w.strip()]
        langs = [n for n in names if n.lower() in LANGUAGES]
        if not langs or len(langs) != len(names):
            return None
        return [
            c.fact(
                f"{c.subject} speaks {lang.capitalize()}",
                f"language:{lang.lower()}",
                lang.capitalize(),
                relations=[c.rel("self", "SPEAKS", lang.capitalize(), "person", "language")],
            )
            for lang in langs
        ]
    return None


# --- preferences ------------------------------------------------------------------------------
_LIKE = rx(
    r"I (?P<verb>like|love|enjoy|adore|prefer|dig|am fond of|am into|am (?:a )?(?:big |huge |great |massive )?"
    r"fan of|am passionate about|am obsessed with|am crazy about|am keen on|am a lover of|"
    r"have a soft spot for|have a passion for|cannot get enough of) (?P<obj>.+)"
)
_DISLIKE = rx(
    r"I (?P<verb>hate|dislike|detest|loathe|despise|cannot stand|can not stand|"
    r"am not (?:a )?(?:big |huge )?fan of|am not into|am not keen on|am not fond of|am tired of|am sick of|"
    r"do not (?:like|love|enjoy|care for|eat|drink)|no longer (?:like|love|enjoy|eat|drink)|"
    r"stopped (?:liking|enjoying|eating|drinking)|never (?:liked|enjoyed|eat|drink)) (?P<obj>.+)"
)
_OBJ_SKIP = re.compile(
    r"^(?:it|that|this|these|those|you|your|them|him|her|what|how|when|the idea|the way|to think|"
    r"to say|to know|to believe|to ask|the sound of that|hearing that)\b",
    re.I,
)
_ANYMORE = re.compile(r",?\s+(?:anymore|any more|any longer|these days)$", re.I)
_TOPIC_TAIL = re.compile(
    r"\s+(?:with|on|at|in|during|every|each|when|whenever|because|since|while|after|before|for|from|"
    r"more than|better than|over|than|rather than|instead of|a lot|so much|very much|too|as well|"
    r"anymore|any more|these days|now|the most)\b.*$",
    re.I,
)
_TOPIC_VERB = re.compile(
    r"^(?:to\s+)?(?:play|playing|watch|watching|eat|eating|drink|drinking|read|reading|listen to|"
    r"listening to|cook|cooking|go|going|do|doing|make|making|visit|visiting|have|having|bake|baking|"
    r"learn|learning|practi[cs]e|practi[cs]ing|try|trying|grow|growing|collect|collecting|"
    r"travel to|traveling to|travelling to|go to|going to|spend time|spending time)\s+(?=\S)|^to\s+(?=\S)",
    re.I,
)
_NEGATION_TEXT = {
    "do not like": "does not like",
    "do not love": "does not love",
    "do not enjoy": "does not enjoy",
    "do not care for": "does not care for",
    "do not eat": "does not eat",
    "do not drink": "does not drink",
}


def preference_topic(obj: str) -> str:
    """The topic a liked/disliked phrase is about: "to play cricket with friends" -> "cricket"."""
    topic = _TOPIC_TAIL.sub("", obj.strip())
    topic = _TOPIC_VERB.sub("", topic)
    topic = strip_article(re.sub(r"^(?:some|all|any|good|great)\s+", "", topic, flags=re.I))
    return topic.strip(" ,.").lower() or obj.strip().lower()


def preference_rule(c: Clause) -> list[Fact] | None:
    negative = False
    m = _LIKE.match(c.text)
    if m is None:
        m, negative = _DISLIKE.match(c.text), True
    if m is None or _OBJ_SKIP.match(m.group("obj")):
        return None
    verb, obj = m.group("verb").lower(), m.group("obj").strip()
    ended = bool(_ANYMORE.search(obj)) or verb.startswith(("no longer", "stopped"))
    obj = _ANYMORE.sub("", trim_clause(obj))
    said_obj = c.free(obj)
    topic = preference_topic(obj.split(",")[0])
    if not topic or said_obj is None:
        return None
    if negative and ended:
        base = re.sub(r"^(?:do not|no longer|stopped)\s+", "", verb)
        base = {"liking": "like", "enjoying": "enjoy", "eating": "eat", "drinking": "drink"}.get(base, base)
        said = f"no longer {conjugate(base)}"
    elif negative:
        said = _NEGATION_TEXT.get(verb) or verb3(verb)
    else:
        said = verb3(verb)
    relation = None
    if not ended:
        relation = c.rel("self", "DISLIKES" if negative else "LIKES", topic, "person", "topic")
    text = f"{c.subject} {said} {said_obj}"
    return [c.fact(text, f"preference:{topic}", topic, negative=negative, relations=[relation])]


# --- plans and goals ---------------------------------------------------------------------------
_PLAN = rx(
    r"I (?P<verb>am going to|am planning to|am planning on|plan to|am about to|intend to|will|"
    r"am hoping to|hope to|want to|would like to|would love to|need to|have to|must|am thinking about|"
    r"am thinking of|am considering|am looking forward to|look forward to|cannot wait to|am excited to|"
    r"aim to|am aiming to|am trying to|am saving (?:up )?for|am moving to|am traveling to|"
    r"am travelling to|am flying to|am heading to|am visiting|am starting|am getting|am leaving for|"
    r"am attending|am hosting) (?P<rest>.+)"
)
_VAGUE = re.compile(
    r"^(?:(?:definitely|probably|maybe|surely|certainly|just|really|totally|also|still|sure)\s+)*"
    r"(?:(?:you|know|ask|say|tell|check|see if|try|think|make sure|be honest|be clear|let|explain|"
    r"clarify|understand|confirm|mention|share|not|help|answer|repeat|remember|forget|ignore|delete|"
    r"find out|figure out|learn more|talk to you|get back to you|reach out|be sure|do my best|"
    r"keep (?:going|at|that|this|it|trying|in mind)|stay (?:positive|strong|focused|determined))\b"
    r"|(?:go|leave|sleep|stop|continue|start over|go now|go home|go to bed|be there|be back|"
    r"be right back|do it|do that|do this|keep going|see|try again)$)",
    re.I,
)
_TRAVEL = re.compile(r"^(?:visit|travel to|fly to|go to|move to|head to|see)\s+", re.I)
_PLACE_PLANS = (
    "am going to",
    "am moving to",
    "am traveling to",
    "am travelling to",
    "am flying to",
    "am heading to",
    "am visiting",
    "am leaving for",
)


def plan_rule(c: Clause) -> list[Fact] | None:
    m = _PLAN.match(c.text)
    if not m or _VAGUE.match(m.group("rest")):
        return None
    verb, rest = m.group("verb").lower(), m.group("rest")
    said = c.free(rest)
    if said is None:
        return None
    relations = []
    place_words = None
    if verb in _PLACE_PLANS and not _TRAVEL.match(rest):
        place_words = rest.split()
    elif verb in ("am going to", "will", "plan to", "want to", "am planning to", "hope to") and _TRAVEL.match(
        rest
    ):
        place_words = _TRAVEL.sub("", rest).split()
    if place_words:
        place, _ = leading_name(place_words)
        if place:
            relations.append(c.rel("self", "PLANS_TO_VISIT", place, "person", "location"))
    return [c.fact(f"{c.subject} {verb3(verb)} {said}", relations=relations)]


# --- "my X is Y" and favourites -----------------------------------------------------------------
_MY_X_IS = rx(
    r"my (?P<key>[a-z][\w'-]*(?: [\w'-]+){0,3}?) (?P<verb>is|are|was|will be|has been|remains|=) "
    r"(?P<value>.+)"
)
_IS_MY_FAV = rx(
    r"(?P<value>.+?) (?P<verb>is|are) my (?:all[- ]time |absolute )?(?P<key>(?:favou?rite|fave) [\w -]+)"
)
_SKIP_KEYS = re.compile(
    r"^(?:favou?rite|fave|question|point|guess|bad|pleasure|apologies|mistake|turn|answer|concern|problem|issue|thought|"
    r"thoughts|opinion|feeling|understanding|head|back|stomach|throat|leg|arm|knee|eyes?|tooth|"
    r"god|goodness|gosh|day|week|life|request|message|prompt|instructions?|internet|connection)$",
    re.I,
)
_VALUE_TAIL = re.compile(r",?\s+(?:now|these days|at the moment|by the way|btw)$", re.I)


def detail_rule(c: Clause) -> list[Fact] | None:
    m = _MY_X_IS.match(c.text) or _IS_MY_FAV.match(c.text)
    if not m:
        return None
    key = re.sub(r"\s+", " ", m.group("key").strip()).lower()
    if _SKIP_KEYS.match(key):
        return None
    value = _VALUE_TAIL.sub("", trim_clause(m.group("value"))).strip(" \"'")
    if not value or re.match(
        r"^(?:not|that|this|it|so|too|very|when|if|because|like|what|how)\b", value, re.I
    ):
        return None
    verb = "is" if m.group("verb") == "=" else m.group("verb").lower()
    key_words = re.sub(r"\bfave\b", "favourite", m.group("key").strip())
    text = f"{c.possessive} {key_words} {verb} {c.phrase(value)}"
    return [c.fact(text, key, value)]


# --- habits, ongoing activities, identities -----------------------------------------------------
_HABIT = rx(
    r"I (?P<freq>(?:usually|often|always|sometimes|regularly|normally|frequently|rarely|never|"
    r"occasionally|typically|generally) )?(?P<verb>play|practice|practise|run|jog|swim|cycle|bike|hike|"
    r"climb|ski|surf|dance|sing|cook|bake|read|watch|drink|eat|go|visit|attend|volunteer|teach|write|"
    r"paint|draw|meditate|use|code|program|collect|wake up|get up|sleep|train|walk|ride|listen to|take|"
    r"work out|exercise|do|study|drive|commute|travel|fly|shop|spend|make|grow|brew|knit|garden|coach|"
    r"mentor|tutor|host|follow|support|root for|cheer for|celebrate|wear|keep|avoid|skip|own) "
    r"(?P<rest>.+)"
)
_HABIT_SKIP = re.compile(r"^(?:you|not|that|it|this|so|with you|what|care|mind|think|know)\b", re.I)
_DOING = rx(r"I am (?P<verb>[a-z]+ing) (?P<rest>.+)")
_DOING_SKIP = words(
    "going doing feeling getting trying wondering asking kidding joking hoping waiting talking saying "
    "telling thinking curious not being having coming looking asking"
)
_IDENTITY = rx(r"I am (?P<art>a|an) (?P<what>[\w -]{2,40}?)" + TAIL)
_IDENTITY_SKIP = re.compile(r"^(?:bit|little|lot|few|couple|tad|bot|robot|ai|question)\b", re.I)


def habit_rule(c: Clause) -> list[Fact] | None:
    m = _HABIT.match(c.text)
    if not m or _HABIT_SKIP.match(m.group("rest")):
        return None
    freq = (m.group("freq") or "").lower()
    relations = []
    verb = m.group("verb").lower()
    if verb in ("support", "root for", "cheer for", "follow"):
        team, _ = leading_name(m.group("rest").split())
        if team:
            relations.append(c.rel("self", "SUPPORTS", team, "person", "organization"))
    said = c.free(m.group("rest"))
    if said is None:
        return None
    return [c.fact(f"{c.subject} {freq}{verb3(verb)} {said}", relations=relations)]


def doing_rule(c: Clause) -> list[Fact] | None:
    m = _DOING.match(c.text)
    if not m or m.group("verb").lower() in _DOING_SKIP or _HABIT_SKIP.match(m.group("rest")):
        return None
    said = c.free(m.group("rest"))
    return [c.fact(f"{c.subject} is {m.group('verb').lower()} {said}")] if said else None


def identity_rule(c: Clause) -> list[Fact] | None:
    m = _IDENTITY.match(c.text)
    if not m or _IDENTITY_SKIP.match(m.group("what")):
        return None
    what = m.group("what").strip()
    return [c.fact(f"{c.subject} is {a_an(what)} {what}")]


_USED_TO = rx(r"I used to (?P<rest>.+)")
_USED_TO_RELATIONS = [
    (re.compile(r"^live in (?P<x>.+)$", re.I), "LIVED_IN", "location"),
    (re.compile(r"^work (?:at|for) (?P<x>.+)$", re.I), "WORKED_AT", "organization"),
]
_HAVE_EVENT = rx(
    r"I have (?:a|an|my) (?P<what>[\w -]{2,40}?) (?P<when>(?:tomorrow|today|tonight|this|next|on|at|in)\b.*)"
)
_CLOCK = re.compile(
    r"\b(?:\d{1,2}(?::\d{2})?\s*(?:am|pm)|\d{4}-\d{2}-\d{2}|monday|tuesday|wednesday|thursday|friday|"
    r"saturday|sunday|january|february|march|april|may|june|july|august|september|october|november|december)\b",
    re.I,
)


def past_rule(c: Clause) -> list[Fact] | None:
    """ "I used to live in London" (a past fact, not the current one)."""
    m = _USED_TO.match(c.text)
    if not m:
        return None
    relations = []
    for pattern, relationship, kind in _USED_TO_RELATIONS:
        if found := pattern.match(m.group("rest")):
            place, _ = leading_name(found.group("x").split())
            if place:
                relations.append(c.rel("self", relationship, place, "person", kind))
    said = c.free(m.group("rest"))
    return [c.fact(f"{c.subject} used to {said}", relations=relations)] if said else None


def appointment_rule(c: Clause) -> list[Fact] | None:
    """ "I have a dentist appointment tomorrow at 3pm" -> dated."""
    m = _HAVE_EVENT.match(c.text)
    if not m:
        return None
    when = m.group("when")
    if c.dated(when) == when and not _CLOCK.search(when):
        return None
    said = c.free(c.text.split(" ", 2)[2])
    return [c.fact(f"{c.subject} has {said}")] if said else None


RULES: list[Rule] = [health_rule, preference_rule, plan_rule, detail_rule, past_rule, appointment_rule]
LATE_RULES: list[Rule] = [habit_rule, doing_rule, identity_rule]
