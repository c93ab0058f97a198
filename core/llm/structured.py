"""How a pydantic answer shape is asked of an OpenAI-compatible chat model: the strict JSON schema of
structured outputs, the response_format of each JSON mode, the instructions that go with them, and the
note that asks the model again after an unusable answer."""

from __future__ import annotations

import copy
import json
from typing import Any

from pydantic import BaseModel

MODES: tuple[str, ...] = ("auto", "json_schema", "json_object", "none")
FALLBACK: dict[str, str] = {"json_schema": "json_object", "json_object": "none"}


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of ``model`` in the shape OpenAI's strict structured outputs accept:
    every object closed (``additionalProperties: false``) with all its properties required,
    no ``default``/``title`` keywords, and no keywords beside a ``$ref``."""
    return _strictify(copy.deepcopy(model.model_json_schema()))


def _strictify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return {"$ref": node["$ref"]}
    node.pop("default", None)
    node.pop("title", None)
    for key in ("properties", "$defs", "definitions"):
        if isinstance(node.get(key), dict):
            node[key] = {name: _strictify(sub) for name, sub in node[key].items()}
    for key in ("anyOf", "allOf", "oneOf", "prefixItems"):
        if isinstance(node.get(key), list):
            node[key] = [_strictify(sub) for sub in node[key]]
    if isinstance(node.get("items"), dict):
        node["items"] = _strictify(node["items"])
    if node.get("type") == "object" or "properties" in node:
        node["additionalProperties"] = False
        node["required"] = list(node.get("properties", {}))
    return node


def response_format(model: type[BaseModel], mode: str) -> dict[str, Any] | None:
    """The ``response_format`` of a request in ``mode`` (None: the mode sends none)."""
    if mode == "json_schema":
        return json_schema_format(model)
    if mode == "json_object":
        return {"type": "json_object"}
    return None


def json_schema_format(model: type[BaseModel]) -> dict[str, Any]:
    """A json_schema response_format: strict unless the model has free-form objects (dicts), which
    strict mode cannot express."""
    name = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in model.__name__)[:64] or "answer"
    raw = model.model_json_schema()
    if _has_open_object(raw):
        return {"type": "json_schema", "json_schema": {"name": name, "schema": raw, "strict": False}}
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": strict_schema(model), "strict": True},
    }


def _has_open_object(node: Any) -> bool:
    if isinstance(node, list):
        return any(_has_open_object(sub) for sub in node)
    if not isinstance(node, dict):
        return False
    if node.get("type") == "object" and "properties" not in node:
        return True
    return any(_has_open_object(sub) for sub in node.values())


def with_json_instructions(
    messages: list[dict[str, str]], model: type[BaseModel], mode: str
) -> list[dict[str, str]]:
    """Tell the model to answer in JSON (JSON mode needs the word in the prompt); with no server-side
    schema, also give the schema."""
    note = "Answer with one JSON object only, no prose."
    if mode != "json_schema":
        note += " It must match this JSON schema: " + json.dumps(
            model.model_json_schema(), separators=(",", ":")
        )
    out = [dict(m) for m in messages]
    if out and out[0].get("role") == "system":
        out[0]["content"] = f"{out[0].get('content', '')}\n\n{note}".strip()
    else:
        out.insert(0, {"role": "system", "content": note})
    return out


def ask_again(bad: str, problem: str) -> list[dict[str, str]]:
    """The two messages that show the model its unusable answer and ask for the JSON again."""
    return [
        {"role": "assistant", "content": bad[:4000]},
        {
            "role": "user",
            "content": f"That answer could not be used: {problem}. Reply again with only the JSON object.",
        },
    ]
