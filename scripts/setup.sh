#!/usr/bin/env bash
# Does all set-up on a fresh Debian 12 + Node 20 machine; quick and idempotent when done.
#   - Debian packages: FAISS (library + Python reader), ONNX checker, XGBoost CLI, numpy, redis-server (for the cache tests; no daemon is started).
#   - npm packages (npm install at the locked versions; install scripts are off, see .npmrc: native parts are built here).
#   - native builds: the faiss-node addon against Debian's libfaiss, the ALS WebAssembly kernel.
#   - the TypeScript build (dist/).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup: %s\n' "$*" >&2; }

APT_PACKAGES=(libfaiss-dev libopenblas-dev libomp-dev cmake g++ python3-faiss python3-onnx python3-numpy xgboost python3-xgboost redis-server prometheus prometheus-pushgateway)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages at the lock file's versions, when node_modules is missing or older than the lock.
# `npm install`, not `npm ci`: npm 11 here writes lock files without the other platforms'
# optional packages of @duckdb/node-bindings and then its own `npm ci` rejects them as out of
# sync (npm/cli#8320, #9342); `npm install` installs the locked versions all the same.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm install (locked versions)"
  npm install --no-audit --no-fund --loglevel=error
  touch node_modules/.package-lock.json
fi

for step in scripts/setup.d/*.sh; do
  [ -e "$step" ] || continue
  bash "$step"
done

# TypeScript build, skipped when dist is newer than every source file.
if [ ! -f dist/.built ] || [ -n "$(find src tsconfig.json package.json -newer dist/.built -print -quit)" ]; then
  log "tsc"
  npx tsc -p tsconfig.json
  touch dist/.built
fi
