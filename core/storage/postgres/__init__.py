"""The PostgreSQL store: memlayer's shared system of record, for many processes and hosts (the ``postgres``
extra: psycopg 3 and psycopg_pool). See ``storage.base.Store`` for the contract and docs/scaling.md."""

from .store import PostgresStore
from .tx import PostgresTx

__all__ = ["PostgresStore", "PostgresTx"]
