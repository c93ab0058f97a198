"""A mem0 configuration read as memlayer's, so ``Memory.from_config(mem0_config)`` works.

``load_config`` (behind ``Memory.from_config``, ``Memory(config=...)``, the CLI's ``--config`` file and the
server's) recognises a mem0 ``Memory.from_config`` mapping by what only mem0 has (its top-level keys, its
provider names, its provider settings) and reads it with :func:`from_mem0_config`:

=====================================  ======================================================================
mem0                                   memlayer
=====================================  ======================================================================
llm ``openai``, ``openai_structured``  llm ``openai`` (``openai_base_url`` -> ``base_url``)
llm ``azure_openai(_structured)``      llm ``azure`` (``azure_kwargs``: ``azure_deployment`` -> ``model``,
                                       ``azure_endpoint``, ``api_key``, ``api_version``)
llm ``ollama``, ``vllm``, ``lmstudio``  the same name (``ollama_base_url``, ``vllm_base_url``,
                                       ``lmstudio_base_url`` -> ``base_url``)
embedder ``openai``, ``azure_openai``  embedder ``openai`` (``embedding_dims`` -> ``dims``; Azure as above)
embedder ``ollama``, ``lmstudio``      embedder ``openai`` at the server's OpenAI-compatible endpoint (no API
                                       key sent; Ollama's model defaults to ``nomic-embed-text``, as in mem0)
embedder ``huggingface``               ``sentence-transformers`` (the local embedder; ``model_kwargs.device``
                                       -> ``device``), or ``openai`` at ``huggingface_base_url`` (a TEI server)
``custom_instructions`` (formerly      the ``llm`` extractor's ``focus``: what to remember, in the default
``custom_fact_extraction_prompt``,     prompt's "What to remember" section (memlayer's rules for deciding and
``custom_prompt``)                     its answer format stay)
``custom_update_memory_prompt``        the ``llm`` extractor's ``instructions``: how to decide against the
                                       existing memories, added to the prompt
reranker ``sentence_transformer``,     reranker ``cross-encoder`` (``model``: a cross-encoder saved in a local
``huggingface``                        directory; ``device``, ``batch_size``, ``max_length``), and searches
                                       rerank (``search``: ``"rerank"`` unless given), as mem0's do
``version`` ``v1.1`` (or later)        accepted: memlayer answers ``{"results": [...]}`` as mem0's v1.1 does
=====================================  ======================================================================

``model``, ``api_key`` and ``temperature`` keep their names, as do memlayer's own settings (``timeout``,
``json_mode``, ...). Everything else is refused by name with what to do instead: ``vector_store``,
``graph_store``, ``history_db_path``, a hosted reranker, ``version`` ``v1.0``, a provider memlayer has not got,
and settings it does not offer (``max_tokens``, ``top_p``, ...). memlayer's own top-level keys (``path``,
``graph``, ``search``, ...) may sit beside mem0's.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from typing import Any

from .. import registry
from ..errors import ConfigError

log = logging.getLogger("memlayer")

FACT_PROMPT_KEYS = ("custom_instructions", "custom_fact_extraction_prompt", "custom_prompt")
UPDATE_PROMPT_KEY = "custom_update_memory_prompt"
REFUSED_KEYS = ("vector_store", "graph_store", "history_db_path")
MEM0_KEYS = frozenset({*REFUSED_KEYS, *FACT_PROMPT_KEYS, UPDATE_PROMPT_KEY, "version"})

LLMS = {"openai": "openai", "openai_structured": "openai", "azure_openai": "azure",
        "azure_openai_structured": "azure", "ollama": "ollama", "vllm": "vllm", "lmstudio": "lmstudio"}
EMBEDDERS = {"openai": "openai", "azure_openai": "openai", "ollama": "openai", "lmstudio": "openai",
             "huggingface": "sentence-transformers"}
OLLAMA_EMBEDDING_MODEL = "nomic-embed-text"  # mem0's default for its ollama embedder
# mem0's endpoint settings: the provider each belongs to, and memlayer's name for it
ENDPOINT_KEYS = {"openai_base_url": ("openai", "base_url"), "ollama_base_url": ("ollama", "base_url"),
                 "vllm_base_url": ("vllm", "base_url"), "lmstudio_base_url": ("lmstudio", "base_url"),
                 "huggingface_base_url": ("huggingface", "base_url")}
OPENROUTER = "for OpenRouter give openai_base_url 'https://openrouter.ai/api/v1' with its api_key and one model"
UNOFFERED = {
    "max_tokens": "memlayer does not cap the model's answer (a cut-off answer is asked again); remove it",
    "top_p": "memlayer sets only the temperature; remove it",
    "top_k": "memlayer sets only the temperature; remove it",
    "enable_vision": "memlayer remembers text, not images; remove it",
    "vision_details": "memlayer remembers text, not images; remove it",
    "http_client_proxies": "set HTTPS_PROXY / HTTP_PROXY (and NO_PROXY) in the environment instead, which the "
                           "OpenAI client honours",
    "reasoning_effort": "not offered; remove it",
    "is_reasoning_model": "not offered; remove it",
    "response_callback": "not offered; memlayer reports token usage per add() (result['usage'])",
    "lmstudio_response_format": "memlayer picks the structured-output mode itself; set json_mode ('auto', or "
                                "'none' for a server without response_format) instead",
    "openrouter_base_url": OPENROUTER, "models": OPENROUTER, "route": OPENROUTER, "site_url": OPENROUTER,
    "app_name": OPENROUTER,
    "memory_add_embedding_type": "memlayer embeds memories and queries alike; remove it",
    "memory_update_embedding_type": "memlayer embeds memories and queries alike; remove it",
    "memory_search_embedding_type": "memlayer embeds memories and queries alike; remove it",
    "output_dimensionality": "use embedding_dims (or dims) for the vector size",
}
MEM0_SETTINGS = frozenset({*ENDPOINT_KEYS, *UNOFFERED, "azure_kwargs", "embedding_dims", "model_kwargs"})
MEM0_ONLY_PROVIDERS = {"llm": {"openai_structured", "azure_openai", "azure_openai_structured"},
                       "embedder": {"azure_openai", "huggingface"}}
# mem0's rerankers: the local cross-encoders memlayer runs as its "cross-encoder", and the hosted ones it has not got
CROSS_ENCODER_RERANKERS = frozenset({"sentence_transformer", "huggingface"})
MEM0_RERANKERS = CROSS_ENCODER_RERANKERS | {"cohere", "llm_reranker", "zero_entropy"}
CROSS_ENCODER_SETTINGS = ("model", "device", "batch_size", "max_length")
# providers mem0 has that serve the OpenAI API: the hint for an llm/embedder memlayer has no name for
OPENAI_COMPATIBLE = {
    "groq": "https://api.groq.com/openai/v1", "together": "https://api.together.xyz/v1",
    "deepseek": "https://api.deepseek.com", "xai": "https://api.x.ai/v1",
    "gemini": "https://generativelanguage.googleapis.com/v1beta/openai/",
}
EMBEDDING_APIS = frozenset({"together", "gemini"})  # of those, the ones with OpenAI-compatible embeddings
FOCUS_FRAME = (
    "As the owner of this memory describes it, in a prompt written for another memory system (follow it in "
    "choosing and wording the facts, but where it shows an answer format, answer in the one given under "
    "\"Answer\" below):\n\n"
)
DECIDE_FRAME = (
    "How to decide each fact against the existing memories, as the owner of this memory describes it (in a "
    "prompt written for another memory system: keep the events ADD, UPDATE, DELETE and NONE, the refs and the "
    "answer format given above):\n\n"
)


def looks_like_mem0(config: Mapping[str, Any]) -> bool:
    """Whether ``config`` is a mem0 ``Memory.from_config`` mapping rather than memlayer's own."""
    if MEM0_KEYS & set(config):
        return True
    reranker = config.get("reranker")
    if isinstance(reranker, Mapping) and reranker.get("provider") in MEM0_RERANKERS - set(registry.names("rerankers")):
        return True
    for kind in ("llm", "embedder"):
        spec = config.get(kind)
        if not isinstance(spec, Mapping):
            continue
        settings = spec.get("config")
        if isinstance(settings, Mapping) and MEM0_SETTINGS & set(settings):
            return True
        provider = spec.get("provider")
        if provider in MEM0_ONLY_PROVIDERS[kind] and provider not in registry.names(_kind(kind)):
            return True
    return False


