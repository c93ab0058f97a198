"""The graph pillar: an RDF knowledge graph of entities and relations. See base.py.

``RDFGraphStore`` (registered as the "rdf" graph store) is imported lazily so that importing the
package does not pull in a store backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import GraphStore

if TYPE_CHECKING:
    from .rdf import RDFGraphStore

__all__ = ["GraphStore", "RDFGraphStore"]


def __getattr__(name: str) -> Any:
    if name == "RDFGraphStore":
        from .rdf import RDFGraphStore

        return RDFGraphStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
