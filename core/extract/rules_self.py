"""Pattern rules about the speaker themselves: name, age, nationality, residence, origin, work,
studies and relationship status."""

from __future__ import annotations

import re

from .facts import NAME, NAME_ANY, TAIL, VALUE, Clause, Fact, Rule, a_an, entity, person_name, rx
from .text import strip_article, words

NATIONALITIES = words(
    "american british english scottish welsh irish canadian australian indian chinese japanese korean "
    "german french italian spanish mexican brazilian dutch swedish norwegian danish finnish polish "
    "russian greek turkish israeli egyptian nigerian kenyan pakistani vietnamese thai filipino "
    "indonesian argentinian argentine colombian chilean peruvian portuguese swiss austrian belgian "
    "ukrainian iranian iraqi saudi emirati singaporean malaysian bangladeshi nepali nepalese "
    "moroccan ghanaian ethiopian czech hungarian romanian bulgarian serbian croatian icelandic"
)
PROFESSIONS = words(
    "engineer developer programmer designer manager teacher professor lecturer doctor physician nurse "
    "surgeon dentist pharmacist therapist psychologist psychiatrist lawyer attorney solicitor "
    "accountant consultant analyst scientist researcher architect chef cook baker writer author "
    "journalist editor artist musician singer actor actress photographer filmmaker producer director "
    "ceo cto cfo coo cio founder cofounder co-founder entrepreneur freelancer contractor student "
    "intern pilot driver mechanic electrician plumber carpenter farmer firefighter officer soldier "
    "paramedic vet veterinarian librarian banker trader broker realtor salesperson marketer recruiter "
    "administrator clerk cashier barista bartender waiter waitress secretary coach trainer tutor "
    "translator interpreter economist mathematician physicist chemist biologist technician specialist "
    "coordinator executive president vp postdoc supervisor sysadmin practitioner investor "
    "instructor counselor counsellor caregiver nanny housekeeper cleaner janitor guard detective "
    "policeman policewoman judge paralegal auditor underwriter actuary dietitian nutritionist "
    "optometrist radiologist midwife principal dean tester strategist copywriter illustrator "
    "animator streamer youtuber influencer blogger podcaster dj composer dancer model stylist "
    "hairdresser barber tailor welder machinist logistician dispatcher miner fisherman"
)
_PROFESSION_SUFFIX = re.compile(r"(?:ologist|ographer|ician|eer|ist)$")
_NOT_PROFESSION = words(
    "fan lover person member user customer beginner follower optimist pessimist buddhist atheist "
    "feminist perfectionist realist minimalist idealist activist tourist"
)
STUDENT_WORDS = words("student undergrad undergraduate freshman sophomore grad phd")
_NOT_ORIGIN = re.compile(
    r"\b(?:team|department|dept|office|company|class|group|floor|side|future|past)\b", re.I
)


def is_profession(title: str) -> bool:
    parts = title.lower().replace(",", " ").split()
    if not parts or len(parts) > 5:
        return False
    head = parts[-1]
    if head in _NOT_PROFESSION:
        return False
    return head in PROFESSIONS or head in STUDENT_WORDS or bool(_PROFESSION_SUFFIX.search(head))


# --- name, nationality, age ---------------------------------------------------------------
_NAME_IS = rx(rf"my (?:full |first |real |given )?name is {NAME_ANY}(?:,.*)?")
_CALLED = rx(
    rf"(?:I am called|I am named|call me|I go by|people call me|everyone calls me|you can call me) {NAME_ANY}(?:,.*)?"
)
_I_AM_NAME = rx(rf"I am {NAME}(?:,.*)?")
_NATIONALITY = rx(r"I am (?:a |an )?(?P<nat>[a-z]+)(?: citizen| national)?" + TAIL)
_AGE = rx(r"I am (?P<age>\d{1,3})(?:\s*(?:years?|yrs?)(?: old)?|\s*y/?o)?" + TAIL)
_AGE2 = rx(r"(?:I (?:have )?(?:just )?turned|my age is) (?P<age>\d{1,3})" + TAIL)


def name_rule(c: Clause) -> list[Fact] | None:
    m = _NAME_IS.match(c.text) or _CALLED.match(c.text)
    name = person_name(m.group("name"), explicit=True) if m else None
    if m is None and (m := _I_AM_NAME.match(c.text)):
        first = m.group("name").split()[0]
        if first.lower() in NATIONALITIES or is_profession(m.group("name")):
            return None
        name = person_name(m.group("name"))
    if not name:
        return None
    return [c.fact(f"{c.possessive} name is {name}", "name", name)]


