"""LOCOMO retrieval benchmark: recall@k of ``search()`` over conversation turns, per category.

One fresh in-memory store per conversation; every turn becomes one memory through the public API
(``add(..., infer=False)``) with its ``dia_id``, session and speaker in metadata and the session date as
its timestamp. Every question goes through ``search()``; recall@k = |evidence ∩ dia_ids of the top-k
memories| / |evidence|, averaged over questions with evidence (LOCOMO's own retrieval metric).

    python benchmarks/locomo.py                                  # dev split, default vs vector
    python benchmarks/locomo.py --limit-conversations 1 --limit-questions 30 --embedder hash
    python benchmarks/locomo.py --preset '{"preset": "default", "context_inherit": 0}' --out r.md
    python benchmarks/locomo.py --preset lifetimes --baseline default --clock last-session --recalls off
    python benchmarks/locomo.py --extracted beside    # + LOCOMO's observations replayed as the LLM's extraction
    python benchmarks/locomo.py --preset rerank --baseline default --reranker late

``--extracted``: what an LLM extraction pass of LOCOMO's own quality adds, with no LLM. The data's
``observation`` lists (facts an LLM wrote about each session, each naming the turns it came from) are answered
by a replaying LLM to ``add(infer=True)`` after each session's turns, one fact per call; an extracted memory
links to the turns it came from (its ``dia_ids`` metadata), as the data's README defines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "locomo" / "locomo_dev.json"
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
KS = (1, 5, 10, 25)
_ID = re.compile(r"^D:?(\d+):0*(\d+)$")


# -- the data -------------------------------------------------------------------------------------
def normalise_evidence(evidence: Sequence[Any]) -> list[str]:
    """Evidence dia_ids, cleaned: ``D:11:26`` → ``D11:26``, ``D30:05`` → ``D30:5``, ``"D8:6; D9:17"`` split.
    Ids that still are not ``D<session>:<turn>`` (e.g. a bare ``"D"``) are dropped."""
    out: list[str] = []
    for item in evidence:
        for part in re.split(r"[;,\s]+", str(item)):
            m = _ID.match(part.strip())
            if m and (dia := f"D{int(m.group(1))}:{int(m.group(2))}") not in out:
                out.append(dia)
    return out


def parse_session_date(value: str) -> datetime:
    """``"1:56 pm on 8 May, 2023"`` → an aware UTC datetime."""
    return datetime.strptime(" ".join(value.split()), "%I:%M %p on %d %B, %Y").replace(tzinfo=timezone.utc)


def turn_text(turn: dict[str, Any]) -> str:
    text = f'{turn["speaker"]} said, "{turn["text"]}"'
    caption = turn.get("blip_caption")
    return f"{text} and shared {caption}." if caption else text


def sessions(conversation: dict[str, Any]) -> list[tuple[int, datetime | None, list[dict[str, Any]]]]:
    """(session number, its date, its turns) in session order."""
    out = []
    for key, turns in conversation.items():
        m = re.fullmatch(r"session_(\d+)", key)
        if m and isinstance(turns, list) and turns:
            raw = conversation.get(f"{key}_date_time")
            out.append((int(m.group(1)), parse_session_date(raw) if raw else None, turns))
    return sorted(out, key=lambda s: s[0])


# -- building a store -----------------------------------------------------------------------------
async def build_store(
    sample: dict[str, Any], embedder: Any, *, per_turn: bool = False, speaker_metadata: bool = True,
    clock: str = "system", recalls: bool = True, extracted: str = "none", reranker: str | None = None,
) -> tuple[Any, int, float]:
    """A fresh in-memory store holding the conversation's turns; returns (memory, memories added, seconds).

    One add() per session (default): each message is an OpenAI-style message whose ``name`` is the speaker,
    carrying its own metadata (dia_id, session, turn, and the speaker unless ``speaker_metadata`` is False),
    merged over the call's. ``per_turn``: one add() per turn, as an application recording a chat live would.
    ``clock``: "system", or "last-session" (the questions are asked a day after the conversation's last
    session, which is what recency in ranking measures from); ``recalls``: count search results (reinforcement).
    ``extracted``: "beside" adds the session's observations after its turns through ``add(infer=True)`` (see the
    module's docstring), "only" adds them instead of the turns, "none" leaves them out. ``reranker``: what
    configs with a ``rerank_weight`` (the ``rerank`` preset) rerank with ("late", or a cross-encoder's directory).
    """
    from memlayer import AsyncMemory
    from memlayer.clock import ManualClock

    dates = [d for _, d, _ in sessions(sample["conversation"]) if d is not None]
    when = ManualClock(max(dates) + timedelta(days=1)) if clock == "last-session" and dates else None
    llm = ReplayLLM()
    facts = observations(sample) if extracted != "none" else {}
    spec: Any = reranker
    if reranker and reranker != "late":
        spec = {"provider": "cross-encoder", "config": {"model": reranker}}
    mem = AsyncMemory(":memory:", embedder=embedder, graph=False, clock=when, llm=llm, reranker=spec,
                      retention={"track_recalls": recalls, "sweep_interval": None})
    user = sample["sample_id"]
    added = 0
    start = time.perf_counter()
    for number, date, turns in sessions(sample["conversation"]):
        msgs = [
            {"role": "user", "content": turn_text(t), "name": t["speaker"],
             "metadata": {"dia_id": t["dia_id"], "session": number, "turn": i,
                          **({"speaker": t["speaker"]} if speaker_metadata else {})}}
            for i, t in enumerate(turns)
        ]
        batches = [[m] for m in msgs] if per_turn else [msgs]
        for batch in batches if extracted != "only" else ():
            res = await mem.add(batch, user_id=user, infer=False, timestamp=date)
            added += sum(1 for r in res["results"] if r["event"] == "ADD")
        said = {m["metadata"]["dia_id"]: m for m in msgs}
        for text, ids in facts.get(number, []):
            llm.facts = [text]
            source = said.get(ids[0], msgs[-1])
            res = await mem.add([{k: v for k, v in source.items() if k != "metadata"}], user_id=user, infer=True,
                                timestamp=date, metadata={"dia_id": ids[0], "dia_ids": ids, "session": number})
            added += sum(1 for r in res["results"] if r["event"] == "ADD")
    return mem, added, time.perf_counter() - start


# -- evaluating -----------------------------------------------------------------------------------
@dataclass
class Run:
    """Per-question recalls and search latencies of one search config."""

    name: str
    recalls: dict[int, list[list[float]]] = field(default_factory=dict)  # category → per question [R@k...]
    latencies: list[float] = field(default_factory=list)

    def add(self, category: int, values: list[float], seconds: float) -> None:
        self.recalls.setdefault(category, []).append(values)
        self.latencies.append(seconds)

    def table(self, category: int | None) -> tuple[int, list[float]]:
        rows = self.recalls.get(category, []) if category else [r for v in self.recalls.values() for r in v]
        if not rows:
            return 0, [float("nan")] * len(KS)
        return len(rows), [100.0 * float(x) for x in np.mean(np.asarray(rows), axis=0)]

    def latency_ms(self) -> tuple[float, float]:
        if not self.latencies:
            return float("nan"), float("nan")
        arr = np.asarray(self.latencies) * 1000
        return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


def recall_at(evidence: list[str], retrieved: Sequence[str | list[str] | None], ks: Sequence[int] = KS) -> list[float]:
    """Recall@k of the top-k memories, each linked to one dia_id, to several (an extracted fact), or to none."""
    gold = set(evidence)
    linked = [[d] if isinstance(d, str) else list(d or []) for d in retrieved]
    return [len(gold & {d for ids in linked[:k] for d in ids}) / len(gold) for k in ks]


def observations(sample: dict[str, Any]) -> dict[int, list[tuple[str, list[str]]]]:
    """The sample's ``observation`` facts by session number: (text, the dia_ids it came from)."""
    if not isinstance(sample.get("observation"), dict):
        raise SystemExit(f"--extracted needs the data's `observation` lists; {sample.get('sample_id')!r} has none")
    out: dict[int, list[tuple[str, list[str]]]] = {}
    for key, by_speaker in sample["observation"].items():
        m = re.fullmatch(r"session_(\d+)_observation", key)
        if not m:
            continue
        for text, evidence in (item for facts in by_speaker.values() for item in facts):
            ids = normalise_evidence(evidence if isinstance(evidence, list) else [evidence])
            if ids and str(text).strip():
                out.setdefault(int(m.group(1)), []).append((str(text), ids))
    return out


class ReplayLLM:
    """An LLM that answers the extraction call with the facts set in ``facts`` (all ADD, no relations)."""

    def __init__(self) -> None:
        self.facts: list[str] = []

    async def complete(self, messages: list[dict[str, str]], *, response_model: Any = None) -> Any:
        from memlayer.llm.base import LLMResult
        from memlayer.prompts.extraction import ExtractionAnswer, FactDecision

        answer = ExtractionAnswer(facts=[FactDecision(event="ADD", text=t) for t in self.facts])
        return LLMResult(content=answer.model_dump_json(), parsed=answer)


async def evaluate(
    samples: list[dict[str, Any]], embedder: Any, configs: dict[str, Any], *, limit_questions: int | None = None,
    per_turn: bool = False, speaker_metadata: bool = True, log: Any = None, clock: str = "system",
    recalls: bool = True, extracted: str = "none", reranker: str | None = None,
) -> tuple[dict[str, Run], dict[str, Any]]:
    runs = {name: Run(name) for name in configs}
    stats: dict[str, Any] = {"conversations": 0, "memories": 0, "questions": 0, "add_seconds": 0.0}
    embed_times: list[float] = []  # the embedder alone on each question: what search latency cannot go below
    top = max(KS)
    for sample in samples:
        mem, added, add_s = await build_store(sample, embedder, per_turn=per_turn, speaker_metadata=speaker_metadata,
                                              clock=clock, recalls=recalls, extracted=extracted,
                                              reranker=reranker)
        stats["conversations"] += 1
        stats["memories"] += added
        stats["add_seconds"] += add_s
        questions = [(q, normalise_evidence(q.get("evidence") or [])) for q in sample["qa"]]
        questions = [(q, ev) for q, ev in questions if ev][:limit_questions]
        stats["questions"] += len(questions)
        try:
            await mem.search("warm up", user_id=sample["sample_id"], limit=1)
            for q, evidence in questions:
                t0 = time.perf_counter()
                embedder.embed([q["question"]])
                embed_times.append(time.perf_counter() - t0)
                for name, cfg in configs.items():
                    t0 = time.perf_counter()
                    res = await mem.search(q["question"], user_id=sample["sample_id"], limit=top, config=cfg)
                    dt = time.perf_counter() - t0
                    retrieved = [r["metadata"].get("dia_ids") or r["metadata"].get("dia_id") for r in res["results"]]
                    runs[name].add(int(q["category"]), recall_at(evidence, retrieved), dt)
        finally:
            await mem.close()
        if log:
            log(f"{sample['sample_id']}: {added} turns added in {add_s:.1f}s, {len(questions)} questions")
    if embed_times:
        stats["query_embed_ms_p50"] = round(float(np.percentile(embed_times, 50)) * 1000, 2)
    stats["load_average"] = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    return runs, stats


# -- reporting ------------------------------------------------------------------------------------
def markdown(runs: dict[str, Run], stats: dict[str, Any], header: str = "") -> str:
    lines = [header] if header else []
    lines += ["| config | category | n | R@1 | R@5 | R@10 | R@25 |", "|---|---|---:|---:|---:|---:|---:|"]
    for run in runs.values():
        for cat in [*CATEGORIES, None]:
            n, vals = run.table(cat)
            if not n:
                continue
            label = f"{cat} {CATEGORIES[cat]}" if cat else "**overall**"
            lines.append(f"| {run.name} | {label} | {n} | " + " | ".join(f"{v:.1f}" for v in vals) + " |")
    lines += ["", "| config | search p50 ms | search p95 ms |", "|---|---:|---:|"]
    for run in runs.values():
        p50, p95 = run.latency_ms()
        lines.append(f"| {run.name} | {p50:.1f} | {p95:.1f} |")
    per_turn = 1000 * stats["add_seconds"] / max(1, stats["memories"])
    lines += ["", f"{stats['conversations']} conversations, {stats['memories']} memories, {stats['questions']} "
              f"questions; add: {stats['add_seconds']:.1f}s ({per_turn:.1f} ms per turn, embedding included)."]
    if stats.get("query_embed_ms_p50") is not None:
        lines.append(f"The embedder alone takes {stats['query_embed_ms_p50']:.1f} ms (p50) per question; "
                     f"load average at the end: {stats.get('load_average')}.")
    return "\n".join(lines) + "\n"


def as_json(runs: dict[str, Run], stats: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"stats": stats, "ks": list(KS), "configs": {}}
    for name, run in runs.items():
        cats = {}
        for cat in [*CATEGORIES, None]:
            n, vals = run.table(cat)
            cats[CATEGORIES.get(cat or 0, "overall")] = {"n": n, **{f"R@{k}": round(v, 2) for k, v in zip(KS, vals, strict=True)}}
        p50, p95 = run.latency_ms()
        out["configs"][name] = {"recall": cats, "latency_ms": {"p50": round(p50, 2), "p95": round(p95, 2)}}
    return out


def config_arg(value: str) -> Any:
    """A preset name, or a JSON mapping of SearchConfig fields (optionally with ``"preset"``)."""
    from memlayer.search.config import SearchConfig

    return SearchConfig.coerce(json.loads(value) if value.lstrip().startswith("{") else value)


def make_embedder(name: str) -> Any:
    if name == "hash":
        from memlayer.embeddings.hashing import HashingEmbedder

        return HashingEmbedder(dims=256)
    from memlayer.embeddings.sentence_transformers import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder() if name == "local" else SentenceTransformerEmbedder(name)


class CachedEmbedder:
    """An embedder answering from a file of vectors already computed for the same texts by the same model (the
    model is deterministic), embedding only what the file misses; ``save()`` writes it back. Ablations then
    measure retrieval, not the embedder again (latency figures with a cache leave the embedding out)."""

    def __init__(self, inner: Any, path: Path) -> None:
        self.inner, self.path, self.dims = inner, path, int(inner.dims)
        self.vectors: dict[str, np.ndarray] = {}
        if path.is_file():
            with np.load(path, allow_pickle=False) as data:
                self.vectors = dict(zip(data["texts"].tolist(), data["vectors"], strict=True))
        self.changed = False

    def embed(self, texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self.vectors))
        if missing:
            for t, v in zip(missing, np.asarray(self.inner.embed(missing), dtype=np.float32), strict=True):
                self.vectors[t] = v
            self.changed = True
        return np.stack([self.vectors[t] for t in texts]) if texts else np.empty((0, self.dims), np.float32)

    def warm(self, samples: list[dict[str, Any]]) -> None:
        """Embed every turn and question of ``samples`` in large batches (much faster than add by add)."""
        texts = [turn_text(t) for s in samples for _, _, turns in sessions(s["conversation"]) for t in turns]
        texts += [q["question"] for s in samples for q in s["qa"]]
        texts += [text for s in samples if isinstance(s.get("observation"), dict)
                  for facts in observations(s).values() for text, _ in facts]
        todo = list(dict.fromkeys(t for t in texts if t not in self.vectors))
        for start in range(0, len(todo), 256):
            self.embed(todo[start:start + 256])

    def save(self) -> None:
        if self.changed:
            texts = list(self.vectors)
            np.savez(self.path, texts=np.asarray(texts), vectors=np.stack([self.vectors[t] for t in texts]))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", nargs="?", default=str(DEFAULT_DATA), help="LOCOMO-format JSON (default: the dev split)")
    p.add_argument("--limit-conversations", type=int, default=None)
    p.add_argument("--limit-questions", type=int, default=None, help="per conversation")
    p.add_argument("--preset", default="default", help="search preset name or JSON config (default: default)")
    p.add_argument("--baseline", default="vector", help="compared config, run on the same stores ('none' to skip)")
    p.add_argument("--configs", default=None,
                   help="a JSON object {name: preset name or config mapping} run on the same stores instead of "
                        "--preset/--baseline (an ablation: each row adds one idea)")
    p.add_argument("--embedder", default="local", help="'local' (all-MiniLM-L6-v2), 'hash', or a model directory")
    p.add_argument("--per-turn", action="store_true", help="one add() per turn instead of one per session")
    p.add_argument("--no-speaker-metadata", action="store_true",
                   help="messages carry their speaker only as the OpenAI-style `name` (no `speaker` metadata key)")
    p.add_argument("--embed-cache", default=None, help="a .npz of vectors for these texts by this embedder "
                   "(filled on first use): latency then leaves the embedding out")
    p.add_argument("--out", default=None, help="write the results: .json for JSON, else markdown")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's own); 1 keeps query latency steady on a busy machine")
    p.add_argument("--clock", choices=["system", "last-session"], default="system",
                   help="'last-session': questions asked a day after the conversation (what recency decays from)")
    p.add_argument("--recalls", choices=["on", "off"], default="on",
                   help="count search results as recalls (reinforcement) while the questions run")
    p.add_argument("--extracted", choices=["none", "beside", "only"], default="none",
                   help="the data's observations replayed as an LLM's extraction (add(infer=True)), beside the turns "
                        "or instead of them (see above)")
    p.add_argument("--reranker", default=None,
                   help="the reranker of configs with a rerank_weight (e.g. --preset rerank): 'late', or the directory "
                        "of a saved cross-encoder")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)

    path = Path(args.data)
    if not path.is_file():
        p.error(f"no LOCOMO file at {path}")
    samples = json.loads(path.read_text(encoding="utf-8"))[: args.limit_conversations]
    configs = {args.preset if not args.preset.lstrip().startswith("{") else "custom": config_arg(args.preset)}
    if args.baseline != "none":
        configs[f"{args.baseline} (baseline)" if not args.baseline.lstrip().startswith("{") else "baseline"] = (
            config_arg(args.baseline))
    if args.configs:
        configs = {name: config_arg(value if isinstance(value, str) else json.dumps(value))
                   for name, value in json.loads(args.configs).items()}
    log = None if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    embedder = make_embedder(args.embedder)
    if args.embed_cache:
        embedder = CachedEmbedder(embedder, Path(args.embed_cache))
        embedder.warm(samples)
    runs, stats = asyncio.run(evaluate(samples, embedder, configs, limit_questions=args.limit_questions,
                                       per_turn=args.per_turn, speaker_metadata=not args.no_speaker_metadata,
                                       log=log, clock=args.clock, recalls=args.recalls == "on",
                                       extracted=args.extracted, reranker=args.reranker))
    if args.embed_cache:
        embedder.save()
    header = (f"LOCOMO retrieval, `{path.name}`, embedder `{args.embedder}`, "
              f"{'one add per turn' if args.per_turn else 'one add per session'}, "
              f"{'speaker as message name only' if args.no_speaker_metadata else 'speaker in metadata'}"
              f"{f', observations replayed as extraction ({args.extracted})' if args.extracted != 'none' else ''}"
              f"{f', {args.threads} torch thread(s)' if args.threads else ''}\n\n"
              f"`python benchmarks/locomo.py {' '.join(argv if argv is not None else sys.argv[1:])}`\n")
    text = markdown(runs, stats, header)
    print(text)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(as_json(runs, stats), indent=2) if out.suffix == ".json" else text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
