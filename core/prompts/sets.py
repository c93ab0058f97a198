"""Overridable prompts: a ``PromptSet`` bundles the prompt functions, a small registry names them.

A prompt is a function called at request time, never a constant string::

    def my_prompt(messages, existing, context) -> list[dict[str, str]]:
        ...  # any chat messages; the answer must still fit ExtractionAnswer

    LLMExtractor(llm, prompt=my_prompt)                       # a bare function
    LLMExtractor(llm, prompt=PromptSet(extraction=my_prompt))  # a whole set
    register_prompts("terse", my_prompt); LLMExtractor(llm, prompt="terse")  # by name
    LLMExtractor(llm, prompt=with_instructions("Only remember food preferences."))

Through config (plain data, e.g. a JSON file), the same reaches the extractor as
``extractor={"provider": "llm", "config": {"prompt": "terse", "focus": ..., "instructions": ...}}``:
``configured_prompts`` builds the set.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Union

from ..errors import ConfigError
from ..types import ExistingMemory, Message
from .extraction import build_extraction_messages, build_system_prompt, build_user_prompt

if TYPE_CHECKING:
    from ..extract.base import ExtractContext

ExtractionPrompt = Callable[[list[Message], list[ExistingMemory], "ExtractContext"], list[dict[str, str]]]


@dataclass(frozen=True)
class PromptSet:
    """The prompt functions an LLM extractor uses. Replace any of them with ``dataclasses.replace``."""

    extraction: ExtractionPrompt = build_extraction_messages

    def with_extraction(self, fn: ExtractionPrompt) -> PromptSet:
        return replace(self, extraction=fn)


PromptSpec = Union[str, PromptSet, ExtractionPrompt, None]  # noqa: UP007 (a runtime alias on 3.10)

DEFAULT_PROMPTS = PromptSet()
_lock = threading.Lock()
_prompts: dict[str, PromptSet] = {"default": DEFAULT_PROMPTS}


def register_prompts(name: str, prompts: PromptSet | ExtractionPrompt) -> None:
    """Register a prompt set (or a bare extraction function) under ``name``."""
    if not name:
        raise ConfigError("a prompt set needs a non-empty name")
    with _lock:
        _prompts[name] = prompts if isinstance(prompts, PromptSet) else PromptSet(extraction=prompts)


def get_prompts(name: str = "default") -> PromptSet:
    """The prompt set registered under ``name``."""
    with _lock:
        found = _prompts.get(name)
        known = sorted(_prompts)
    if found is None:
        raise ConfigError(f"no prompt set named {name!r}; registered: {', '.join(known)}")
    return found


def prompt_names() -> list[str]:
    with _lock:
        return sorted(_prompts)


def resolve_prompts(spec: PromptSpec) -> PromptSet:
    """A PromptSet from None (the default), a registered name, a PromptSet or an extraction function."""
    if spec is None:
        return get_prompts("default")
    if isinstance(spec, PromptSet):
        return spec
    if isinstance(spec, str):
        return get_prompts(spec)
    if callable(spec):
        return PromptSet(extraction=spec)
    raise ConfigError(
        f"prompt must be a registered name, a PromptSet or a function; got {type(spec).__name__}"
    )


def with_instructions(
    instructions: str, base: ExtractionPrompt = build_extraction_messages
) -> ExtractionPrompt:
    """An extraction prompt that is ``base`` plus extra instructions at the end of its system message."""
    extra = instructions.strip()

    def prompt(
        messages: list[Message], existing: list[ExistingMemory], context: ExtractContext
    ) -> list[dict[str, str]]:
        built = [dict(m) for m in base(messages, existing, context)]
        if not extra:
            return built
        for message in built:
            if message.get("role") == "system":
                message["content"] = f"{message['content']}\n\n## Additional instructions\n{extra}"
                return built
        return [{"role": "system", "content": extra}, *built]

    return prompt


def with_focus(focus: str) -> ExtractionPrompt:
    """The default extraction prompt with its "What to remember" guidance replaced by ``focus`` (what
    facts to keep, in your words); the rules for deciding, the relations and the answer shape stay."""
    if not isinstance(focus, str) or not focus.strip():
        raise ConfigError("focus must be a non-empty text saying which facts to remember")
    text = focus.strip()

    def prompt(
        messages: list[Message], existing: list[ExistingMemory], context: ExtractContext
    ) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": build_system_prompt(context, focus=text)},
            {"role": "user", "content": build_user_prompt(messages, existing)},
        ]

    return prompt


def configured_prompts(
    prompt: PromptSpec = None, *, focus: str | None = None, instructions: str | None = None
) -> PromptSet:
    """The prompt set an extractor's config asks for: ``prompt`` (a registered name, a PromptSet or a
    function), or the default prompt with ``focus`` replacing its "What to remember" guidance; then
    ``instructions`` appended to the system message of either."""
    if focus is not None and prompt is not None:
        raise ConfigError(
            "give either prompt= (a whole prompt) or focus= (the default prompt with your own 'What to "
            "remember'), not both; instructions= can be added to either"
        )
    if instructions is not None and not isinstance(instructions, str):
        raise ConfigError(f"instructions must be a text, got {type(instructions).__name__}")
    prompts = resolve_prompts(prompt) if focus is None else PromptSet(extraction=with_focus(focus))
    if instructions and instructions.strip():
        prompts = prompts.with_extraction(with_instructions(instructions, prompts.extraction))
    return prompts