def nationality_rule(c: Clause) -> list[Fact] | None:
    m = _NATIONALITY.match(c.text)
    if not m or m.group("nat").lower() not in NATIONALITIES:
        return None
    nat = m.group("nat").capitalize()
    return [c.fact(f"{c.subject} is {nat}", "nationality", nat)]


def age_rule(c: Clause) -> list[Fact] | None:
    m = _AGE.match(c.text) or _AGE2.match(c.text)
    if not m or not 0 < int(m.group("age")) < 130:
        return None
    age = str(int(m.group("age")))
    return [c.fact(f"{c.subject} is {age} years old", "age", age)]


# --- residence and origin -----------------------------------------------------------------
_LIVE = rx(
    r"I (?:live|am living|have been living|have lived|reside|am residing|am based|am located|"
    rf"am settled|have settled|settled down) (?P<prep>in|near|outside(?: of)?) {VALUE}{TAIL}"
)
_MOVED = rx(
    r"I (?:have )?(?:moved|relocated|emigrated|immigrated)(?: back| over| here| there)? "
    rf"(?:from (?P<origin>[^,]+?) )?to {VALUE}{TAIL}"
)
_HOME = rx(rf"my (?:home|house|apartment|flat|place) is (?:in|near) {VALUE}{TAIL}")
_NOT_LIVE = rx(rf"I (?:(?:no longer|do not) live in|(?:have )?moved (?:out of|away from)) {VALUE}{TAIL}")
_FROM = rx(rf"I (?:am (?:originally |born and raised )?from|(?:originally )?come from) {VALUE}{TAIL}")
_GREW = rx(rf"I (?:grew up|was raised|was born and raised) in {VALUE}{TAIL}")
_BORN_IN = rx(rf"I was born in {VALUE}{TAIL}")
_BORN_ON = rx(r"I was born on (?P<value>.+)")


def residence_rule(c: Clause) -> list[Fact] | None:
    if m := _NOT_LIVE.match(c.text):
        place = entity(m.group("value"))
        return [c.fact(f"{c.subject} no longer lives in {place}", "residence", place, negative=True)]
    m = _LIVE.match(c.text) or _MOVED.match(c.text) or _HOME.match(c.text)
    if not m:
        return None
    place = entity(m.group("value"))
    groups = m.groupdict()
    if re.match(r"(?:a|an)\s", place, re.I):  # "moved to a new apartment": an event, not a place
        return [c.fact(f"{c.subject} moved to {place}")]
    prep = (groups.get("prep") or "in").lower()
    relation = "LIVES_IN" if prep == "in" else "LIVES_NEAR"
    relations = [c.rel("self", relation, place, "person", "location")]
    if groups.get("origin"):
        relations.append(c.rel("self", "LIVED_IN", entity(groups["origin"]), "person", "location"))
    return [c.fact(f"{c.subject} lives {prep} {place}", "residence", place, relations=relations)]


def origin_rule(c: Clause) -> list[Fact] | None:
    if (m := _FROM.match(c.text)) and not _NOT_ORIGIN.search(m.group("value")):
        place = entity(m.group("value"))
        rel = c.rel("self", "IS_FROM", place, "person", "location")
        return [c.fact(f"{c.subject} is from {place}", "origin", place, relations=[rel])]
    if m := _GREW.match(c.text):
        place = entity(m.group("value"))
        rel = c.rel("self", "GREW_UP_IN", place, "person", "location")
        return [c.fact(f"{c.subject} grew up in {place}", "origin", place, relations=[rel])]
    if m := _BORN_ON.match(c.text):
        day = m.group("value").strip()
        return [c.fact(f"{c.subject} was born on {day}", "birthday", day)]
    if m := _BORN_IN.match(c.text):
        value = m.group("value").strip()
        if value.isdigit():
            return [c.fact(f"{c.subject} was born in {value}", "birth year", value)]
        place = entity(value)
        rel = c.rel("self", "BORN_IN", place, "person", "location")
        return [c.fact(f"{c.subject} was born in {place}", "birthplace", place, relations=[rel])]
    return None


