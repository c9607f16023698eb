#!/usr/bin/env bash
# `make bench`: every benchmark, one after another (they need the whole machine), each writing its
# own section of docs/benchmarks.md. Large: the synthetic 25M set is generated once in data/.
# Run a single one with `npx vite-node scripts/bench/<name>.ts`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
order=(foundation synth als index two-tower gbdt ranker pipeline)
for name in "${order[@]}"; do
  f="scripts/bench/$name.ts"
  [ -f "$f" ] || continue
  echo "== bench: $name"
  flock /tmp/recsys-bench.lock npx vite-node "$f"
done
