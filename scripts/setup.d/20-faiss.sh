#!/usr/bin/env bash
# Builds the faiss-node native addon against Debian's libfaiss-dev (FAISS 1.7.3) instead of
# its install script (which downloads binaries and git-clones FAISS: no internet here).
# patches/faiss-node+0.5.1.patch makes CMake use the system FAISS and extends the addon
# (typed arrays, nprobe/efSearch, thread count). `npm ci` re-creates node_modules, so the
# patch is re-applied here, idempotently; the addon is rebuilt only when it is missing or
# older than the patch. When nothing changed this takes a few milliseconds.
set -euo pipefail
cd "$(dirname "$0")/../.."

PKG=node_modules/faiss-node
VERSION=0.5.1
PATCH=patches/faiss-node+$VERSION.patch
APPLIED=$PKG/.recsys-applied.patch # the patch as it was applied to $PKG
ADDON=$PKG/build/Release/faiss-node.node

log() { printf 'setup: faiss-node: %s\n' "$*" >&2; }

if [ ! -f "$PKG/package.json" ]; then
  log "$PKG is missing: run npm ci first"
  exit 1
fi
up_to_date() { [ -f "$ADDON" ] && [ "$ADDON" -nt "$PATCH" ] && cmp -s "$PATCH" "$APPLIED"; }
up_to_date && exit 0

# Two set-ups running at once (parallel make targets) must not patch the same files twice.
exec 9>"$PKG/.recsys-setup.lock"
flock 9
up_to_date && exit 0

# Paths in the patch are relative to the project root (a/node_modules/faiss-node/...).
apply() { patch -p1 -s -f --no-backup-if-mismatch "$@"; }

if [ -f "$APPLIED" ] && ! cmp -s "$PATCH" "$APPLIED"; then
  log "the patch changed: reverting the one applied before"
  apply -R -i "$APPLIED"
  rm -f "$APPLIED"
fi
found=$(node -p "require('./$PKG/package.json').version")
if [ "$found" != "$VERSION" ]; then
  log "found faiss-node $found but $PATCH is for $VERSION: port the patch"
  exit 1
fi
if [ ! -f "$APPLIED" ]; then
  if apply -R --dry-run -i "$PATCH" >/dev/null 2>&1; then
    log "$PATCH is already applied"
  else
    log "applying $PATCH"
    apply -i "$PATCH"
  fi
  cp "$PATCH" "$APPLIED"
fi

log "building the addon against the system FAISS (cmake-js, about 10 s)"
rm -rf "$PKG/build"
if ! (cd "$PKG" && ../.bin/cmake-js compile >build.log 2>&1); then
  tail -n 40 "$PKG/build.log" >&2
  log "build failed (full log: $PKG/build.log); needs Debian packages libfaiss-dev libopenblas-dev cmake g++"
  exit 1
fi
touch "$ADDON"
node -e "require('faiss-node').Index.fromFactory(4, 'Flat', 0)" || {
  log "the addon was built but does not load"
  exit 1
}
log "built $ADDON"
