#!/usr/bin/env bash
# Builds the WebAssembly kernels (AssemblyScript with SIMD and shared memory): asm/<name>.ts
# into wasm/<name>.wasm for each module below, loaded by src/wasm/arena.ts (KernelModule).
# A module is rebuilt only when a file under asm/ is newer than its output, so an up-to-date
# tree costs a few milliseconds.
set -euo pipefail
cd "$(dirname "$0")/../.."

MODULES=(als two-tower)
log() { printf 'setup: wasm: %s\n' "$*" >&2; }

for name in "${MODULES[@]}"; do
  out="wasm/$name.wasm"
  if [ -f "$out" ] && [ -z "$(find asm -newer "$out" -print -quit)" ]; then
    continue
  fi
  if [ ! -x node_modules/.bin/asc ]; then
    log "node_modules/.bin/asc is missing: run npm ci first"
    exit 1
  fi
  log "building $out (AssemblyScript, about 10 s)"
  mkdir -p wasm
  # Write under a temporary name so a failed build never leaves a half-written kernel.
  tmp="wasm/.$name.wasm.tmp-$$"
  trap 'rm -f "$tmp"' EXIT
  node_modules/.bin/asc "asm/$name.ts" --config asm/asconfig.json --outFile "$tmp"
  mv "$tmp" "$out"
done
