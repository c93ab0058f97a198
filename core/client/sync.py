"""Client: the synchronous face of AsyncClient, as ``Memory`` is of ``AsyncMemory`` (same loop thread)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import httpx

from ..kit.bridge import LoopThread
from ..sync import SyncFace, _sync
from .aclient import AsyncClient, AsyncGraphClient

R = TypeVar("R")


class Client(SyncFace):
    """The methods, arguments and result dicts of ``memlayer.Memory``, answered by a memlayer server.

    ``Client(url, api_key)``; see :class:`AsyncClient` for the defaults, retries and errors. The LangChain
    and LlamaIndex adapters take it wherever they take a ``Memory``.
    """

    def __init__(self, url: str | None = None, api_key: str | None = None, *, timeout: float = 60.0,
                 retries: int = 3, backoff: float = 0.5, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._closed = False
        self._async = AsyncClient(url, api_key, timeout=timeout, retries=retries, backoff=backoff, transport=transport)
        self._runner = LoopThread()
        self.graph = GraphClient(self)

    add = _sync(AsyncClient.add)
    bulk_add = _sync(AsyncClient.bulk_add)
    search = _sync(AsyncClient.search)
    get = _sync(AsyncClient.get)
    get_all = _sync(AsyncClient.get_all)
    update = _sync(AsyncClient.update)
    delete = _sync(AsyncClient.delete)
    delete_all = _sync(AsyncClient.delete_all)
    history = _sync(AsyncClient.history)
    scopes = _sync(AsyncClient.scopes)
    refresh = _sync(AsyncClient.refresh)
    sweep = _sync(AsyncClient.sweep)
    get_retention = _sync(AsyncClient.get_retention)
    set_retention = _sync(AsyncClient.set_retention)
    reset = _sync(AsyncClient.reset)
    health = _sync(AsyncClient.health)
    whoami = _sync(AsyncClient.whoami)
    search_presets = _sync(AsyncClient.search_presets)
    ready = _sync(AsyncClient.ready)

    @property
    def url(self) -> str:
        return self._async.url

    @property
    def async_memory(self) -> AsyncClient:
        """The async client behind this face (what async callers, e.g. the adapters, await)."""
        return self._async

    def __repr__(self) -> str:
        return f"<Client url={self.url!r}>"


def _graph_sync(method: Callable[..., Coroutine[Any, Any, R]]) -> Callable[..., R]:
    name = method.__name__

    @functools.wraps(method)
    def wrapper(self: GraphClient, *args: Any, **kwargs: Any) -> R:
        client = self._client
        return client._runner.run(getattr(client._async.graph, name)(*args, **kwargs))  # type: ignore[no-any-return]

    return wrapper


class GraphClient:
    """``client.graph`` of the sync Client: the methods of :class:`AsyncGraphClient`, blocking."""

    def __init__(self, client: Client) -> None:
        self._client = client

    relations = _graph_sync(AsyncGraphClient.relations)
    sparql = _graph_sync(AsyncGraphClient.sparql)
    export = _graph_sync(AsyncGraphClient.export)
