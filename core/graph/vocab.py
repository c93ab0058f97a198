"""memlayer's small RDF vocabulary and the IRIs it mints.

Namespace ``ml:`` = ``https://memlayer.dev/ns#``. Classes: ``ml:Entity``, ``ml:Memory``, ``ml:Message``,
``ml:ScopeGraph``. Relation predicates are ``ml:<UPPER_SNAKE>`` (``works at`` -> ``ml:WORKS_AT``), declared
``rdf:Property`` with the original name as ``rdfs:label``; single-valued ones are also
``owl:FunctionalProperty``. Vocabulary terms are camelCase/PascalCase, so they never clash with a predicate.

Statements are stored as **standard RDF reification** (``rdf:Statement`` with ``rdf:subject`` /
``rdf:predicate`` / ``rdf:object``) carrying ``ml:validFrom``, ``ml:validTo``, ``prov:wasDerivedFrom`` (the
memory) and ``prov:hadPrimarySource`` (the message). A memory that stopped being true (contradicted or
superseded, kept as history) has ``prov:invalidatedAtTime``; a statement only such memories support is
closed. RDF-star would be terser, but it is not portable: rdflib's Memory store, most rdflib store plugins
and many SPARQL 1.1 endpoints cannot hold or query quoted triples, and RDF 1.2 is not final. Reification is plain RDF 1.1 and works with every store, endpoint and
serialisation (Turtle, TriG, JSON-LD). Statement nodes are IRIs, never blank nodes, so they can be addressed
over a remote endpoint and round-trip through export/import unchanged.

While a statement is current (no ``ml:validTo``), the plain triple ``subject predicate object`` is asserted
too, so ``SELECT ?who WHERE { ?who ml:WORKS_AT ?org }`` answers the *current* state; it is removed when the
statement is closed or forgotten. History and provenance always live on the reified statements.

One named graph per full scope: ``https://memlayer.dev/graph/user/<u>[/agent/<a>][/run/<r>]`` (given
fields only, in that order, each percent-encoded). The graph describes itself (``<g> a ml:ScopeGraph ;
ml:userId "u"``), so the graphs matching a partial scope are found by an indexed lookup, and a graph exported
alone still knows its scope. Node IRIs live under ``https://memlayer.dev/id/<same path>/``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any
from urllib.parse import quote, unquote

from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import OWL, PROV, RDF, RDFS, SKOS, XSD

from ..types import Scope

ML = Namespace("https://memlayer.dev/ns#")
GRAPH_BASE = "https://memlayer.dev/graph/"
ID_BASE = "https://memlayer.dev/id/"
DATASET_ID = URIRef("https://memlayer.dev/dataset")

NAMESPACES: dict[str, Any] = {  # Namespace or DefinedNamespace
    "ml": ML, "prov": PROV, "skos": SKOS, "rdf": RDF, "rdfs": RDFS, "owl": OWL, "xsd": XSD,
}

#: the same prefixes as plain strings (what SPARQL engines take as initNs)
QUERY_PREFIXES: dict[str, str] = {prefix: str(ns) for prefix, ns in NAMESPACES.items()}

# scope field -> (IRI path segment, vocabulary property)
SCOPE_FIELDS: tuple[tuple[str, str, URIRef], ...] = (
    ("user_id", "user", ML.userId),
    ("agent_id", "agent", ML.agentId),
    ("run_id", "run", ML.runId),
)

DEFAULT_FUNCTIONAL: frozenset[str] = frozenset({"LIVES_IN", "WORKS_AT", "AGE", "MARRIED_TO"})

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_ID = re.compile(r"[^A-Za-z0-9]+")


def relationship_id(name: str) -> str:
    """A relationship name as a safe UPPER_SNAKE identifier: ``works at`` / ``worksAt`` -> ``WORKS_AT``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ident = _NON_ID.sub("_", _CAMEL.sub("_", ascii_name)).strip("_").upper()
    if not ident:
        return "REL_" + hashlib.sha1(name.encode()).hexdigest()[:10].upper()
    return "REL_" + ident if ident[0].isdigit() else ident


def predicate_iri(name: str) -> URIRef:
    return ML[relationship_id(name)]


def predicate_name(iri: URIRef | str) -> str:
    """The UPPER_SNAKE name of a predicate IRI (its local name)."""
    text = str(iri)
    return text[len(str(ML)):] if text.startswith(str(ML)) else text.rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def scope_path(scope: Scope) -> str:
    parts = []
    for attr, segment, _ in SCOPE_FIELDS:
        value = getattr(scope, attr)
        if value is not None:
            parts.append(f"{segment}/{quote(str(value), safe='')}")
    return "/".join(parts)


