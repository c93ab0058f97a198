"""Static pages served beside the API (the memory browser lives here: issue 21).

Files under ``memlayer/server/static/`` are served at ``/ui/`` (``index.html`` for the directory) without
authentication: the pages are public, the data they show comes from the API with the user's key. Nothing
is mounted while the directory does not exist.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"
MOUNT = "/ui"


def mount_pages(app: FastAPI, directory: Path = STATIC) -> bool:
    """Serve ``directory`` at ``/ui/``; whether there was anything to serve."""
    if not directory.is_dir():
        return False
    app.mount(MOUNT, StaticFiles(directory=directory, html=True), name="ui")
    return True
