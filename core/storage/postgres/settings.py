"""What a ``postgresql://`` URL says: libpq's connection string, and memlayer's own options.

memlayer's options ride in the URL's query string and are removed before libpq sees it::

    postgresql://user:secret@db.internal:5432/app?schema=memlayer&pool_max=20&sslmode=require

``schema`` (default ``memlayer``): the PostgreSQL schema holding memlayer's tables; ``pool_min`` /
``pool_max`` (1 / 10): connections per process; ``pool_timeout`` (30 s): how long a call waits for a free
connection; ``poll`` (5 s): how often an idle process checks for other processes' writes when no
notification arrives. Every other parameter (``sslmode``, ``connect_timeout``, ``application_name``...)
is libpq's.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from ...errors import ConfigError

DEFAULT_SCHEMA = "memlayer"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
# libpq defaults memlayer changes (a URL or PG* variable that sets them wins)
_LIBPQ_DEFAULTS = {
    "connect_timeout": "10",  # a host that does not answer: an error in seconds, not minutes
    "application_name": "memlayer",
    "keepalives": "1",  # a vanished peer (host down, network cut) is noticed in about a minute
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
}


@dataclass(frozen=True)
class Settings:
    conninfo: str  # for libpq: the URL without memlayer's options (password included)
    schema: str = DEFAULT_SCHEMA
    pool_min: int = 1
    pool_max: int = 10
    pool_timeout: float = 30.0
    poll: float = 5.0
    location: str = ""  # for messages: the URL without its password

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for psycopg.connect beside ``conninfo`` (libpq settings the URL left unset)."""
        from psycopg.conninfo import conninfo_to_dict

        given = conninfo_to_dict(self.conninfo)
        return {k: v for k, v in _LIBPQ_DEFAULTS.items() if k not in given}


def parse(url: str) -> Settings:
    """Split a store URL into libpq's part and memlayer's options; a ConfigError names what is wrong."""
    if not isinstance(url, str) or not url.lower().startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"a PostgreSQL store URL starts with postgresql://, got {_redact(str(url))!r}")
    try:
        parts = urllib.parse.urlsplit(url)
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ConfigError(f"malformed PostgreSQL URL {_redact(url)!r}: {exc}") from None
    ours = {"schema", "pool_min", "pool_max", "pool_timeout", "poll"}
    options = {k: v for k, v in query if k in ours}
    rest = [(k, v) for k, v in query if k not in ours]
    conninfo = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(rest)))
    try:
        from psycopg.conninfo import conninfo_to_dict

        conninfo_to_dict(conninfo)
    except ImportError as exc:
        from ...errors import missing_extra

        raise missing_extra("postgres", "psycopg") from exc
    except Exception as exc:  # psycopg.ProgrammingError: libpq could not parse it
        raise ConfigError(f"malformed PostgreSQL URL {_redact(url)!r}: {exc}") from None
    schema = options.get("schema", DEFAULT_SCHEMA)
    if not _IDENT.fullmatch(schema):
        raise ConfigError(f"schema={schema!r} in the store URL: use letters, digits and _ (not first), at most 63")
    try:
        pool_min, pool_max = int(options.get("pool_min", 1)), int(options.get("pool_max", 10))
        pool_timeout, poll = float(options.get("pool_timeout", 30.0)), float(options.get("poll", 5.0))
    except ValueError as exc:
        raise ConfigError(f"a pool or poll option of the store URL is not a number: {exc}") from None
    if not (0 <= pool_min <= pool_max and pool_max >= 2):
        raise ConfigError(f"the store URL needs 0 <= pool_min <= pool_max and pool_max >= 2, got {pool_min}/{pool_max}")
    if pool_timeout <= 0 or poll <= 0:
        raise ConfigError("pool_timeout and poll in the store URL must be positive (seconds)")
    location = _redact(urllib.parse.urlunsplit(parts._replace(query="")))
    if schema != DEFAULT_SCHEMA:
        location += f"?schema={schema}"
    return Settings(conninfo, schema, pool_min, pool_max, pool_timeout, poll, location)


def _redact(url: str) -> str:
    """The URL without its password (messages and logs never show it)."""
    url = re.sub(r"(://[^:/@]*):[^@/]*@", r"\1@", url)
    return re.sub(r"([?&]password=)[^&]*", r"\1***", url)
