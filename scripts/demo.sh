#!/usr/bin/env bash
# The README's main job: set-up, then the nightly pipeline on the bundled MovieLens data
# (pipelines/movielens.yaml). Prints the metrics table of every model and stage.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node dist/cli/bin.js train --pipeline pipelines/movielens.yaml "$@"
