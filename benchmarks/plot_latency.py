"""Plot search latency against store size from scale_bench.py's JSON lines (matplotlib: benchmark-only).

    python benchmarks/plot_latency.py benchmarks/results/scale.jsonl BENCHMARKS-latency.png
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> None:
    source, target = sys.argv[1], sys.argv[2]
    rows: dict[int, dict] = {}
    with open(source) as fh:
        for line in fh:
            r = json.loads(line)
            rows[r["size"]] = r  # the last run of each size
    sizes = sorted(rows)
    series = {
        "memlayer scoped search p50 (vector)": lambda r: r["search_vector"]["p50"],
        "memlayer scoped search p95 (vector)": lambda r: r["search_vector"]["p95"],
        "memlayer scoped search p50 (default preset)": lambda r: r["search_default"]["p50"],
        "memlayer index, global top-10 p50 (IVF past 200k)": lambda r: r["index"]["global"]["search"]["p50"],
        "raw FAISS flat, scoped (IDSelectorBatch) p50": lambda r: r["raw_faiss"]["flat_scoped"]["p50"],
        "raw FAISS flat, global p50": lambda r: r["raw_faiss"]["flat_global"]["p50"],
    }
    fig, ax = plt.subplots(figsize=(8, 5))
    for label, get in series.items():
        style = "--" if label.startswith("raw") else "-"
        ax.plot(sizes, [get(rows[s]) for s in sizes], style, marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("memories in the store (1,000 users)")
    ax.set_ylabel("latency (ms), embedding excluded")
    ax.set_title("memlayer search latency vs store size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(target, dpi=120)


if __name__ == "__main__":
    main()
