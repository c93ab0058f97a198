"""LLM providers. See base.py for the protocol."""

from .base import LLM, LLMResult

__all__ = ["LLM", "LLMResult"]
