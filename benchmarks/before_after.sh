#!/usr/bin/env bash
# Before/after of a core change in one run on one machine: benchmarks/scale_bench.py at 100k memories,
# alternating the old tree and this one (ROUNDS times each), so drift in the machine's speed hits both.
#   git worktree add ../before <old-commit>
#   benchmarks/before_after.sh ../before [ROUNDS] [OUT_DIR]
# The old tree's package is imported by putting a `memlayer` symlink to its core/ first on PYTHONPATH;
# each tree runs its own copy of scale_bench.py (same method; its breakdown uses that tree's internals).
# Each run appends one JSON line to OUT_DIR/before.jsonl or OUT_DIR/after.jsonl.
set -euo pipefail
before=$(cd "$1" && pwd); rounds=${2:-2}; out=${3:-benchmarks/results/before_after}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"; out=$(cd "$out" && pwd)
shim=$(mktemp -d); ln -s "$before/core" "$shim/memlayer"; trap 'rm -rf "$shim" "$out"/stores' EXIT
for round in $(seq "$rounds"); do
  rm -rf "$out"/stores
  PYTHONPATH="$shim" python "$before/benchmarks/scale_bench.py" --sizes 100000 --users 1000 --repeat 3 \
      --json "$out/before.jsonl" --keep "$out/stores/before"
  python "$here/benchmarks/scale_bench.py" --sizes 100000 --users 1000 --repeat 3 \
      --json "$out/after.jsonl" --keep "$out/stores/after"
done