def from_mem0_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The memlayer config (a plain mapping for ``Memory.from_config``) that does what ``config``, a mem0
    ``Memory.from_config`` mapping, asks for; what memlayer cannot do is refused, each key by name."""
    problems: list[str] = []
    out = {k: v for k, v in config.items() if k not in MEM0_KEYS}
    for key in REFUSED_KEYS:
        if config.get(key) is not None:
            problems.append(_refusal(key, config[key]))
    _check_version(config.get("version"), problems)
    if isinstance(config.get("llm"), Mapping):
        out["llm"] = _provider("llm", config["llm"], problems)
    if isinstance(config.get("embedder"), Mapping):
        out["embedder"] = _provider("embedder", config["embedder"], problems)
    if isinstance(config.get("reranker"), Mapping) and config["reranker"].get("provider") in MEM0_RERANKERS:
        out["reranker"] = _reranker(config["reranker"], problems)
        out.setdefault("search", "rerank")  # mem0 reranks every search once a reranker is configured
    focus, decide = _prompts(config, problems)
    if focus or decide:
        out["extractor"] = _extractor(out.get("extractor"), focus, decide, problems)
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(f"this mem0 config asks for what memlayer does differently:\n{listed}")
    log.info("read a mem0 config as memlayer's: %s", _redacted(out))
    return out


def _kind(kind: str) -> registry.Kind:
    return "llms" if kind == "llm" else "embedders"


def _refusal(key: str, value: Any) -> str:
    provider = value.get("provider") if isinstance(value, Mapping) else None
    name = f"{key} ({provider})" if provider else key
    if key == "vector_store":
        return (f"{name}: memlayer keeps its own FAISS index beside its SQLite store, in the store directory. Remove "
                "'vector_store' and give 'path': the directory (default $MEMLAYER_HOME or ~/.memlayer; ':memory:' "
                "keeps everything in RAM). For a shared store (as with pgvector), give 'store': "
                "'postgresql://user:password@host/db': memories and vectors live in PostgreSQL. To bring your memories "
                "over, save mem0's get_all() as JSON and run `memlayer import --from mem0 FILE`")
    if key == "graph_store":
        return (f"{name}: memlayer builds its own knowledge graph (RDF; Oxigraph on disk in the store directory) "
                "from what its extractor finds. Remove 'graph_store' and use 'graph': true (the default), 'memory' "
                "(in RAM, rebuilt at open), false (no graph), or a SPARQL endpoint: {\"provider\": \"rdf\", "
                "\"config\": {\"store\": \"sparql\", \"query_endpoint\": ..., \"update_endpoint\": ...}}")
    return ("history_db_path: memlayer keeps every memory's history in the same SQLite store as the memories. "
            "Remove 'history_db_path' and give 'path': the store directory")


def _reranker(spec: Mapping[str, Any], problems: list[str]) -> dict[str, Any] | None:
    """mem0's local cross-encoder rerankers as memlayer's ``cross-encoder``; the hosted ones are refused."""
    provider, settings = spec.get("provider"), spec.get("config") or {}
    if provider not in CROSS_ENCODER_RERANKERS:
        problems.append(f"reranker ({provider}): memlayer's rerankers run locally, offline: 'late' (the embedder's "
                        "own model, no download) or {\"provider\": \"cross-encoder\", \"config\": {\"model\": "
                        "<a cross-encoder saved in a local directory>}}; give one and search with config='rerank'")
        return None
    for key in settings:
        if key == "top_k":
            problems.append("reranker.config.top_k: give search() a limit= instead; remove it")
        elif key not in CROSS_ENCODER_SETTINGS:
            problems.append(f"reranker.config.{key}: memlayer loads the cross-encoder from a local directory with "
                            f"{', '.join(CROSS_ENCODER_SETTINGS)} only; remove it")
    return {"provider": "cross-encoder", "config": {k: v for k, v in settings.items() if k in CROSS_ENCODER_SETTINGS}}


def _check_version(version: Any, problems: list[str]) -> None:
    if version is None:
        return
    match = re.fullmatch(r"v(\d+)\.(\d+)", version) if isinstance(version, str) else None
    if match is None:
        problems.append(f"version {version!r}: expected mem0's 'v1.1' (memlayer answers in its shape)")
    elif (int(match[1]), int(match[2])) < (1, 1):
        problems.append(f"version {version!r}: mem0's v1.0 answered with bare lists; memlayer answers "
                        "{\"results\": [...]} as mem0's v1.1 does. Remove 'version' and read result['results']")


def _provider(kind: str, spec: Mapping[str, Any], problems: list[str]) -> Any:
    """A mem0 {"provider", "config"} spec as memlayer's; problems are added to ``problems``."""
    extra = sorted(set(spec) - {"provider", "config"})
    provider, settings = spec.get("provider") or "openai", spec.get("config") or {}  # mem0's default provider
    if extra or not isinstance(provider, str) or not isinstance(settings, Mapping):
        problems.append(f"{kind}: expected {{\"provider\": name, \"config\": {{...}}}}, got {dict(spec)!r}")
        return None
    table = LLMS if kind == "llm" else EMBEDDERS
    if provider not in table:
        if provider in registry.names(_kind(kind)):
            return dict(spec)  # memlayer's own (or a registered plugin): its settings as they are
        problems.append(_unknown_provider(kind, provider))
        return None
    name = table[provider]
    if provider == "huggingface" and settings.get("huggingface_base_url"):
        name = "openai"  # a Text Embeddings Inference server, through its OpenAI-compatible API
    out: dict[str, Any] = {}
    for key, value in sorted(settings.items(), key=lambda kv: kv[0] == "azure_kwargs"):  # its deployment wins
        if value is None:
            continue  # mem0 configs spell defaults as null
        for target, mapped in _setting(kind, provider, name, key, value, problems):
            out[target] = mapped
    if kind == "embedder" and name == "openai" and provider != "openai":
        _server_defaults(provider, out, problems)
    return {"provider": name, "config": out}


