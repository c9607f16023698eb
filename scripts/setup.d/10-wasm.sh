#!/usr/bin/env bash
# Builds the ALS WebAssembly kernels (asm/*.ts, AssemblyScript with SIMD and shared memory)
# into wasm/als.wasm, which src/models/als/ loads. Rebuilt only when a source or the config
# is newer than the output, so an up-to-date tree costs a few milliseconds.
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=wasm/als.wasm
log() { printf 'setup: wasm: %s\n' "$*" >&2; }

if [ -f "$OUT" ] && [ -z "$(find asm -newer "$OUT" -print -quit)" ]; then
  exit 0
fi
if [ ! -x node_modules/.bin/asc ]; then
  log "node_modules/.bin/asc is missing: run npm ci first"
  exit 1
fi
log "building $OUT (AssemblyScript, about 10 s)"
mkdir -p wasm
# Write under a temporary name so a failed build never leaves a half-written kernel.
tmp="wasm/.als.wasm.tmp-$$"
trap 'rm -f "$tmp"' EXIT
node_modules/.bin/asc asm/als.ts --config asm/asconfig.json --outFile "$tmp"
mv "$tmp" "$OUT"
