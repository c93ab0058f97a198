"""Process-local references to live memories, so an adapter can be serialised and rebuilt in-process.

A memlayer memory (its loop thread, its store connection) cannot be pickled or written to JSON; an
adapter that is serialised keeps a reference token instead, and rebuilding it in the same process finds
the same memory again. In another process the token resolves to nothing and the caller must pass the
memory explicitly (``from_dict(data, memory=...)``).
"""

from __future__ import annotations

import threading
import uuid
import weakref
from typing import Any

_by_token: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
_by_object: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_strong: dict[str, Any] = {}  # objects that cannot be weakly referenced (kept while registered)
_lock = threading.Lock()


def reference(obj: Any) -> str:
    """A token naming ``obj`` in this process (the same token for the same object)."""
    with _lock:
        try:
            token = _by_object.get(obj)
            if token is None:
                token = _by_object[obj] = f"memlayer-ref:{uuid.uuid4().hex}"
                _by_token[token] = obj
            return token
        except TypeError:  # not weakly referenceable
            for token, held in _strong.items():
                if held is obj:
                    return token
            token = f"memlayer-ref:{uuid.uuid4().hex}"
            _strong[token] = obj
            return token


def resolve(token: Any) -> Any:
    """The object ``token`` names in this process, or None."""
    if not isinstance(token, str):
        return None
    with _lock:
        return _by_token.get(token) or _strong.get(token)
