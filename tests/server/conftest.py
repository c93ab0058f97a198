"""Servers for the tests: ``server`` (session-wide, keys for tenants acme and globex) and factories."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from .harness import ServerProcess, create_key


@dataclass
class KeyedServer:
    proc: ServerProcess
    keys: dict[str, str] = field(default_factory=dict)  # name -> key

    @property
    def url(self) -> str:
        return self.proc.url

    def http(self, key: str | None = None) -> httpx.Client:
        headers = {} if key is None else {"Authorization": f"Bearer {self.keys.get(key, key)}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyedServer]:
    """One server for the read/write tests: keys acme (read,write), acme_admin, acme_read, acme_write, globex."""
    path = tmp_path_factory.mktemp("served") / "store"
    path.mkdir()
    keys = {
        "acme": create_key(path, "acme"), "acme_admin": create_key(path, "acme", "admin"),
        "acme_read": create_key(path, "acme", "read"), "acme_write": create_key(path, "acme", "write"),
        "globex": create_key(path, "globex", "read,write,admin"), "fuzz": create_key(path, "fuzz", "admin"),
    }
    with ServerProcess(path) as proc:
        yield KeyedServer(proc, keys)


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[type[ServerProcess]]:
    """Start extra servers in this test's temp directory; all are stopped afterwards."""
    started: list[ServerProcess] = []

    class Factory(ServerProcess):
        def start(self, timeout: float = 90.0) -> ServerProcess:
            started.append(self)
            return super().start(timeout)

    yield Factory
    for proc in started:
        proc.kill()
