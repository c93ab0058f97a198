"""Static pages served beside the API: the memory browser (issue 21).

Files under ``memlayer/server/static/`` are served at ``/ui/`` (``index.html`` for the directory) without
authentication: the pages are public, the data they show comes from the API with the user's key (kept in
the browser tab's session storage, sent as a bearer token). They go out with a strict Content Security
Policy — scripts, styles and connections from this server only, no inline script, no framing, no form
posting anywhere — so a memory's text can never run as code in the page and the key cannot be sent
elsewhere. Nothing is mounted while the directory does not exist.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(__file__).resolve().parent / "static"
MOUNT = "/ui"
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-cache",
}


class SecureHeaders:
    """Adds :data:`SECURITY_HEADERS` to every answer of the wrapped app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.decode("latin-1").lower()
                           not in SECURITY_HEADERS]
                headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def mount_pages(app: FastAPI, directory: Path = STATIC) -> bool:
    """Serve ``directory`` at ``/ui/``; whether there was anything to serve."""
    if not directory.is_dir():
        return False
    app.mount(MOUNT, SecureHeaders(StaticFiles(directory=directory, html=True)), name="ui")
    return True
