"""The server's settings: one pydantic model, filled from ``memlayer serve``'s options (or by hand)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigError

ENV_SETTINGS = "MEMLAYER_SERVER_SETTINGS"  # how `memlayer serve --workers N` hands the settings to its workers


class ServerSettings(BaseModel):
    """How ``memlayer serve`` runs: where the store is, where to listen, and the limits it enforces."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    path: str | None = Field(None, description="store directory (default $MEMLAYER_HOME or ~/.memlayer)")
    memory: dict[str, Any] = Field(default_factory=dict, description="Memory.from_config keys (the --config file)")
    host: str = Field("127.0.0.1", description="interface to bind; anything but loopback needs API keys")
    port: int = Field(8765, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64, description="server processes (each opens the store)")
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="larger request bodies get 413")
    request_timeout_s: float = Field(60.0, gt=0, description="an operation running longer answers 503 timeout")
    max_inflight: int = Field(64, ge=1, description="operations run at once per worker; the rest wait")
    max_waiting: int = Field(1024, ge=0, description="operations waiting beyond this get 503 overloaded")
    rate_limit: float | None = Field(None, gt=0, description="requests per second per key and worker (None: off)")
    rate_burst: int = Field(20, ge=1, description="requests a key may send at once above its rate")
    graceful_timeout_s: float = Field(30.0, ge=0, description="how long SIGTERM waits for running requests")
    mcp: bool = Field(True, description="serve the MCP tools over streamable HTTP at /mcp")
    mcp_user: str = Field("default", min_length=1, description="user_id of MCP tool calls that name no scope")
    open_on_loopback: bool = Field(True, description="with no keys in the store, serve loopback without auth")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"

    @classmethod
    def build(cls, **values: Any) -> ServerSettings:
        """Validated settings; a wrong value is a ConfigError naming the option."""
        try:
            return cls(**{k: v for k, v in values.items() if v is not None})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"invalid server settings: {problems}") from None

    def memory_config(self) -> dict[str, Any]:
        """The Memory.from_config mapping of the store this server opens."""
        config = dict(self.memory)
        if self.path is not None:
            config["path"] = self.path
        return config

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback address (127.0.0.0/8, ::1)."""
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)
