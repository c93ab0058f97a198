"""Lexical retrieval (BM25 over the store's full-text index), restricted to the caller's scope and filters.

The query is reduced to its content words: stop words and question words are dropped (an English
list in the spirit of the classic SMART/Lucene ones, plus the wording questions are asked in); the store
matches any of what remains in its full-text index (``Store.lexical``), each term as a plain word so no
query syntax ever reaches it from users.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\w+", re.UNICODE)
_STOPWORD_TEXT = (
    "a an and are as at be by did do does for from had has have he her his how i in is it its me my of on or "
    "our she that the their them they this to was we were what when where which who whom why will with you your "
    # function words
    "about above after again against all am any because been before being below between both but can could "
    "down during each few further here hers herself him himself into itself just more most myself no nor not "
    "now off once only other ought ours ourselves out over own same should so some such than then there these "
    "those through too under until up very whose would yours yourself yourselves themselves theirs while "
    "also ever every either neither much many may might must shall s t d ll m re ve "
    # how questions are asked
    "kind kinds type types sort sorts thing things something anything way ways "
    "tell know think describe mention mentioned say said"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def terms(text: str, stopwords: frozenset[str] = STOPWORDS) -> list[str]:
    """The query's distinct content words (lower-cased), in order; all its words when none is left."""
    words = [w.lower() for w in _TOKEN.findall(text)]
    content = [w for w in words if w not in stopwords and (len(w) > 1 or w.isdigit())] or words
    return list(dict.fromkeys(content))