def graph_iri(scope: Scope) -> URIRef:
    return URIRef(GRAPH_BASE + scope_path(scope))


def scope_of(graph: URIRef | str) -> Scope | None:
    """The Scope a memlayer graph IRI names, or None for a foreign graph."""
    text = str(graph)
    if not text.startswith(GRAPH_BASE):
        return None
    parts = text[len(GRAPH_BASE):].split("/")
    if len(parts) % 2 or not parts[0]:
        return None
    names = {segment: attr for attr, segment, _ in SCOPE_FIELDS}
    values: dict[str, str] = {}
    for segment, value in zip(parts[::2], parts[1::2], strict=True):
        if segment not in names or names[segment] in values:
            return None
        values[names[segment]] = unquote(value)
    return Scope(**values)


def _node(scope: Scope, kind: str, local: str) -> URIRef:
    return URIRef(f"{ID_BASE}{scope_path(scope)}/{kind}/{quote(local, safe='')}")


def entity_iri(scope: Scope, key: str) -> URIRef:
    return _node(scope, "entity", key.replace(" ", "_"))


def statement_iri(scope: Scope, token: str) -> URIRef:
    return _node(scope, "statement", token)


def memory_iri(scope: Scope, memory_id: str) -> URIRef:
    return _node(scope, "memory", memory_id)


def memory_id(iri: URIRef | str) -> str:
    """The core's memory id inside a memory IRI."""
    return unquote(str(iri).rsplit("/", 1)[-1])


def message_iri(scope: Scope, text: str, message_ids: list[str]) -> URIRef:
    digest = hashlib.sha256("\x1f".join([text, *message_ids]).encode()).hexdigest()[:32]
    return _node(scope, "message", digest)


def scope_triples(scope: Scope) -> list[tuple[URIRef, URIRef, Literal | URIRef]]:
    """The self-description of a scope graph (stored inside it)."""
    g = graph_iri(scope)
    out: list[tuple[URIRef, URIRef, Literal | URIRef]] = [(g, RDF.type, ML.ScopeGraph)]
    for attr, _, prop in SCOPE_FIELDS:
        value = getattr(scope, attr)
        if value is not None:
            out.append((g, prop, Literal(str(value))))
    return out


_TERMS: list[tuple[URIRef, URIRef, str]] = [
    (ML.Entity, OWL.Class, "A named thing relations are about (person, place, organisation, ...)."),
    (ML.Memory, OWL.Class, "A memory of the core store; relations are derived from it."),
    (ML.Message, OWL.Class, "Source conversation text a memory was extracted from (prov:value)."),
    (ML.ScopeGraph, OWL.Class, "A named graph holding one scope's knowledge."),
    (ML.userId, OWL.DatatypeProperty, "user_id of a scope graph."),
    (ML.agentId, OWL.DatatypeProperty, "agent_id of a scope graph."),
    (ML.runId, OWL.DatatypeProperty, "run_id of a scope graph."),
    (ML.validFrom, OWL.DatatypeProperty, "When a statement became true (xsd:dateTime, inclusive)."),
    (ML.validTo, OWL.DatatypeProperty, "When a statement stopped being true (exclusive); absent while current."),
    (ML.supersededBy, OWL.ObjectProperty, "The statement that closed this one."),
    (ML.subjectLabel, OWL.DatatypeProperty, "Subject name as written in the source (used by unmerge)."),
    (ML.objectLabel, OWL.DatatypeProperty, "Object name as written in the source (used by unmerge)."),
    (ML.entityType, OWL.DatatypeProperty, "Free-text type of an entity, as extracted."),
    (ML.memoryId, OWL.DatatypeProperty, "The core's id of a memory."),
    (ML.messageId, OWL.DatatypeProperty, "The core's id of a source message."),
]


def ontology() -> Graph:
    """The vocabulary as an RDF graph (documentation; not written to the store)."""
    g = Graph()
    for prefix, ns in NAMESPACES.items():
        g.bind(prefix, ns)
    onto = URIRef(str(ML).rstrip("#"))
    g.add((onto, RDF.type, OWL.Ontology))
    g.add((onto, RDFS.label, Literal("memlayer graph vocabulary")))
    for term, kind, comment in _TERMS:
        g.add((term, RDF.type, kind))
        g.add((term, RDFS.comment, Literal(comment)))
        g.add((term, RDFS.isDefinedBy, onto))
    for cls in (ML.Memory, ML.Message):
        g.add((cls, RDFS.subClassOf, PROV.Entity))
    return g
