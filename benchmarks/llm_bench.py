"""LLM calls and prompt tokens per add(infer=True), memlayer beside mem0, against the fake OpenAI server.

A LOCOMO conversation (../shared/data/locomo) is added two turns per call for one user. The fake
server (tests/fake_openai.py) answers every extraction with one new fact (the first turn), in the
answer format each library asks for, so both stores grow alike and each prompt shows its related
memories. Tokens are counted with tiktoken (o200k_base) over the messages each library sent.
mem0 runs when installed (benchmark environment only: see benchmarks/compare_bench.py).

    MEM0_TELEMETRY=False python benchmarks/llm_bench.py --adds 60
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("MEM0_TELEMETRY", "False")
_cache = os.path.join(os.path.dirname(ROOT), "shared", "tiktoken_cache")
if os.path.isdir(_cache):
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", _cache)

from memlayer.embeddings.hashing import HashingEmbedder  # noqa: E402
from memlayer.tokens import count_tokens  # noqa: E402
from tests.fake_openai import FakeOpenAI  # noqa: E402

LOCOMO = os.path.join(os.path.dirname(ROOT), "shared", "data", "locomo", "locomo_dev.json")


def turns(limit: int) -> list[list[dict[str, str]]]:
    with open(LOCOMO) as fh:
        conv = json.load(fh)[0]["conversation"]
    me = conv["speaker_a"]
    out: list[dict[str, str]] = []
    for n in range(1, 40):
        for t in conv.get(f"session_{n}", []):
            out.append({"role": "user" if t["speaker"] == me else "assistant", "content": t["text"]})
    return [out[i:i + 2] for i in range(0, min(len(out), 2 * limit), 2)]


def first_user_text(request: dict[str, Any]) -> str:
    text = str(request["messages"][-1]["content"])
    return " ".join(text.split()[-12:])[:200] or "nothing"


def memlayer_answer(request: dict[str, Any]) -> dict[str, Any]:
    return {"facts": [{"event": "ADD", "text": "User said: " + first_user_text(request), "ref": None,
                       "attribute": None}], "relations": []}


def mem0_answer(request: dict[str, Any]) -> dict[str, Any]:
    return {"memory": [{"text": "User said: " + first_user_text(request)}]}


def prompt_tokens(server: FakeOpenAI) -> list[int]:
    return [sum(count_tokens(str(m.get("content") or "")) for m in r.json.get("messages", []))
            for r in server.calls("/chat/completions")]


def run_memlayer(adds: list[list[dict[str, str]]]) -> dict[str, Any]:
    from memlayer import Memory

    with FakeOpenAI() as server, tempfile.TemporaryDirectory() as tmp:
        server.default_chat = memlayer_answer
        llm = {"provider": "openai", "config": {"base_url": server.base_url, "api_key": "x"}}
        with Memory(tmp, embedder=HashingEmbedder(dims=384), llm=llm, graph=False) as m:
            for msgs in adds:
                m.add(msgs, user_id="caroline")
            stored = len(m.get_all(user_id="caroline", limit=10_000)["results"])
            usage = m.usage.as_dict() if hasattr(m.usage, "as_dict") else {}
        return summarise("memlayer", server, len(adds), stored, usage)


def run_mem0(adds: list[list[dict[str, str]]]) -> dict[str, Any] | None:
    try:
        from mem0 import Memory
    except ImportError:
        return None
    with FakeOpenAI() as server, tempfile.TemporaryDirectory() as tmp:
        server.default_chat = mem0_answer
        config = {
            "vector_store": {"provider": "faiss", "config": {"collection_name": "bench", "path": os.path.join(tmp, "v"),
                                                             "embedding_model_dims": 384}},
            "embedder": {"provider": "openai", "config": {"api_key": "x", "embedding_dims": 384}},
            "llm": {"provider": "openai", "config": {"api_key": "x", "openai_base_url": server.base_url,
                                                     "model": "gpt-4o-mini"}},
            "history_db_path": os.path.join(tmp, "history.db"),
        }
        m = Memory.from_config(config)
        hashing = HashingEmbedder(dims=384)

        class Embedder:
            def embed(self, text: Any, memory_action: str | None = None) -> list[float]:
                return hashing.embed([str(text)])[0].tolist()

            def embed_batch(self, texts: list[str], memory_action: str | None = None) -> list[list[float]]:
                return [v.tolist() for v in hashing.embed(list(texts))]

        m.embedding_model = Embedder()
        for msgs in adds:
            m.add(msgs, user_id="caroline")
        stored = len(m.get_all(filters={"user_id": "caroline"}, top_k=10_000)["results"])
        return summarise("mem0", server, len(adds), stored, {})


def summarise(name: str, server: FakeOpenAI, adds: int, stored: int, usage: dict[str, Any]) -> dict[str, Any]:
    tokens = prompt_tokens(server)
    return {
        "system": name, "adds": adds, "memories": stored, "llm_calls": server.chat_calls,
        "llm_calls_per_add": server.chat_calls / adds, "embedding_calls": server.embedding_calls,
        "prompt_tokens_per_add": sum(tokens) / adds,
        "prompt_tokens_first_10": sum(tokens[:10]) / max(1, min(10, len(tokens))),
        "prompt_tokens_last_10": sum(tokens[-10:]) / max(1, min(10, len(tokens))),
        "reported_usage": usage,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--adds", type=int, default=60)
    ap.add_argument("--json", help="append the results here (JSON lines)")
    args = ap.parse_args()
    adds = turns(args.adds)
    results = [r for r in (run_memlayer(adds), run_mem0(adds)) if r is not None]
    if args.json:
        with open(args.json, "a") as fh:
            for r in results:
                fh.write(json.dumps(r) + "\n")
    print("| system | adds (2 turns each) | LLM calls / add | prompt tokens / add | first 10 adds | last 10 adds "
          "| memories stored |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['system']} | {r['adds']} | {r['llm_calls_per_add']:.2f} | {r['prompt_tokens_per_add']:,.0f} "
              f"| {r['prompt_tokens_first_10']:,.0f} | {r['prompt_tokens_last_10']:,.0f} | {r['memories']} |")


if __name__ == "__main__":
    main()
