"""Embedders: turn texts into vectors. See base.py for the protocol."""

from .base import Embedder

__all__ = ["Embedder"]