# --- work and studies -----------------------------------------------------------------------
_WORK_AT = rx(rf"I (?:work|am working|have been working|have worked) (?P<prep>at|for) {VALUE}{TAIL}")
_WORK_AS = rx(rf"I (?:work|am working) as (?:a |an )?(?P<title>[\w -]+?)(?: (?:at|for) {VALUE})?{TAIL}")
_WORK_IN = rx(rf"I (?:work|am working) in {VALUE}{TAIL}")
_REMOTE = rx(
    r"I (?:work|am working) (?P<how>from home|at home|remotely|remote|from the office|in an office|hybrid)"
    + TAIL
)
_JOINED = rx(
    r"I (?:have )?(?:joined|started (?:working |a (?:new )?job |a new role )?(?:at|with|for)|"
    r"got (?:a |an )?(?:new )?(?:job|position|role|internship) (?:at|with)|"
    r"accepted (?:a |an )?(?:job|position|offer|role) (?:at|with|from)|am employed (?:at|by|with)) "
    rf"{VALUE}{TAIL}"
)
_LEFT_JOB = rx(
    r"I (?:have )?(?:left|quit|resigned from|retired from|was laid off from|got laid off from|"
    rf"was let go from|was fired from|got fired from|(?:no longer|do not) work (?:at|for)) {VALUE}{TAIL}"
)
_QUIT_JOB = rx(r"I (?:have )?(?:quit|left|lost) my (?:job|position|role)(?: at (?P<value>[^,]+?))?" + TAIL)
_WORK_STATUS = rx(
    r"I am (?:now |currently )?(?P<status>retired|unemployed|self-employed|jobless|between jobs|"
    r"out of work|a stay-at-home (?:mom|dad|parent))" + TAIL
)
_TITLE_AT = rx(rf"I am (?:a |an |the )?(?P<title>[\w -]+?) (?:at|for|of|with) {VALUE}{TAIL}")
_I_AM_A = rx(r"I am (?:a |an )(?P<title>[\w -]+?)" + TAIL)
_STUDY_AT = rx(
    r"I (?:study|am studying|go to (?:school|college|university|uni)|am enrolled|am a student) "
    rf"(?:(?P<field>[\w -]+?) )?at {VALUE}{TAIL}"
)
_STUDY = rx(r"I (?:study|am studying|major in|am majoring in|majored in) (?P<field>[a-z][\w -]+?)" + TAIL)
_GRADUATED = rx(rf"I (?:have )?graduated from {VALUE}{TAIL}")
_DURATION = re.compile(
    r"(?:\d+|a|an|one|two|three|four|five|six|several|many|a few|the past|the last|over)\b", re.I
)
_AS_ROLE = re.compile(r"(?P<org>.+?)\s+as\s+(?:an?\s+)?(?P<title>[\w -]+)$", re.I)
_MEMBERSHIP = re.compile(
    r"^(?:a|an)\s|\b(?:club|gym|team|group|class|course|community|choir|band|league)\b", re.I
)


def _job_facts(c: Clause, title: str, org: str | None) -> list[Fact]:
    title = title.strip()
    head = title.lower().split()[-1]
    facts: list[Fact] = []
    if head in STUDENT_WORDS or title.lower().endswith(("phd student", "grad student")):
        if org:
            school = entity(org)
            rel = c.rel("self", "STUDIES_AT", school, "person", "organization")
            return [
                c.fact(f"{c.subject} is {a_an(title)} {title} at {school}", "school", school, relations=[rel])
            ]
        return [c.fact(f"{c.subject} is {a_an(title)} {title}", "job title", title)]
    facts.append(c.fact(f"{c.subject} is {a_an(title)} {title}", "job title", title))
    if org:
        facts.append(_employer(c, org))
    return facts


def _employer(c: Clause, org: str, prep: str = "at") -> Fact:
    org = entity(org)
    rel = c.rel("self", "WORKS_AT", org, "person", "organization")
    return c.fact(f"{c.subject} works {prep} {org}", "employer", org, relations=[rel])


def work_rule(c: Clause) -> list[Fact] | None:
    text = c.text
    if m := _QUIT_JOB.match(text) or _LEFT_JOB.match(text):
        raw = m.group("value")
        if raw and not raw[:1].isupper() and not re.search(r"\bwork\b", text, re.I):
            return None  # "I left my keys at home": not an employer
        org = entity(raw) if raw else None
        words = f"no longer works at {org}" if org else "left their job"
        return [c.fact(f"{c.subject} {words}", "employer", org, negative=True)]
    if m := _WORK_STATUS.match(text):
        status = m.group("status").lower()
        return [c.fact(f"{c.subject} is {status}", "employer", status)]
    if m := _REMOTE.match(text):
        how = m.group("how").lower()
        return [c.fact(f"{c.subject} works {how}", "work location", how)]
    if m := _WORK_AT.match(text):
        if _DURATION.match(m.group("value")):
            return None  # "I have been working for 5 years"
        if role := _AS_ROLE.match(m.group("value")):  # "I work at Acme as a designer"
            return _job_facts(c, role.group("title"), role.group("org"))
        return [_employer(c, m.group("value"), m.group("prep").lower())]
    if m := _WORK_AS.match(text):
        return _job_facts(c, m.group("title"), m.group("value"))
    if m := _JOINED.match(text):
        org = m.group("value")
        if _MEMBERSHIP.search(org):
            rel = c.rel("self", "MEMBER_OF", org, "person", "organization")
            return [
                c.fact(
                    f"{c.subject} joined {org}",
                    f"membership:{strip_article(org).lower()}",
                    org,
                    relations=[rel],
                )
            ]
        return [_employer(c, org)]
    if m := _WORK_IN.match(text):
        value = m.group("value").strip()
        if value[:1].isupper():
            place = entity(value)
            rel = c.rel("self", "WORKS_IN", place, "person", "location")
            return [c.fact(f"{c.subject} works in {place}", "work location", place, relations=[rel])]
        return [c.fact(f"{c.subject} works in {value}", "work field", value)]
    if (m := _TITLE_AT.match(text)) and is_profession(m.group("title")):
        return _job_facts(c, m.group("title"), m.group("value"))
    if (m := _I_AM_A.match(text)) and is_profession(m.group("title")):
        return _job_facts(c, m.group("title"), None)
    return None


