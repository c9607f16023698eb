#!/usr/bin/env bash
# The README's test command: set-up, style and type checks, then the whole test suite; ends with
# "N passed, N failed" (a failed check counts as one failure).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
checks_failed=0
# Formatter and linter (Biome, biome.json), then strict types over src, test and scripts.
npx biome check --error-on-warnings . || checks_failed=$((checks_failed + 1))
npx tsc -p tsconfig.check.json || checks_failed=$((checks_failed + 1))
mkdir -p .tmp
rm -f .tmp/vitest-report.json
RECSYS_QUIET=1 npx vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest-report.json "$@"
status=$?
CHECKS_FAILED=$checks_failed node -e '
const fs = require("fs");
let passed = 0, failed = Number(process.env.CHECKS_FAILED);
try {
  const r = JSON.parse(fs.readFileSync(".tmp/vitest-report.json", "utf8"));
  passed = r.numPassedTests;
  failed += r.numFailedTests + (r.numTotalTestSuites > 0 && r.success === false && r.numFailedTests === 0 ? 1 : 0);
} catch { failed += 1; }
console.log(`${passed} passed, ${failed} failed`);
'
[ "$checks_failed" -eq 0 ] || exit 1
exit $status
