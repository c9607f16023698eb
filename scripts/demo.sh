#!/usr/bin/env bash
# The README's main job: set-up, then the nightly pipeline on the bundled MovieLens data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
ML_DIR="${ML_DIR:-../shared/data/ml-latest-small}"
recsys() { node dist/cli/bin.js "$@"; }
recsys data import --format movielens --in "$ML_DIR" --out data/ml-latest-small
recsys train popularity --data data/ml-latest-small --split temporal-user --frac 0.8 --k 10,20 --out artifacts/popularity
