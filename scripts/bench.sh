#!/usr/bin/env bash
# `make bench`: every benchmark, one after another (they need the whole machine), each writing its
# own section of docs/benchmarks.md. Large: the synthetic 25M set is generated once in data/.
# Run a single one with `npx vite-node scripts/bench/<name>.ts`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
order=(foundation synth als index two-tower two-tower-speed gbdt ranker pipeline)
for name in "${order[@]}"; do
  f="scripts/bench/$name.ts"
  [ -f "$f" ] || continue
  echo "== bench: $name"
  flock /tmp/recsys-bench.lock npx vite-node "$f"
  if [ "$name" = index ]; then
    # Recall/QPS curves on real ALS factors of the 25M set (the issue's acceptance data):
    # the model is trained once with the shipped defaults and kept in data/bench/.
    als=data/bench/als-25m
    [ -e "$als/latest" ] || flock /tmp/recsys-bench.lock node dist/cli/bin.js train als \
      --data data/synth-25m --split temporal-user --frac 0.8 --k 10 --out "$als"
    flock /tmp/recsys-bench.lock npx vite-node scripts/bench/index.ts --part curves \
      --items-npy "$als/latest/item_factors.npy" --queries-npy "$als/latest/user_factors.npy" \
      --label "ALS item/user factors of the synthetic 25M set (64 factors, shipped defaults)"
  fi
done
