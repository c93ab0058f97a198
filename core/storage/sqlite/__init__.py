"""The SQLite store: memlayer's embedded system of record (see ``storage.base.Store``)."""

from .store import SQLiteStore
from .tx import SQLiteTx

__all__ = ["SQLiteStore", "SQLiteTx"]
