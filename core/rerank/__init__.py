"""Rerankers: read the query beside each of a search's best candidates and score them again. See base.py."""

from .base import Reranker

__all__ = ["Reranker"]
