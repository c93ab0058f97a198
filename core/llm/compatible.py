"""OpenAI-compatible servers by name: ``llm="ollama"``, ``"vllm"``, ``"lmstudio"`` and ``"azure"`` are
the OpenAI provider (``OpenAILLM``) with the endpoint each one usually has.

==========  ===========================================  ===============================================
name        endpoint (``base_url=`` overrides it)        model when none is given
==========  ===========================================  ===============================================
ollama      ``http://localhost:11434/v1`` (or            the first the server lists (``/v1/models``)
            ``OLLAMA_HOST``)
vllm        ``http://localhost:8000/v1``                 the first the server lists (vLLM serves one)
lmstudio    ``http://localhost:1234/v1``                 the first the server lists (the loaded model)
azure       ``AZURE_OPENAI_ENDPOINT`` (or                ``AZURE_OPENAI_DEPLOYMENT``, else
            ``azure_endpoint=``)                         ``gpt-4o-mini`` (the deployment name)
==========  ===========================================  ===============================================

Local servers get no API key unless one is given (``api_key=``; vLLM also reads ``VLLM_API_KEY``):
``OPENAI_API_KEY`` is never sent to them. Azure reads ``AZURE_OPENAI_API_KEY`` and ``OPENAI_API_VERSION``
(default ``2024-10-21``). Every other setting of ``OpenAILLM`` (``temperature``, ``timeout``,
``deadline``, ``json_mode``, ...) passes through.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import LLMError
from ..openai_client import AZURE_API_VERSION, LOCAL_ENDPOINTS, LOCAL_KEY, ollama_endpoint
from .openai import OpenAILLM

ENDPOINTS = LOCAL_ENDPOINTS
AZURE_MODEL = "gpt-4o-mini"


def ollama(model: str | None = None, *, base_url: str | None = None, api_key: str | None = None,
           **options: Any) -> OpenAILLM:
    """Ollama's OpenAI-compatible endpoint (``OLLAMA_HOST`` is honoured, like Ollama's own CLI)."""
    endpoint = base_url or ollama_endpoint()
    return OpenAILLM(model, base_url=endpoint, api_key=api_key or LOCAL_KEY, **options)


def vllm(model: str | None = None, *, base_url: str | None = None, api_key: str | None = None,
         **options: Any) -> OpenAILLM:
    """A vLLM server (``vllm serve``)."""
    key = api_key or os.environ.get("VLLM_API_KEY") or LOCAL_KEY
    return OpenAILLM(model, base_url=base_url or ENDPOINTS["vllm"], api_key=key, **options)


def lmstudio(model: str | None = None, *, base_url: str | None = None, api_key: str | None = None,
             **options: Any) -> OpenAILLM:
    """LM Studio's local server."""
    return OpenAILLM(model, base_url=base_url or ENDPOINTS["lmstudio"], api_key=api_key or LOCAL_KEY, **options)


def azure(model: str | None = None, *, azure_endpoint: str | None = None, api_version: str | None = None,
          **options: Any) -> OpenAILLM:
    """Azure OpenAI: ``model`` is the deployment name."""
    endpoint = azure_endpoint or os.environ.get("AZURE_OPENAI_ENDPOINT")
    if not endpoint:
        raise LLMError(
            "llm='azure' needs the resource endpoint: set AZURE_OPENAI_ENDPOINT or give "
            "{'provider': 'azure', 'config': {'azure_endpoint': 'https://<resource>.openai.azure.com'}}"
        )
    version = api_version or os.environ.get("OPENAI_API_VERSION") or AZURE_API_VERSION
    deployment = model or os.environ.get("AZURE_OPENAI_DEPLOYMENT") or AZURE_MODEL
    return OpenAILLM(deployment, azure_endpoint=endpoint, api_version=version, **options)