def study_rule(c: Clause) -> list[Fact] | None:
    if m := _STUDY_AT.match(c.text):
        school = entity(m.group("value"))
        rel = c.rel("self", "STUDIES_AT", school, "person", "organization")
        field = (m.group("field") or "").strip()
        what = f"studies {field} at" if field and not field.lower().startswith("a ") else "studies at"
        facts = [c.fact(f"{c.subject} {what} {school}", "school", school, relations=[rel])]
        return facts
    if m := _GRADUATED.match(c.text):
        school = entity(m.group("value"))
        rel = c.rel("self", "GRADUATED_FROM", school, "person", "organization")
        return [
            c.fact(
                f"{c.subject} graduated from {school}", f"education:{school.lower()}", school, relations=[rel]
            )
        ]
    if (m := _STUDY.match(c.text)) and not re.match(r"(?:for|hard|a lot|late)\b", m.group("field"), re.I):
        field = m.group("field").strip()
        verb = "majored in" if "majored" in c.text.lower() else "studies"
        return [c.fact(f"{c.subject} {verb} {field}", "field of study", field)]
    return None


# --- relationship status ------------------------------------------------------------------
_STATUS = rx(
    r"I am (?P<status>married|engaged|divorced|single|widowed|separated|in a relationship)"
    rf"(?: (?:to|with) {NAME})?{TAIL}"
)
_GOT = rx(
    rf"I (?:have )?(?:just )?got (?P<status>married|engaged|divorced)(?: (?:to|from) {NAME})?(?P<rest>.*)"
)
_DATING = rx(rf"I am (?:dating|seeing|going out with|in a relationship with) {NAME}{TAIL}")
_BROKE_UP = rx(
    rf"I (?:have )?(?:just )?broke up with (?:my (?:girlfriend|boyfriend|partner) )?{NAME}?(?P<rest>.*)"
)
_STATUS_REL = {"married": "MARRIED_TO", "engaged": "ENGAGED_TO", "in a relationship": "DATING"}


def _tail(c: Clause, rest: str) -> str:
    """The rest of a clause as a suffix (" in 2023"), or "" when it adds nothing usable."""
    said = c.free(rest) if rest.strip() else None
    return f" {said}" if said else ""


def status_rule(c: Clause) -> list[Fact] | None:
    if m := _BROKE_UP.match(c.text):
        name = person_name(m.group("name"))
        who = f" with {name}" if name else ""
        return [
            c.fact(f"{c.subject} broke up{who}{_tail(c, m.group('rest'))}", "relationship status", "broke up")
        ]
    if m := _DATING.match(c.text):
        name = person_name(m.group("name"), explicit=True)
        if not name:
            return None
        rel = c.rel("self", "DATING", name, "person", "person")
        return [c.fact(f"{c.subject} is dating {name}", "relationship status", "dating", relations=[rel])]
    m = _STATUS.match(c.text) or _GOT.match(c.text)
    if not m:
        return None
    status = m.group("status").lower()
    name = person_name(m.group("name"), explicit=True)
    rel = (
        c.rel("self", _STATUS_REL[status], name, "person", "person")
        if name and status in _STATUS_REL
        else None
    )
    to = (" from " if status == "divorced" else " to ") + name if name else ""
    if m.re is _GOT:
        text = f"{c.subject} got {status}{to}{_tail(c, m.group('rest'))}"
    else:
        text = f"{c.subject} is {status}{to}"
    return [c.fact(text, "relationship status", status, relations=[rel])]


RULES: list[Rule] = [
    name_rule,
    nationality_rule,
    age_rule,
    status_rule,
    residence_rule,
    origin_rule,
    work_rule,
    study_rule,
]
