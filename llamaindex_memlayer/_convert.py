"""Type conversions between LlamaIndex messages and memlayer's messages, and the recall tag.

Formatting recall, the relevance floor and truncation are the kit's (``memlayer.kit``), shared with
the LangChain adapters."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock

from memlayer import kit
from memlayer.records import RelationRecord, SearchHit

try:  # llama-index-core >= 0.14
    from llama_index.core.base.llms.types import ToolCallBlock
except ImportError:  # pragma: no cover - older cores keep tool calls in additional_kwargs only
    ToolCallBlock = None  # type: ignore[assignment,misc]

DEFAULT_RECALL_HEADER = "Long-term memories from earlier conversations (most relevant first):"
RECALL_TAG = "long_term_memory"
_RECALL_RE = re.compile(rf"\s*<{RECALL_TAG}>.*?</{RECALL_TAG}>\s*", re.DOTALL)


def message_text(message: ChatMessage) -> str:
    """The text blocks of a message, joined."""
    return "\n".join(b.text for b in message.blocks if isinstance(b, TextBlock) and b.text).strip()


def has_tool_calls(message: ChatMessage) -> bool:
    if message.additional_kwargs.get("tool_calls"):
        return True
    return ToolCallBlock is not None and any(isinstance(b, ToolCallBlock) for b in message.blocks)


def role_name(message: ChatMessage) -> str:
    role = message.role
    return role.value if isinstance(role, MessageRole) else str(role)


def to_memlayer(messages: Sequence[ChatMessage], roles: Sequence[str]) -> list[dict[str, Any]]:
    """User/assistant text turns as memlayer ``{"role", "content"}`` dicts.

    Tool results, system prompts and assistant messages that only request tool calls are left out.
    """
    out: list[dict[str, Any]] = []
    for m in messages:
        role = role_name(m)
        if role not in roles or (role == "assistant" and has_tool_calls(m)):
            continue
        text = strip_recall_text(message_text(m))
        if text:
            out.append({"role": role, "content": text})
    return out


def query_from(messages: Sequence[ChatMessage], window: int) -> str:
    """The search query: the text of the latest ``window`` user messages (oldest first)."""
    texts: list[str] = []
    for m in reversed(messages):
        if role_name(m) != "user":
            continue
        text = strip_recall_text(message_text(m))
        if text:
            texts.append(text)
        if len(texts) >= window:
            break
    return "\n".join(reversed(texts))


def wrap_recall(text: str) -> str:
    return f"<{RECALL_TAG}>\n{text}\n</{RECALL_TAG}>"


def strip_recall_text(text: str) -> str:
    """``text`` without any recall block this package injected."""
    return _RECALL_RE.sub("\n\n", text).strip() if f"<{RECALL_TAG}>" in text else text


def strip_recall(message: ChatMessage) -> ChatMessage | None:
    """A copy of ``message`` without injected recall; None if it held nothing else."""
    if not any(isinstance(b, TextBlock) and f"<{RECALL_TAG}>" in b.text for b in message.blocks):
        return message
    blocks: list[Any] = []
    for b in message.blocks:
        if isinstance(b, TextBlock) and f"<{RECALL_TAG}>" in b.text:
            text = strip_recall_text(b.text)
            if text:
                blocks.append(TextBlock(text=text))
        else:
            blocks.append(b)
    if not blocks:
        return None
    return message.model_copy(update={"blocks": blocks})


def inject_recall(history: list[ChatMessage], recall: str, system_role: MessageRole) -> list[ChatMessage]:
    """``history`` with ``recall`` merged into its first system message (a copy), or a new one in front."""
    out = list(history)
    idx = next((i for i, m in enumerate(out) if role_name(m) == system_role.value), None)
    if idx is None:
        return [ChatMessage(role=system_role, content=recall), *out]
    system = out[idx]
    blocks = list(system.blocks)
    if len(blocks) == 1 and isinstance(blocks[0], TextBlock):
        blocks = [TextBlock(text=f"{recall}\n\n{blocks[0].text}")]
    else:
        blocks = [TextBlock(text=recall), *blocks]
    out[idx] = system.model_copy(update={"blocks": blocks})
    return out


def format_recall(
    results: Sequence[Mapping[str, Any]], relations: Sequence[Mapping[str, Any]] = (), *,
    header: str = DEFAULT_RECALL_HEADER, show_dates: bool = True,
) -> str:
    """Search results given as dicts, formatted as the adapters recall them (``memlayer.kit.format_recall``)."""
    return kit.format_recall([SearchHit.from_dict(r) for r in results],
                             [RelationRecord.from_dict(r) for r in relations], header=header, show_dates=show_dates)
