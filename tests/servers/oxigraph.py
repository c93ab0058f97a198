"""The Oxigraph SPARQL 1.1 server (`oxigraph serve`, from the PyPI package ``oxigraph``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.servers.process import ServerError, ServerProcess, ServerUnavailable


@dataclass(frozen=True)
class SparqlEndpoints:
    """Where a SPARQL 1.1 server answers: queries, updates, and the graph store protocol."""

    query_endpoint: str
    update_endpoint: str
    store_endpoint: str

    def config(self) -> dict[str, str]:
        """The two endpoints as graph-store config keys."""
        return {"query_endpoint": self.query_endpoint, "update_endpoint": self.update_endpoint}


def find_oxigraph() -> Path:
    """The ``oxigraph`` server binary (PyPI package ``oxigraph``): on PATH or beside this Python."""
    found = shutil.which("oxigraph") or shutil.which("oxigraph", path=str(Path(sys.executable).parent))
    if found is None:
        raise ServerUnavailable(
            f"the `oxigraph` server binary is not on PATH nor beside {sys.executable}; "
            "`pip install oxigraph` (it is in memlayer's dev extra)"
        )
    return Path(found)


class OxigraphServer(ServerProcess):
    """``oxigraph serve`` with its data in a temporary directory, on a free loopback port."""

    name = "oxigraph"

    def __init__(self, *, binary: str | os.PathLike[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._binary = Path(binary) if binary is not None else None
        self.version = ""
        self._http = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def query_endpoint(self) -> str:
        return self.base_url + "/query"

    @property
    def update_endpoint(self) -> str:
        return self.base_url + "/update"

    @property
    def store_endpoint(self) -> str:
        return self.base_url + "/store"

    def endpoints(self) -> SparqlEndpoints:
        return SparqlEndpoints(self.query_endpoint, self.update_endpoint, self.store_endpoint)

    def query(self, sparql: str) -> Any:
        """Run a SPARQL query; returns the parsed SPARQL JSON results (``{"boolean": ...}`` for ASK)."""
        body = self._post(self.query_endpoint, sparql, "application/sparql-query", "application/sparql-results+json")
        return json.loads(body)

    def update(self, sparql: str) -> None:
        """Run a SPARQL update."""
        self._post(self.update_endpoint, sparql, "application/sparql-update", "*/*")

    def clear(self) -> None:
        """Drop every graph, the default graph included."""
        self.update("DROP ALL")

    def _set_up(self) -> None:
        binary = self._binary or find_oxigraph()
        if not binary.is_file():
            raise ServerUnavailable(f"{binary} is not the `oxigraph` binary; `pip install oxigraph`")
        self._binary = binary
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True)
        self.version = out.stdout.strip().removeprefix("oxigraph ")

    def _command(self, port: int) -> list[str]:
        return [str(self._binary), "serve", "--location", str(self._dir / "data"), "--bind", f"127.0.0.1:{port}"]

    def _ready(self) -> bool:
        try:
            return "boolean" in self.query("ASK { ?s ?p ?o }")
        except (OSError, ServerError, ValueError):
            return False

    def _post(self, url: str, body: str, content_type: str, accept: str) -> bytes:
        request = urllib.request.Request(
            url, data=body.encode(), method="POST", headers={"Content-Type": content_type, "Accept": accept}
        )
        try:
            with self._http.open(request, timeout=30) as reply:
                return bytes(reply.read())
        except urllib.error.HTTPError as exc:
            raise ServerError(f"{url} answered {exc.code}: {exc.read().decode(errors='replace')}") from None
