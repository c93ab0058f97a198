"""Prompts are functions that build chat messages at call time, each beside its answer model.

See ``sets.py`` for overriding them (``LLMExtractor(llm, prompt=my_fn)``, ``register_prompts``).
"""

from .extraction import (
    ExtractionAnswer,
    FactDecision,
    RelationItem,
    build_extraction_messages,
    build_system_prompt,
    build_user_prompt,
)
from .format import format_conversation, format_day, format_existing
from .sets import (
    DEFAULT_PROMPTS,
    ExtractionPrompt,
    PromptSet,
    PromptSpec,
    configured_prompts,
    get_prompts,
    prompt_names,
    register_prompts,
    resolve_prompts,
    with_focus,
    with_instructions,
)

__all__ = [
    "DEFAULT_PROMPTS",
    "ExtractionAnswer",
    "ExtractionPrompt",
    "FactDecision",
    "PromptSet",
    "PromptSpec",
    "RelationItem",
    "build_extraction_messages",
    "build_system_prompt",
    "build_user_prompt",
    "configured_prompts",
    "format_conversation",
    "format_day",
    "format_existing",
    "get_prompts",
    "prompt_names",
    "register_prompts",
    "resolve_prompts",
    "with_focus",
    "with_instructions",
]
