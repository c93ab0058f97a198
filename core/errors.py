"""One root error for everything memlayer raises on purpose."""

from __future__ import annotations


class MemlayerError(Exception):
    """Root of every error memlayer raises deliberately."""


class ConfigError(MemlayerError, ValueError):
    """The configuration is wrong: the message names the key and what is expected."""


class ScopeError(MemlayerError, ValueError):
    """An operation needs a scope (user_id, agent_id or run_id) and got none, or got a bad one."""


class QueryError(ConfigError):
    """A SPARQL query was refused (not read-only, SERVICE, a FROM outside the caller's graphs) or failed to
    parse or run: the message says which, and what to change."""


class NotFoundError(MemlayerError, KeyError):
    """A memory id does not exist (or was forgotten)."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else "not found"


class NotCurrentError(NotFoundError):
    """A memory id exists but the memory is no longer current: it was closed (superseded, or by a budget) or
    has expired. Reads of current memories leave it out, and it cannot be changed; ``get(id)`` and
    ``history(id)`` still show it until it is deleted or swept."""


class ConflictError(MemlayerError, ValueError):
    """A write would reuse what exists: a memory id given for a new memory is already taken."""


class FilterError(MemlayerError, ValueError):
    """A search/get_all filter is malformed: the message shows the offending part."""


class MetadataError(ConfigError, FilterError):
    """Metadata given to a write is refused: not JSON, a key filters read as the memory's own column, or a
    value no filter could compare exactly. The message names the key and why. (A ConfigError and a
    FilterError, as the refusals it gathers were before.)"""


class ProviderError(MemlayerError):
    """A provider (LLM, embedder, vector index, graph store) failed after its retries."""


class LLMError(ProviderError):
    """The LLM could not be reached or its answer could not be used, after bounded retries."""


class StoreError(MemlayerError):
    """The on-disk store is unusable: locked by another process, corrupt, or from a newer version."""


class AuthError(MemlayerError):
    """A memlayer server refused the call: no API key, an unknown or revoked one, or one whose scopes
    (read, write, admin) do not allow it."""


class ServerError(MemlayerError):
    """A memlayer server could not be reached, stayed busy or unavailable through the client's retries,
    or failed on its side; the message carries the server's own explanation when it gave one."""


def missing_extra(extra: str, package: str) -> ImportError:
    """The ImportError raised when an optional dependency is missing, with the install hint."""
    return ImportError(
        f"{package} is not installed; it comes with memlayer's '{extra}' extra: "
        f'pip install "memlayer[{extra}]"'
    )
