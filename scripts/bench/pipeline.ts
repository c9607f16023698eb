/**
 * Pipeline runner benchmark: the README's main command (`recsys train --pipeline
 * pipelines/movielens.yaml`) from scratch and again right after (every step skipped), the
 * gate check `recsys eval --pipeline ... --split temporal`, and the same runner on the
 * synthetic 25M set (split, popularity, eval) to show what skipping costs at that size.
 * Writes the "Pipeline runner" section of docs/benchmarks.md.
 *   flock /tmp/recsys-bench.lock npx vite-node scripts/bench/pipeline.ts [--runs 3]
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fmt, gitShort, machineLine, median, RECSYS, timeCommand, writeSection, type CommandTiming } from './lib.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 3;
const WORK = join(ROOT, 'data/bench/pipeline');
const SYNTH = join(ROOT, 'data/synth-25m');
const ML_SMALL = join(ROOT, '../shared/data/ml-latest-small');
const MOVIELENS = join(ROOT, 'pipelines/movielens.yaml');

const node = (args: string[]): string[] => [process.execPath, RECSYS, ...args];

/** `runs` timings of a command, each after `reset` (e.g. removing all output). */
function timeFresh(argv: string[], n: number, reset: () => void): CommandTiming {
  const each = Array.from({ length: n }, () => {
    reset();
    return timeCommand(argv, 1, { ML_DIR: ML_SMALL });
  });
  const seconds = each.map((t) => t.seconds[0]);
  return { seconds, medianSeconds: median(seconds), peakRssMiB: Math.max(...each.map((t) => t.peakRssMiB)) };
}

mkdirSync(WORK, { recursive: true });
process.chdir(WORK); // the shipped pipeline's paths are relative to the working directory
const clean = (): void => {
  for (const d of ['artifacts', 'data']) rmSync(join(WORK, d), { recursive: true, force: true });
};

const rows: Array<[string, string, CommandTiming]> = [];
console.log('movielens pipeline from scratch…');
rows.push([
  '`train --pipeline pipelines/movielens.yaml`, from scratch (13 units)',
  'ml-latest-small',
  timeFresh(node(['train', '--pipeline', MOVIELENS]), runs, clean),
]);
console.log('movielens pipeline, nothing changed…');
rows.push([
  'the same, right after (every step skipped)',
  'ml-latest-small',
  timeCommand(node(['train', '--pipeline', MOVIELENS]), runs, { ML_DIR: ML_SMALL }),
]);
rows.push([
  '`eval --pipeline pipelines/movielens.yaml --split temporal` (gates)',
  'ml-latest-small',
  timeCommand(node(['eval', '--pipeline', MOVIELENS, '--split', 'temporal']), runs, { ML_DIR: ML_SMALL }),
]);

if (existsSync(join(SYNTH, 'dataset.json'))) {
  const big = join(WORK, 'synth.yaml');
  writeFileSync(
    big,
    `name: synth-25m\nartifacts: ${WORK}/artifacts-25m\nk: [10]\ndata: {out: ${SYNTH}}\nsplits: {temporal-user: {strategy: temporal-user}}\nsteps:\n  - kind: split\n  - kind: train\n    model: popularity\n  - kind: eval\n`,
  );
  console.log('25M pipeline from scratch…');
  rows.push([
    'split, train popularity, eval: from scratch',
    'synthetic 25M',
    timeFresh(node(['train', '--pipeline', big]), 1, () => rmSync(join(WORK, 'artifacts-25m'), { recursive: true, force: true })),
  ]);
  console.log('25M pipeline, nothing changed…');
  rows.push(['the same, right after (every step skipped)', 'synthetic 25M', timeCommand(node(['train', '--pipeline', big]), runs)]);
  rmSync(join(WORK, 'artifacts-25m'), { recursive: true, force: true });
} else {
  console.log(`no ${SYNTH}: run scripts/bench/foundation.ts first for the 25M rows`);
}
clean();

const table = [
  '| command | dataset | median wall s | runs (s) | peak RSS MiB |',
  '| --- | --- | ---: | --- | ---: |',
  ...rows.map(
    ([what, ds, t]) => `| ${what} | ${ds} | ${fmt(t.medianSeconds)} | ${t.seconds.map(fmt).join(', ')} | ${t.peakRssMiB.toFixed(0)} |`,
  ),
].join('\n');
writeSection(
  'Pipeline runner',
  `Machine: ${machineLine()}; commit ${gitShort()}. Command: \`flock /tmp/recsys-bench.lock npx vite-node scripts/bench/pipeline.ts\`.
Whole processes (\`/usr/bin/time -v\`). "From scratch" removes the artifacts and the dataset before each run: import, 2 splits, popularity and ALS (64 factors, 15 iterations) on each split, the two-tower model on temporal-user (2 epochs), a FAISS Flat index of the temporal-user ALS model evaluated as a serving stage, the GBDT re-ranker on temporal-user (ALS, popularity and co-occurrence candidates, 100 trees), an eval step per split with its gates, and the export of the ranker's top 100 for every user. A skipped step costs reading its inputs' identity (dataset.json, the latest manifests; input files are re-hashed only when their size or time changed) and the latest manifest of its output.

${table}

Target (issue 6): the README's main command end to end in under a minute on ml-latest-small; a second run skips every unchanged step.`,
);
console.log(table);
