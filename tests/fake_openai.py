"""A scriptable fake OpenAI-compatible HTTP server for tests (stdlib only).

    with FakeOpenAI() as server:
        server.script_chat({"name": "Ada"}, Fault.status(429, times=2), "plain text")
        client = openai.OpenAI(base_url=server.base_url, api_key="test")

Chat answers come from a queue (``script_chat``): a str, a dict (JSON-encoded), a ``ToolCall`` or a
list of them, a callable ``(request_json) -> any of those``, or a ``Fault``. An empty queue falls back
to ``server.default_chat``. Embeddings are deterministic (lexical hashing) unless ``script_embeddings``
queued a fault. Every request is recorded in ``server.requests``. ``Fault.status(429, retry_after=2)``
sends a Retry-After header; ``Fault.trickle(0.5)`` sends its reply one byte every 0.5 s (the status
line and headers too, unless ``body_only=True``).
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from memlayer.embeddings.hashing import HashingEmbedder

DEFAULT_DIMS = 1536
MODELS = ("gpt-4o-mini", "text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002")


@dataclass(frozen=True)
class Fault:
    """A scripted failure for one request. Build with the class methods."""

    kind: str
    status_code: int = 200
    seconds: float = 0.0
    then: Any = None
    message: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body_only: bool = False

    @classmethod
    def status(
        cls, code: int, *, times: int = 1, message: str = "", retry_after: float | str | None = None
    ) -> list[Fault]:
        """Answer the next ``times`` requests with HTTP ``code`` and an OpenAI-style error body
        (with a ``Retry-After`` header when ``retry_after`` is given)."""
        headers = () if retry_after is None else (("Retry-After", str(retry_after)),)
        return [cls("status", status_code=code, message=message, headers=headers)] * times

    @classmethod
    def trickle(cls, seconds: float, *, then: Any = None, times: int = 1, body_only: bool = False) -> list[Fault]:
        """Send the reply (``then``, or the default answer) one byte every ``seconds``: the status line
        and headers too, or only the body with ``body_only``. Per-read timeouts never fire."""
        return [cls("trickle", seconds=seconds, then=then, body_only=body_only)] * times

    @classmethod
    def slow(cls, seconds: float, *, then: Any = None, times: int = 1) -> list[Fault]:
        """Wait ``seconds`` before answering (with ``then``, or the default answer)."""
        return [cls("slow", seconds=seconds, then=then)] * times

    @classmethod
    def malformed(cls, *, times: int = 1) -> list[Fault]:
        """Answer with content that is not JSON."""
        return [cls("malformed")] * times

    @classmethod
    def empty(cls, *, times: int = 1) -> list[Fault]:
        """Answer with empty content."""
        return [cls("empty")] * times

    @classmethod
    def garbage_body(cls, *, times: int = 1) -> list[Fault]:
        """Answer with an HTTP 200 whose body is not JSON at all."""
        return [cls("garbage")] * times


@dataclass(frozen=True)
class ToolCall:
    """A scripted tool call; script several at once as a list."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """What the handler sends: a status, a JSON-able payload (or raw bytes), extra headers, and the
    pace of a trickled reply (seconds per byte; 0 sends at once)."""

    status: int
    payload: Any
    headers: tuple[tuple[str, str], ...] = ()
    trickle: float = 0.0
    body_only: bool = False


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    json: Any
    headers: dict[str, str]
    at: float = 0.0  # time.monotonic() when the request arrived


def count_tokens(text: str) -> int:
    """A rough token count: whitespace-separated words."""
    return len(text.split())


def _default_chat(request: dict[str, Any]) -> Any:
    fmt = (request.get("response_format") or {}).get("type")
    return {} if fmt in ("json_object", "json_schema") else "ok"


class FakeOpenAI:
    """The server. ``start()``/``stop()`` or use it as a context manager."""

    def __init__(
        self, *, reject_json_schema: bool = False, reject_json_object: bool = False, keep_alive: bool = False
    ) -> None:
        self.reject_json_schema = reject_json_schema
        self.reject_json_object = reject_json_object
        self.keep_alive = keep_alive  # HTTP/1.1 with persistent connections (clients pool them), else HTTP/1.0
        self.default_chat: Callable[[dict[str, Any]], Any] = _default_chat
        self.models: list[str] = list(MODELS)  # what GET /models lists, in order
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._chat: deque[Any] = deque()
        self._embed: deque[Fault] = deque()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting -------------------------------------------------------------------------------
    def script_chat(self, *answers: Any) -> None:
        """Queue chat answers; a list of Faults (as ``Fault.status`` returns) is flattened."""
        with self._lock:
            for answer in answers:
                if isinstance(answer, list) and answer and all(isinstance(a, Fault) for a in answer):
                    self._chat.extend(answer)
                else:
                    self._chat.append(answer)

    def script_embeddings(self, *faults: Fault | list[Fault]) -> None:
        """Queue faults for the next embeddings requests."""
        with self._lock:
            for fault in faults:
                self._embed.extend(fault if isinstance(fault, list) else [fault])

    @property
    def pending(self) -> int:
        """Scripted chat answers not used yet."""
        with self._lock:
            return len(self._chat)

    def calls(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if urlsplit(r.path).path.endswith(path)]

    @property
    def chat_calls(self) -> int:
        return len(self.calls("/chat/completions"))

    @property
    def embedding_calls(self) -> int:
        return len(self.calls("/embeddings"))

    @property
    def response_formats(self) -> list[str | None]:
        """The response_format type each chat request asked for (None when not given)."""
        return [(r.json.get("response_format") or {}).get("type") for r in self.calls("/chat/completions")]

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> FakeOpenAI:
        protocol = "HTTP/1.1" if self.keep_alive else "HTTP/1.0"
        handler = type("Handler", (_Handler,), {"fake": self, "protocol_version": protocol})
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in a slow fault
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._httpd = self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request handling (called from handler threads) ----------------------------------------
    def _record(self, method: str, path: str, body: Any, headers: dict[str, str]) -> None:
        with self._lock:
            self.requests.append(Recorded(method, path, body, headers, time.monotonic()))

    def _next_chat(self, request: dict[str, Any]) -> Any:
        with self._lock:
            scripted = self._chat.popleft() if self._chat else None
        return self.default_chat(request) if scripted is None else scripted

    def _next_embed_fault(self) -> Fault | None:
        with self._lock:
            return self._embed.popleft() if self._embed else None

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def chat(self, request: dict[str, Any]) -> Reply:
        fmt = (request.get("response_format") or {}).get("type")
        if (fmt == "json_schema" and self.reject_json_schema) or (
            fmt == "json_object" and self.reject_json_object
        ):
            return Reply(400, _error(400, f"response_format {fmt} is not supported by this server", "response_format"))
        answer = self._next_chat(request)
        trickle: Fault | None = None
        if isinstance(answer, Fault):
            if answer.kind == "status":
                return Reply(answer.status_code, _error(answer.status_code, answer.message), answer.headers)
            if answer.kind in ("slow", "trickle"):
                if answer.kind == "slow":
                    self._sleep(answer.seconds)
                else:
                    trickle = answer
                answer = self.default_chat(request) if answer.then is None else answer.then
            elif answer.kind == "malformed":
                answer = 'Sure! Here is the result: {"name": "Ada", "age": '
            elif answer.kind == "empty":
                answer = ""
            elif answer.kind == "garbage":
                return Reply(200, b"<html>this is not json</html>")
        if callable(answer) and not isinstance(answer, ToolCall):
            answer = answer(request)
        completion = self._completion(request, answer)
        if trickle is not None:
            return Reply(200, completion, trickle=trickle.seconds, body_only=trickle.body_only)
        return Reply(200, completion)

    def _completion(self, request: dict[str, Any], answer: Any) -> dict[str, Any]:
        calls = [answer] if isinstance(answer, ToolCall) else answer
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        finish = "stop"
        if isinstance(calls, list) and calls and all(isinstance(c, ToolCall) for c in calls):
            message["tool_calls"] = [
                {
                    "id": f"call_{next(self._ids)}",
                    "type": "function",
                    "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                }
                for c in calls
            ]
            finish = "tool_calls"
            completion_text = " ".join(json.dumps(c.arguments) for c in calls)
        else:
            message["content"] = answer if isinstance(answer, str) else json.dumps(answer)
            completion_text = message["content"]
        prompt = " ".join(str(m.get("content") or "") for m in request.get("messages", []))
        prompt_tokens, completion_tokens = count_tokens(prompt), count_tokens(completion_text)
        return {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": 1700000000,
            "model": request.get("model", "gpt-4o-mini"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def embeddings(self, request: dict[str, Any]) -> Reply:
        fault = self._next_embed_fault()
        if fault is not None:
            if fault.kind == "status":
                return Reply(fault.status_code, _error(fault.status_code, fault.message), fault.headers)
            if fault.kind == "slow":
                self._sleep(fault.seconds)
            elif fault.kind == "garbage":
                return Reply(200, b"<html>this is not json</html>")
        texts = request.get("input")
        texts = [texts] if isinstance(texts, str) else list(texts or [])
        if not texts or any(not isinstance(t, str) or not t for t in texts):
            return Reply(400, _error(400, "input must be a non-empty string or list of non-empty strings", "input"))
        dims = int(request.get("dimensions") or DEFAULT_DIMS)
        vectors = fake_embeddings(texts, dims)
        as_b64 = request.get("encoding_format") == "base64"
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": base64.b64encode(v.astype("<f4").tobytes()).decode() if as_b64 else v.tolist(),
            }
            for i, v in enumerate(vectors)
        ]
        tokens = sum(count_tokens(t) for t in texts)
        payload = {
            "object": "list",
            "data": data,
            "model": request.get("model", "text-embedding-3-small"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        if fault is not None and fault.kind == "trickle":
            return Reply(200, payload, trickle=fault.seconds, body_only=fault.body_only)
        return Reply(200, payload)


def fake_embeddings(texts: list[str], dims: int = DEFAULT_DIMS) -> np.ndarray:
    """The unit vectors the fake server returns for ``texts`` (lexically similar texts are close)."""
    vectors = HashingEmbedder(dims).embed(texts).astype(np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms == 0, 1.0, norms)).astype(np.float32)


def _error(code: int, message: str = "", param: str | None = None) -> dict[str, Any]:
    kinds = {
        400: "invalid_request_error",
        401: "authentication_error",
        404: "not_found_error",
        429: "rate_limit",
    }
    return {
        "error": {
            "message": message or f"fake server error {code}",
            "type": kinds.get(code, "server_error"),
            "param": param,
            "code": None,
        }
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is expected here, not worth a traceback


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAI
    protocol_version = "HTTP/1.0"  # one request per connection: no idle keep-alive threads

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers.items()}

    def do_GET(self) -> None:
        self.fake._record("GET", self.path, None, self._headers())
        if urlsplit(self.path).path.rstrip("/").endswith("/models"):
            models = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.fake.models]
            self._send(Reply(200, {"object": "list", "data": models}))
        else:
            self._send(Reply(404, _error(404, f"no route GET {self.path}")))

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        self.fake._record("POST", self.path, body, self._headers())
        route = urlsplit(self.path).path
        if not isinstance(body, dict):
            self._send(Reply(400, _error(400, "the request body is not a JSON object")))
        elif route.endswith("/chat/completions"):
            self._send(self.fake.chat(body))
        elif route.endswith("/embeddings"):
            self._send(self.fake.embeddings(body))
        else:
            self._send(Reply(404, _error(404, f"no route POST {self.path}")))

    def _send(self, reply: Reply) -> None:
        data = reply.payload if isinstance(reply.payload, bytes) else json.dumps(reply.payload).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *reply.headers]
        try:
            if reply.trickle > 0:
                head = f"{self.protocol_version} {reply.status} {HTTPStatus(reply.status).phrase}\r\n"
                head += "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
                if reply.body_only:
                    self.wfile.write(head.encode("latin-1"))
                    self._trickle(data, reply.trickle)
                else:
                    self._trickle(head.encode("latin-1") + data, reply.trickle)
                return
            self.send_response(reply.status)
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _trickle(self, data: bytes, seconds: float) -> None:
        """Write ``data`` one byte every ``seconds`` until done, the client hangs up or the server stops."""
        for i in range(len(data)):
            if self.fake._stopping.is_set():
                return
            self.wfile.write(data[i : i + 1])
            self.wfile.flush()
            self.fake._sleep(seconds)
