"""The graph pillar: an RDF knowledge graph of entities and relations. See base.py."""
