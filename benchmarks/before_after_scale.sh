#!/usr/bin/env bash
# Before/after of the search path at 100k and 1M in one run on one machine (issue 19), on the same data:
# the stores are built once by the old tree (scale_bench.py --keep), each is copied and the copy opened by
# this tree (its schema migrates on open), then search runs alternate old / new ROUNDS times per size.
# Ingestion is compared on fresh 50k stores, alternating too.
#   git worktree add ../before <old-commit>
#   benchmarks/before_after_scale.sh ../before /tmp/memlayer-stores [ROUNDS] [OUT_DIR]
# Each run writes one JSON file to OUT_DIR (old|new)_(search_SIZE|build)_ROUND.json.
set -euo pipefail
before=$(cd "$1" && pwd); stores=$2; rounds=${3:-3}; out=${4:-benchmarks/results/before_after_19}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out" "$stores"; out=$(cd "$out" && pwd)
shim=$(mktemp -d); ln -s "$before/core" "$shim/memlayer"; trap 'rm -rf "$shim"' EXIT
bench="$here/benchmarks/scale_bench.py"
common=(--users 1000 --queries 300 --batch 5000 --approximate-after 200000)
for size in 100000 1000000; do
  if [ ! -f "$stores/$size/build.json" ]; then  # built by the old tree (1M: tens of minutes)
    mkdir -p "$stores/$size"
    PYTHONPATH="$shim" python "$bench" --one "$size" --path "$stores/$size" "${common[@]}" --phase build \
        > "$stores/$size/build.json.tmp" && mv "$stores/$size/build.json.tmp" "$stores/$size/build.json"
  fi
  if [ ! -d "$stores/$size-after" ]; then cp -r "$stores/$size" "$stores/$size-after"; fi
done
for round in $(seq "$rounds"); do
  for size in 100000 1000000; do
    echo "$(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg) round $round size $size" >> "$out/log"
    PYTHONPATH="$shim" python "$bench" --one "$size" --path "$stores/$size" "${common[@]}" --phase search \
        > "$out/old_search_${size}_$round.json"
    python "$bench" --one "$size" --path "$stores/$size-after" "${common[@]}" --phase search \
        > "$out/new_search_${size}_$round.json"
  done
done
for round in $(seq "$rounds"); do
  for side in old new; do
    fresh=$(mktemp -d)
    if [ "$side" = old ]; then path="$shim"; else path=""; fi
    PYTHONPATH="$path" python "$bench" --one 50000 --path "$fresh" "${common[@]}" --phase build \
        > "$out/${side}_build_$round.json"
    rm -rf "$fresh"
  done
done