def _server_defaults(provider: str, out: dict[str, Any], problems: list[str]) -> None:
    """What memlayer's openai embedder needs to reach the server mem0's embedder ``provider`` names (the
    llm= aliases do the same for an LLM): its endpoint, no API key for a local one, Azure's API version."""
    from ..openai_client import AZURE_API_VERSION, LOCAL_ENDPOINTS, LOCAL_KEY, ollama_endpoint

    if provider == "azure_openai":
        out.setdefault("api_version", os.environ.get("OPENAI_API_VERSION") or AZURE_API_VERSION)
        return
    out.setdefault("api_key", LOCAL_KEY)  # OPENAI_API_KEY is never sent to a local server
    if provider == "ollama":
        out.setdefault("base_url", ollama_endpoint())
        out.setdefault("model", OLLAMA_EMBEDDING_MODEL)
    elif provider == "lmstudio":
        out.setdefault("base_url", LOCAL_ENDPOINTS["lmstudio"])
        if not out.get("model"):
            problems.append("embedder.config.model: give the name LM Studio shows for the loaded embedding model")


def _setting(kind: str, provider: str, name: str, key: str, value: Any, problems: list[str]) -> list[tuple[str, Any]]:
    """memlayer's (key, value) pairs for one mem0 provider setting."""
    where = f"{kind}.config.{key}"
    if key in ENDPOINT_KEYS:
        owner, target = ENDPOINT_KEYS[key]
        if owner != provider and not (owner == "openai" and provider == "openai_structured"):
            problems.append(f"{where}: belongs to provider {owner!r}, and this {kind} is {provider!r}; "
                            f"give its endpoint as {_endpoint_key(provider)}")
            return []
        if key == "ollama_base_url":  # mem0 gives Ollama's own address; memlayer talks to its /v1 API
            from ..openai_client import ollama_endpoint

            value = ollama_endpoint(value) if isinstance(value, str) else value
        return [(target, value)]
    if key == "embedding_dims":
        return [("dims", value)]
    if key == "azure_kwargs":
        return _azure(where, value, provider, problems)
    if key == "model_kwargs":
        extra = sorted(set(value) - {"device"}) if isinstance(value, Mapping) else None
        if name != "sentence-transformers" or extra is None or extra:
            problems.append(f"{where}: only the local embedder's model_kwargs {{'device': ...}} is read (as "
                            f"'device'); {'remove ' + ', '.join(extra) if extra else 'remove it'}")
            return []
        return [("device", value["device"])] if "device" in value else []
    if key in UNOFFERED:
        problems.append(f"{where}: {UNOFFERED[key]}")
        return []
    if key == "api_key" and name == "sentence-transformers":
        problems.append(f"{where}: memlayer loads local models offline, without a token; remove it")
        return []
    return [(key, value)]  # model, api_key, temperature and memlayer's own settings; the provider checks them


