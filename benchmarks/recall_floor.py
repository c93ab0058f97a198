"""The relevance floor of the adapters' recall, measured with the bundled all-MiniLM-L6-v2 embedder.

For every LOCOMO dev question (../shared/data/locomo) the cosine similarity of the question to each
dialogue turn of its conversation is computed: the turns the question's evidence names are *relevant*,
turns of the other conversations are *unrelated*. A floor should keep nearly all relevant turns and drop
what is unrelated. Also shown: the issue's example, "what do I eat?" against a few everyday memories.

    python benchmarks/recall_floor.py            # prints the markdown table for BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
LOCOMO = os.path.join(os.path.dirname(ROOT), "shared", "data", "locomo", "locomo_dev.json")
EXAMPLE_QUERY = "what do I eat?"
EXAMPLE_MEMORIES = ["I'm vegetarian", "I cook pasta most evenings", "I live in Paris", "My sister is a nurse",
                    "The meeting moved to Tuesday", "My car is blue"]


def turns(conv: dict) -> dict[str, str]:
    out = {}
    for key, value in conv.items():
        if key.startswith("session_") and isinstance(value, list):
            out.update({t["dia_id"]: t["text"] for t in value if t.get("text")})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--floors", default="0.05,0.1,0.15,0.2,0.25,0.3")
    args = parser.parse_args()
    from memlayer.embeddings.sentence_transformers import SentenceTransformerEmbedder

    emb = SentenceTransformerEmbedder()

    def unit(texts: list[str]) -> np.ndarray:
        m = np.asarray(emb.embed(texts), dtype=np.float32)
        return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)

    with open(LOCOMO) as fh:
        data = json.load(fh)
    convs = [turns(c["conversation"]) for c in data]
    vecs = [(list(c), unit(list(c.values()))) for c in convs]
    relevant: list[float] = []
    unrelated: list[float] = []
    for n, conv in enumerate(data):
        qa = [q for q in conv["qa"] if q.get("evidence") and q.get("question")]
        qv = unit([q["question"] for q in qa])
        ids, tv = vecs[n]
        other_ids, other = vecs[(n + 1) % len(vecs)]
        for q, v in zip(qa, qv, strict=True):
            sims = dict(zip(ids, tv @ v, strict=True))
            relevant += [float(sims[e]) for e in q["evidence"] if e in sims]
            unrelated += [float(s) for s in other @ v]
    rel, unr = np.array(relevant), np.array(unrelated)
    print(f"LOCOMO dev: {len(rel):,} relevant (question, evidence turn) pairs, {len(unr):,} unrelated pairs\n")
    print("| floor | relevant kept | unrelated dropped |")
    print("|---|---|---|")
    for floor in (float(f) for f in args.floors.split(",")):
        print(f"| {floor:.2f} | {100 * (rel >= floor).mean():.1f}% | {100 * (unr < floor).mean():.1f}% |")
    sims = unit(EXAMPLE_MEMORIES) @ unit([EXAMPLE_QUERY])[0]
    print(f"\n{EXAMPLE_QUERY!r}: " + ", ".join(f"{m!r} {s:.3f}" for m, s in zip(EXAMPLE_MEMORIES, sims, strict=True)))


if __name__ == "__main__":
    main()
