"""The request bodies and answer shapes of the HTTP API (they are also its OpenAPI schema).

Answers are the dicts ``Memory`` returns (see ``memlayer.records``), scope ids without the tenant prefix.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ..errors import ConfigError
from ..records import MAX_ID_CHARS  # a memory id, in a path and in a body alike

ScopeId = Annotated[str, StringConstraints(min_length=1, max_length=512)]
Time = Annotated[str | float, Field(description="ISO 8601 time (UTC unless it has an offset) or epoch seconds")]
Expiry = Annotated[str | float, Field(description="when it lapses: ISO 8601 time, epoch seconds, or 'never'")]
TTL = Annotated[str | float, Field(description="how long it stays current: seconds or a duration like '7d' or "
                                               "'12h'; 'never' for no expiry")]
MAX_QUERY_CHARS = 32_768
MAX_LIMIT = 1_000_000_000  # get_all's "everything" (the adapters ask for 1e9)
MAX_SEARCH_LIMIT = 10_000
MAX_SCOPES = 100_000  # scopes of each kind one call lists


def check_memory_id(value: Any, where: str) -> str:
    """A memory id a caller chooses (bulk import): one the id routes can name, i.e. 1-256 characters, no '/'
    (it would split the path) and not '.' or '..' (HTTP clients drop them as dot segments)."""
    if (not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS or "/" in value or "\x00" in value
            or value in (".", "..")):
        raise ConfigError(f"{where}: a memory id is 1-{MAX_ID_CHARS} characters without '/' and is not '.' or "
                          f"'..', got {value!r}; choose another id, or leave 'id' out to get a new one")
    return value


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Scoped(_Body):
    user_id: ScopeId | None = None
    agent_id: ScopeId | None = None
    run_id: ScopeId | None = None

    def scope(self) -> dict[str, str | None]:
        return {"user_id": self.user_id, "agent_id": self.agent_id, "run_id": self.run_id}


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str = "user"
    content: str | list[dict[str, Any]] | None
    name: str | None = None
    metadata: dict[str, Any] | None = None


Messages = str | MessageIn | list[str | MessageIn]


class AddBody(Scoped):
    messages: Messages = Field(description="a string, a {role, content} message, or a list of them")
    metadata: dict[str, Any] | None = None
    infer: bool = Field(True, description="extract facts (LLM or pattern extractor); false stores each message")
    timestamp: Time | None = None
    expires_at: Expiry | None = None
    ttl: TTL | None = Field(None, description="how long what this call writes stays current, from its timestamp: "
                                             "seconds or a duration like '7d'; 'never'. Without it or expires_at, "
                                             "a fact's own expiry or the scope's default TTL applies")


class BulkBody(_Body):
    records: list[dict[str, Any]] = Field(
        max_length=10_000, description="{text | messages, user_id, agent_id, run_id, metadata, timestamp, id, "
                                       "expires_at | ttl} each",
    )
    batch_size: int = Field(1000, ge=1, le=10_000)


class SearchBody(Scoped):
    query: str = Field(max_length=MAX_QUERY_CHARS)
    limit: int = Field(10, ge=0, le=MAX_SEARCH_LIMIT)
    filters: dict[str, Any] | None = None
    threshold: float | None = None
    max_tokens: int | None = Field(None, ge=0, le=10_000_000)
    as_of: Time | None = None
    include_expired: bool = False
    config: str | dict[str, Any] | None = Field(None, description="a preset name or SearchConfig fields")


class UpdateBody(_Body):
    text: str | None = Field(None, min_length=1, max_length=2_000_000,
                             description="the new text (leave it out to change only when the memory lapses)")
    metadata: dict[str, Any] | None = None
    expires_at: Expiry | None = None
    ttl: TTL | None = Field(None, description="a new lifetime counted from now: seconds, '7d', or 'never'")


class RefreshBody(Scoped):
    ids: list[Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS)]] = Field(min_length=1, max_length=10_000)
    ttl: TTL | None = Field(None, description="extend to now + ttl (default: each memory's own TTL)")


class SweepBody(Scoped):
    filters: dict[str, Any] | None = Field(None, description="only the scope's memories these filters match")
    grace_period: TTL | None = Field(None, description="forget memories expired at least this long ago (0: all "
                                                       "expired ones) instead of after the store's grace period")


class RetentionBody(Scoped):
    ttl: TTL | None = Field(None, description="default TTL of the scope's new memories; null: the store's setting")
    max_memories: int | Literal["unlimited"] | None = Field(
        None, description="cap of current memories per exact scope; null: the store's setting")


class SparqlBody(Scoped):
    query: str = Field(min_length=1, max_length=100_000, description="a read-only SPARQL query")
    bindings: dict[str, str | int | float | bool] | None = Field(
        None, description="variable -> value, bound as RDF terms (never spliced into the query)",
    )


# -- answers -------------------------------------------------------------------------------------
class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class MemoryOut(_Out):
    id: str
    memory: str
    metadata: dict[str, Any]
    user_id: str | None
    agent_id: str | None
    run_id: str | None
    attribute: str | None
    created_at: str | None
    updated_at: str | None
    valid_from: str | None
    valid_to: str | None
    superseded_by: str | None
    expires_at: str | None = None


class HitOut(MemoryOut):
    score: float
    similarity: float


class RelationOut(_Out):
    source: str
    relationship: str
    destination: str
    valid_from: str | None = None
    valid_to: str | None = None
    memory_ids: list[str] = []


class SearchOut(_Out):
    results: list[HitOut]
    relations: list[RelationOut]


class ListOut(_Out):
    results: list[MemoryOut]


class ChangeOut(_Out):
    id: str
    event: Literal["ADD", "UPDATE", "DELETE", "NONE"]
    memory: str | None = None


class AddOut(_Out):
    results: list[ChangeOut]
    relations: dict[str, list[dict[str, Any]]]
    usage: dict[str, int]


class BulkOut(_Out):
    added: int
    duplicates: int
    records: int
    messages: int
    seconds: float


class UpdateOut(_Out):
    id: str
    memory: str
    event: Literal["UPDATE"]


class DeleteOut(_Out):
    id: str
    event: Literal["DELETE"]
    message: str


class DeleteAllOut(_Out):
    deleted: int
    message: str


class SourceMessageOut(_Out):
    role: str
    content: str
    name: str | None
    created_at: str | None


class HistoryOut(_Out):
    id: int
    memory_id: str
    event: str
    old_memory: str | None
    new_memory: str | None
    created_at: str | None
    actor: str | None
    user_id: str | None
    agent_id: str | None
    run_id: str | None
    source_messages: list[SourceMessageOut]
    reason: str | None = None


class RefreshedOut(_Out):
    id: str
    refreshed: bool
    expires_at: str | None


class RefreshOut(_Out):
    results: list[RefreshedOut]


class SweepOut(_Out):
    forgotten: int
    closed: int
    recalls: int
    complete: bool
    at: str


class RetentionOut(_Out):
    ttl: float | None
    max_memories: int | None
    own: dict[str, Any]


class ScopeOut(_Out):
    id: str
    memories: int = Field(description="current memories")
    closed: int = Field(description="memories no longer current (closed or superseded), kept for as_of")
    expired: int = Field(0, description="memories past their expiry that no sweep has forgotten yet")
    first_at: str | None = Field(description="the earliest valid_from among them")
    last_at: str | None = Field(description="the latest updated_at among them")


class ScopesOut(_Out):
    users: list[ScopeOut]
    agents: list[ScopeOut]
    runs: list[ScopeOut]


class PresetsOut(_Out):
    presets: dict[str, dict[str, Any]] = Field(description="preset name -> its SearchConfig fields")


class RelationsOut(_Out):
    relations: list[RelationOut]


class SparqlOut(_Out):
    rows: list[dict[str, Any]]


class ResetOut(_Out):
    deleted: int
    scopes: int
    message: str


class WhoAmI(_Out):
    tenant: str | None
    scopes: list[str]
    key_id: str | None
    open: bool


class ProjectionHealth(_Out):
    ok: bool


class HealthOut(_Out):
    ok: bool
    vectors: ProjectionHealth | None
    graph: ProjectionHealth | None


class ErrorDetail(_Out):
    code: str
    message: str
    status: int


class ErrorOut(_Out):
    error: ErrorDetail