def _azure(where: str, value: Any, provider: str, problems: list[str]) -> list[tuple[str, Any]]:
    if not provider.startswith("azure_openai"):
        problems.append(f"{where}: belongs to provider 'azure_openai', and this one is {provider!r}")
        return []
    if not isinstance(value, Mapping):
        problems.append(f"{where}: must be a mapping of azure_deployment, azure_endpoint, api_key, api_version")
        return []
    names = {"azure_deployment": "model", "azure_endpoint": "azure_endpoint", "api_key": "api_key",
             "api_version": "api_version"}
    for key in sorted(set(value) - set(names)):
        if value[key]:
            problems.append(f"{where}.{key}: memlayer sends no custom headers or settings to Azure beyond "
                            f"{', '.join(names)}; remove it")
    return [(names[k], v) for k, v in value.items() if k in names and v is not None]


def _endpoint_key(provider: str) -> str:
    found = [k for k, (owner, _) in ENDPOINT_KEYS.items() if owner == provider.removesuffix("_structured")]
    return found[0] if found else "its own settings (azure_kwargs for Azure)"


def _unknown_provider(kind: str, provider: str) -> str:
    table = LLMS if kind == "llm" else EMBEDDERS
    own = [n for n in registry.names(_kind(kind)) if n not in table]
    message = (f"{kind}.provider {provider!r}: memlayer has no such {kind}. Available: {', '.join(table)} (mem0's "
               f"names), and memlayer's {', '.join(own)}")
    url = OPENAI_COMPATIBLE.get(provider) if kind == "llm" or provider in EMBEDDING_APIS else None
    if url:
        return message + (f". {provider} serves the OpenAI API: use {{\"provider\": \"openai\", \"config\": "
                          f"{{\"openai_base_url\": \"{url}\", \"api_key\": ..., \"model\": ...}}}}")
    return message + (". Any server with the OpenAI API (LiteLLM's proxy in front of other providers, for one) "
                      "works as provider 'openai' with its openai_base_url")


