"""One JSON shape for every error the server answers, with stable codes.

``{"error": {"code": "not_found", "message": "...", "status": 404}}``. memlayer's own errors map by class
(see :data:`CORE_ERRORS`); request validation is 422 ``invalid_request`` naming each bad field; an
unexpected failure is 500 ``internal_error`` (logged with its traceback, never shown to the caller).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import (
    AuthError,
    ConfigError,
    ConflictError,
    FilterError,
    LLMError,
    MemlayerError,
    MetadataError,
    NotFoundError,
    ProviderError,
    QueryError,
    ScopeError,
    StoreError,
)
from .graphs import GraphDisabled

log = logging.getLogger("memlayer.server")

# (class, status, code), most specific first: the first class the error is an instance of wins.
CORE_ERRORS: tuple[tuple[type[BaseException], int, str], ...] = (
    (GraphDisabled, 409, "graph_disabled"),
    (NotFoundError, 404, "not_found"),
    (ConflictError, 409, "conflict"),
    (AuthError, 401, "unauthorized"),
    (ScopeError, 400, "invalid_scope"),
    (MetadataError, 400, "invalid_argument"),  # also a FilterError, but about what a write holds
    (FilterError, 400, "invalid_filter"),
    (QueryError, 400, "invalid_query"),
    (ConfigError, 400, "invalid_argument"),
    (LLMError, 503, "llm_unavailable"),
    (ProviderError, 503, "provider_unavailable"),
    (StoreError, 503, "store_unavailable"),
    (MemlayerError, 400, "bad_request"),
)
HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    408: "request_timeout", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
    422: "invalid_request", 429: "rate_limited", 500: "internal_error", 503: "unavailable",
}
RETRY_AFTER_S = 1  # what 503s from the core (a busy store, a provider outage) suggest


class ApiError(Exception):
    """An error answer: raise it anywhere in a request."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def body(status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body(status, code, message), status_code=status, headers=headers)


def from_exception(exc: BaseException) -> ApiError:
    """The answer for any exception a request raised."""
    if isinstance(exc, ApiError):
        return exc
    for cls, status, code in CORE_ERRORS:
        if isinstance(exc, cls):
            headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
            if status == 401:
                headers = {"WWW-Authenticate": "Bearer"}
            return ApiError(status, code, str(exc) or code.replace("_", " "), headers)
    log.error("unexpected error while serving a request", exc_info=exc)
    return ApiError(500, "internal_error", "the server failed unexpectedly; the error is in its log")


def validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:10]:
        if err.get("type") == "json_invalid":
            return f"the body is not valid JSON: {(err.get('ctx') or {}).get('error', 'JSON decode error')}"
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        message = str(err.get("msg", "invalid"))
        detail = (err.get("ctx") or {}).get("error")
        if detail and str(detail) not in message:
            message = f"{message} ({detail})"
        parts.append(f"{where}: {message}")
    return "invalid request: " + "; ".join(parts)


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the one JSON shape."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "error")
        message = str(exc.detail) if exc.detail else code.replace("_", " ")
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path} (see /docs)"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path} (see /docs)"
        return error_response(exc.status_code, code, message, dict(exc.headers or {}))

    @app.exception_handler(MemlayerError)
    async def _core(request: Request, exc: MemlayerError) -> JSONResponse:
        err = from_exception(exc)
        return error_response(err.status, err.code, err.message, err.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        err = from_exception(exc)
        return error_response(err.status, err.code, err.message, err.headers)
