#!/usr/bin/env bash
# The README's main job: set-up, then the nightly pipeline on the bundled MovieLens data
# (pipelines/movielens.yaml). Prints the metrics table of every model and stage.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node dist/cli/bin.js train --pipeline pipelines/movielens.yaml "$@"
cat <<'MSG'

The demo's artifacts are ready to serve. Start the server (the ranker, on http://127.0.0.1:8080):
  node dist/cli/bin.js serve --pipeline pipelines/movielens.yaml
then, from another shell:
  curl 'http://127.0.0.1:8080/recommend/42?k=5'
  curl -X POST http://127.0.0.1:8080/recommend -H 'content-type: application/json' -d '{"history":[260,1196,1210],"k":5}'
  curl 'http://127.0.0.1:8080/similar/260?k=5'
  curl http://127.0.0.1:8080/metrics
(docs/serving.md: every endpoint, the Redis cache, reload, metrics.)
MSG