def _prompts(config: Mapping[str, Any], problems: list[str]) -> tuple[str | None, str | None]:
    """The extractor's focus and instructions from mem0's custom prompt keys."""
    given = {k: config[k] for k in (*FACT_PROMPT_KEYS, UPDATE_PROMPT_KEY) if config.get(k) is not None}
    for key, value in given.items():
        if not isinstance(value, str):
            problems.append(f"{key}: must be a text, got {type(value).__name__}")
    texts = {k: v.strip() for k, v in given.items() if isinstance(v, str) and v.strip()}
    facts = [k for k in FACT_PROMPT_KEYS if k in texts]
    if len(facts) > 1:
        problems.append(f"{' and '.join(facts)}: give one (mem0 renamed custom_fact_extraction_prompt to "
                        "custom_instructions)")
    focus = FOCUS_FRAME + texts[facts[0]] if facts else None
    decide = DECIDE_FRAME + texts[UPDATE_PROMPT_KEY] if UPDATE_PROMPT_KEY in texts else None
    return focus, decide


def _extractor(current: Any, focus: str | None, decide: str | None, problems: list[str]) -> Any:
    """memlayer's ``llm`` extractor with the focus and instructions of mem0's custom prompts."""
    settings = {k: v for k, v in (("focus", focus), ("instructions", decide)) if v}
    if current is None or current == "llm":
        return {"provider": "llm", "config": settings}
    if isinstance(current, Mapping) and current.get("provider") == "llm":
        config = dict(current.get("config") or {})
        for key in sorted(k for k in settings if config.get(k) is not None):
            problems.append(f"extractor.config.{key}: a mem0 custom prompt sets it as well; keep one of the two")
        if config.get("prompt") is not None and "focus" in settings:
            problems.append("extractor.config.prompt: a whole prompt, and a mem0 custom fact prompt sets the focus "
                            "of the default one; keep one of the two")
        return {**current, "config": {**config, **settings}}
    problems.append(f"extractor {current!r}: mem0's custom prompts need memlayer's 'llm' extractor; remove "
                    "'extractor' (an LLM is then used when one is configured) or make it {\"provider\": \"llm\"}")
    return current


def _redacted(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: "***" if k == "api_key" and v else _redacted(v) for k, v in value.items()}
    return value
