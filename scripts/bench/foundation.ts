/**
 * Foundation benchmark: import, split and popularity evaluation on the synthetic 25M set and on
 * ml-latest-small, plus the CSV and Parquet reader comparison behind the library choice.
 * Writes the "Foundation" section of docs/benchmarks.md.
 *   npx vite-node scripts/bench/foundation.ts [--runs 3]
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { withDuckDb } from '../../src/data/parquet.js';
import { fmt, gitShort, machineLine, RECSYS, timeCommand, writeSection, type CommandTiming } from './lib.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 3;
const SYNTH = join(ROOT, 'data/synth-25m');
const WORK = join(ROOT, 'data/bench');
const CSV_DIR = join(WORK, 'synth-25m-csv');
const ML_SMALL = join(ROOT, '../shared/data/ml-latest-small');
mkdirSync(WORK, { recursive: true });

const node = (args: string[]): string[] => [process.execPath, RECSYS, ...args];

if (!existsSync(join(SYNTH, 'dataset.json'))) {
  console.log('generating the synthetic 25M dataset (once)…');
  timeCommand(node(['data', 'synth', '--out', SYNTH]), 1);
}
if (!existsSync(join(CSV_DIR, 'ratings.csv'))) {
  mkdirSync(CSV_DIR, { recursive: true });
  await withDuckDb(async (con) => {
    await con.run(
      `COPY (SELECT user_id AS userId, item_id AS movieId, rating, timestamp FROM read_parquet('${SYNTH}/interactions.parquet')) TO '${CSV_DIR}/ratings.csv' (HEADER, DELIMITER ',')`,
    );
  });
}

const rows: Array<[string, string, string, CommandTiming]> = [];
function bench(step: string, dataset: string, argv: string[], n = runs): void {
  console.log(`${step} on ${dataset}…`);
  rows.push([step, dataset, argv.slice(1).join(' ').replace(ROOT, '').replace(RECSYS, 'recsys'), timeCommand(argv, n)]);
}

/** Reading the 25M CSV into typed arrays: our byte-level reader vs DuckDB's read_csv. */
const readerScript = (which: 'ours' | 'duckdb'): string[] => [
  process.execPath,
  '--input-type=module',
  '-e',
  which === 'ours'
    ? `import { readCsv } from '${ROOT}dist/data/csv.js';
       const u = new Int32Array(26e6), i = new Int32Array(26e6), r = new Float32Array(26e6), t = new Float64Array(26e6); let n = -1;
       readCsv('${CSV_DIR}/ratings.csv', {}, (rec) => { if (n >= 0) { u[n] = rec.int(0); i[n] = rec.int(1); r[n] = rec.float(2); t[n] = rec.int(3); } n++; });
       if (n !== 25000095) throw new Error('rows ' + n);`
    : `import { withDuckDb } from '${ROOT}dist/data/parquet.js';
       await withDuckDb(async (con) => { await con.run("CREATE TABLE t AS SELECT * FROM read_csv('${CSV_DIR}/ratings.csv', header=true, columns={'userId':'INTEGER','movieId':'INTEGER','rating':'FLOAT','timestamp':'BIGINT'})"); });`,
];
bench('CSV → typed arrays (our reader)', 'synthetic 25M CSV', readerScript('ours'));
bench('CSV → DuckDB table (read_csv, typed)', 'synthetic 25M CSV', readerScript('duckdb'));
bench('Parquet → typed arrays (DuckDB raw vectors)', 'synthetic 25M', [
  process.execPath,
  '--input-type=module',
  '-e',
  `import { readInteractionsParquet } from '${ROOT}dist/data/dataset.js'; const x = await readInteractionsParquet('${SYNTH}/interactions.parquet'); if (x.userId.length !== 25000095) throw new Error('rows');`,
]);

const imported = join(WORK, 'import-25m');
bench(
  'import (CSV → Parquet dataset)',
  'synthetic 25M CSV',
  node(['data', 'import', '--format', 'movielens', '--in', CSV_DIR, '--out', imported]),
);
bench(
  'split temporal-user 0.8',
  'synthetic 25M',
  node(['split', '--data', SYNTH, '--strategy', 'temporal-user', '--out', join(WORK, 'split-25m')]),
);
bench(
  'eval popularity (load, split, fit, rank all users)',
  'synthetic 25M',
  node(['eval', '--model', 'popularity', '--data', SYNTH, '--split', 'temporal-user', '--k', '10']),
);
const small = join(WORK, 'ml-small');
bench('import', 'ml-latest-small', node(['data', 'import', '--in', ML_SMALL, '--out', small]), 5);
bench(
  'split temporal-user 0.8',
  'ml-latest-small',
  node(['split', '--data', small, '--strategy', 'temporal-user', '--out', join(WORK, 'split-small')]),
  5,
);
bench(
  'eval popularity',
  'ml-latest-small',
  node(['eval', '--model', 'popularity', '--data', small, '--split', 'temporal-user', '--k', '10']),
  5,
);
rmSync(imported, { recursive: true, force: true });

const table = [
  '| step | dataset | median wall s | runs (s) | peak RSS MiB |',
  '| --- | --- | ---: | --- | ---: |',
  ...rows.map(
    ([step, ds, , t]) => `| ${step} | ${ds} | ${fmt(t.medianSeconds)} | ${t.seconds.map(fmt).join(', ')} | ${t.peakRssMiB.toFixed(0)} |`,
  ),
].join('\n');
writeSection(
  'Foundation: import, split, popularity evaluation',
  `Machine: ${machineLine()}; commit ${gitShort()}. Command: \`npx vite-node scripts/bench/foundation.ts\` (part of \`make bench\`).
Each row is a whole process (\`/usr/bin/time -v\`), so it includes Node start-up and Parquet I/O. The synthetic 25M set is \`recsys data synth\` with its defaults (162,541 users, 59,047 items, 25,000,095 interactions); its CSV is the same data written by DuckDB in MovieLens' ratings.csv layout.

${table}

Targets (issue 2): import of 25M rows ≤ 30 s, full-catalogue popularity eval of 162k users ≤ 30 s, peak memory ≤ 4 GiB.

Library choice. CSV: our byte-level reader (src/data/csv.ts) is single-threaded; DuckDB's typed \`read_csv\` uses both cores and is faster on clean files (compare the first two rows), but it cannot give what the import must: the file, line and field of a malformed row, \`--skip-bad\` with a report of the first bad rows, and range checks per format; it also needs more memory. \`csv-parse\` took 64–95 s on the same size (../shared/FACTS.md). So the import uses our reader, and stays within the 30 s target. Parquet goes through DuckDB: raw vector copies into typed arrays for reading, and the appender with per-chunk memcpy plus DuckDB's \`COPY … TO parquet\` for writing; FACTS.md measured parquet-wasm (3.2 s read / 12 s write), hyparquet (27 s / 31 s) and @dsnp/parquetjs (82 s / 161 s) on 25M rows, and parquetjs-lite returns wrong values.

How cost grows: import, split and evaluation are linear in interactions (counting sorts and per-user work on typed arrays; the only comparison sorts are within one user's events or one CSR row); popularity ranking is O(users × (k + seen items)). Largest measured here: 25M interactions (162k users × 59k items) at under 3 GiB peak; memory is about 100 bytes per interaction at the split step, so about 200M interactions fit in 24 GiB.`,
);
console.log(table);
