#!/usr/bin/env bash
# The README's test command: set-up, then the whole test suite; ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
mkdir -p .tmp
rm -f .tmp/vitest-report.json
RECSYS_QUIET=1 npx vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest-report.json "$@"
status=$?
node -e '
const fs = require("fs");
let passed = 0, failed = 0;
try {
  const r = JSON.parse(fs.readFileSync(".tmp/vitest-report.json", "utf8"));
  passed = r.numPassedTests;
  failed = r.numFailedTests + (r.numTotalTestSuites > 0 && r.success === false && r.numFailedTests === 0 ? 1 : 0);
} catch { failed = 1; }
console.log(`${passed} passed, ${failed} failed`);
'
exit $status
