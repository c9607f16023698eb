/**
 * Two-tower benchmark: training throughput per TensorFlow.js backend, quality on
 * ml-latest-small next to popularity and ALS, the cold-item cohort of a temporal split, and one
 * epoch on the synthetic 25M set. Writes the "Two-tower" section of docs/benchmarks.md.
 *   npx vite-node scripts/bench/two-tower.ts [--seeds 3] [--skip-25m]
 * Runs under `flock /tmp/recsys-bench.lock` in `make bench`; needs `dist/` (make setup).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateModel, seenMatrix } from '../../src/eval/evaluate.js';
import { listAccuracy } from '../../src/eval/metrics.js';
import type { TwoTowerModel } from '../../src/models/two-tower/model.js';
import { twoTowerFactory } from '../../src/models/two-tower/model.js';
import { twoTowerParamsSchema } from '../../src/models/two-tower/params.js';
import { prepareExperiment } from '../../src/pipeline/experiment.js';
import { fmt, gitShort, lastLine, machineLine, RECSYS, timeCommand, writeSection, type CommandTiming } from './lib.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const SEEDS = Array.from({ length: Number(arg('--seeds') ?? 3) }, (_, i) => i + 1);
const SKIP_25M = process.argv.includes('--skip-25m');
const WORK = join(ROOT, 'data/bench/two-tower');
const ML_SMALL_CSV = join(ROOT, '../shared/data/ml-latest-small');
const SMALL = join(ROOT, 'data/bench/ml-small');
const SYNTH = join(ROOT, 'data/synth-25m');
mkdirSync(WORK, { recursive: true });
const node = (args: string[]): string[] => [process.execPath, RECSYS, ...args];
const loadAvg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

if (!existsSync(join(SMALL, 'dataset.json'))) timeCommand(node(['data', 'import', '--in', ML_SMALL_CSV, '--out', SMALL]), 1);

/** The lines of a tfjs child's output that say what went wrong. */
const TFJS_ERROR = /error|two-tower:|setBackend/i;

// 1. Training throughput per backend: one epoch of the shipped defaults (no validation) in a
// fresh process each, on ml-latest-small's temporal-user 0.8 training side (81,036 events) or,
// for the plain-JS cpu backend, its first `rows` events.
interface ThroughputRow {
  readonly label: string;
  readonly result: string;
  readonly examplesPerSecond: number | null;
}

function throughput(label: string, backend: string, env: Record<string, string>, rows: number | null): ThroughputRow {
  const script = `
    import { prepareExperiment } from '${ROOT}dist/pipeline/experiment.js';
    import { buildTrainingData } from '${ROOT}dist/data/training-data.js';
    import { selectRows } from '${ROOT}dist/data/interactions.js';
    import { twoTowerFactory } from '${ROOT}dist/models/two-tower/model.js';
    const exp = await prepareExperiment('${SMALL}', { strategy: 'temporal-user', frac: 0.8 }, { seed: 42, tags: true });
    let data = exp.training;
    const rows = ${rows ?? 'null'};
    if (rows !== null) data = buildTrainingData(selectRows(exp.train, Int32Array.from({ length: rows }, (_, i) => i)), { catalog: exp.dataset.catalog, tags: exp.dataset.tags, seed: 42 });
    const m = await twoTowerFactory.fit(data, twoTowerFactory.params.parse({ epochs: 1, val_frac: 0, backend: '${backend}' }));
    process.stdout.write(JSON.stringify({ epoch: m.training.final[0], backend: m.training.backend }));`;
  const res = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, RECSYS_QUIET: '1', ...env },
    maxBuffer: 1 << 26,
  });
  if (res.status !== 0) return { label, result: `does not run: ${lastLine(res.stderr, TFJS_ERROR)}`, examplesPerSecond: null };
  const out = JSON.parse(res.stdout) as {
    epoch: { examplesPerSecond: number; seconds: number };
    backend: { name: string; simd: boolean | null; threads: number | null };
  };
  const b = out.backend;
  const detail = b.name === 'wasm' ? ` (SIMD ${b.simd ? 'on' : 'off'}, ${b.threads} thread)` : '';
  return { label, result: `ran on ${b.name}${detail}; ${out.epoch.seconds.toFixed(1)} s`, examplesPerSecond: out.epoch.examplesPerSecond };
}

/** tfjs-backend-wasm under Node: its threaded build, forced on. */
function wasmThreadsAttempt(): string {
  const script = `
    import * as tf from '@tensorflow/tfjs-core';
    import { setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    setThreadsCount(2);
    const ok = await Promise.race([tf.setBackend('wasm').catch((e) => 'rejected: ' + (e.message ?? e)), new Promise((r) => setTimeout(() => r('timeout'), 20000))]);
    console.log('setBackend:', ok);
    tf.ones([2]).dataSync();
    process.exit(0);`;
  const res = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: ROOT });
  return `${lastLine(res.stdout, TFJS_ERROR)} / ${lastLine(res.stderr, TFJS_ERROR)}`.replace(/\|/g, '/');
}

console.log(`throughput per backend (load ${loadAvg()})…`);
const throughputRows: ThroughputRow[] = [
  throughput('auto: @tensorflow/tfjs-node first', 'tensorflow', {}, null),
  throughput('wasm, SIMD', 'wasm', {}, null),
  throughput('wasm, no SIMD (RECSYS_WASM_SIMD=0)', 'wasm', { RECSYS_WASM_SIMD: '0' }, null),
  throughput('cpu (plain JS kernels), first 8,192 events', 'cpu', {}, 8192),
];
const threads = wasmThreadsAttempt();
const throughputLoad = loadAvg();

// 2. Quality on ml-latest-small, temporal-user 0.8, k = 10: the CLI end to end, seeds as given.
interface QualityRow {
  readonly model: string;
  readonly seed: number;
  readonly ndcg: number;
  readonly recall: number;
  readonly timing: CommandTiming;
  readonly epochs: number | null;
}

function trainCli(kind: string, seed: number, data: string, split: string[], extra: string[] = []): QualityRow {
  const out = join(WORK, `${kind}-${seed}-${split.join('-').replace(/[^a-z0-9.-]/gi, '')}`);
  rmSync(out, { recursive: true, force: true });
  const timing = timeCommand(
    node(['train', kind, '--data', data, ...split, '--k', '10', '--seed', String(seed), '--out', out, ...extra]),
    1,
  );
  const metrics = Object.values(
    JSON.parse(readFileSync(join(out, 'latest', 'metrics.json'), 'utf8')) as Record<string, Record<string, number>>,
  )[0];
  const modelJson = join(out, 'latest', 'model.json');
  const epochs =
    kind === 'two-tower' ? (JSON.parse(readFileSync(modelJson, 'utf8')) as { training: { epochs: number } }).training.epochs : null;
  return { model: kind, seed, ndcg: metrics['ndcg@10'], recall: metrics['recall@10'], timing, epochs };
}

console.log(`quality on ml-latest-small (load ${loadAvg()})…`);
const qualityLoad = loadAvg();
const SPLIT_TU = ['--split', 'temporal-user', '--frac', '0.8'];
const quality: QualityRow[] = [trainCli('popularity', 1, SMALL, SPLIT_TU), trainCli('als', 1, SMALL, SPLIT_TU)];
for (const seed of SEEDS) quality.push(trainCli('two-tower', seed, SMALL, SPLIT_TU));

// 3. Cold items on a global temporal split: test events whose item has no training event.
console.log('cold-item cohort on --split temporal…');
const cold = await coldCohort();

async function coldCohort(): Promise<Record<string, number>> {
  const exp = await prepareExperiment(SMALL, { strategy: 'temporal', frac: 0.8 }, { seed: 1, tags: true });
  // backend wasm: under vite-node the tfjs-node probe of 'auto' loads a second copy of the cpu kernels (warnings only).
  const model = (await twoTowerFactory.fit(exp.training, twoTowerParamsSchema.parse({ backend: 'wasm' }))) as TwoTowerModel;
  const overall = evaluateModel(model, exp.train, exp.test, { ks: [10] });
  const seen = seenMatrix(model, exp.train);
  const coldSet = new Set<number>();
  for (const raw of exp.test.itemId) if (model.items.indexOf(raw) < 0) coldSet.add(raw);
  const coldIds = Int32Array.from([...coldSet].sort((a, b) => a - b));
  const coldIndex = new Map<number, number>();
  coldIds.forEach((raw, i) => coldIndex.set(raw, i));
  // Relevant cold items per evaluated user (a training user with at least one cold test item).
  const relevant = new Map<number, Set<number>>();
  for (let r = 0; r < exp.test.userId.length; r++) {
    const u = model.users.indexOf(exp.test.userId[r]);
    const c = coldIndex.get(exp.test.itemId[r]);
    if (u < 0 || c === undefined) continue;
    if (!relevant.has(u)) relevant.set(u, new Set());
    relevant.get(u)!.add(c);
  }
  const users = Int32Array.from([...relevant.keys()].sort((a, b) => a - b));
  const K = 10;
  // (a) the extended catalogue: cold items compete with every training item.
  const extended = model.recommendExtended(users, K, seen, coldIds);
  // (b) cold items only: how well content ranks the new items among themselves.
  const coldVectors = model.embedItems(coldIds);
  const userVectors = model.userEmbeddings();
  const sums = { extRecall: 0, extNdcg: 0, coldRecall: 0, coldNdcg: 0, randomRecall: 0, coldHitsInTop: 0 };
  const hits = new Uint8Array(K);
  users.forEach((u, b) => {
    const rel = relevant.get(u)!;
    for (let j = 0; j < K; j++) {
      const i = extended.items[b * K + j];
      hits[j] = i >= model.items.size && rel.has(i - model.items.size) ? 1 : 0;
      if (i >= model.items.size) sums.coldHitsInTop++;
    }
    const ext = listAccuracy(hits, K, rel.size);
    sums.extRecall += ext.recall;
    sums.extNdcg += ext.ndcg;
    const scores = Array.from({ length: coldIds.length }, (_, c) => {
      let s = 0;
      for (let k = 0; k < model.net.dim; k++) s += userVectors.data[u * model.net.dim + k] * coldVectors.data[c * model.net.dim + k];
      return [s, c];
    }).sort((x, y) => y[0] - x[0] || x[1] - y[1]);
    for (let j = 0; j < K; j++) hits[j] = j < scores.length && rel.has(scores[j][1]) ? 1 : 0;
    const only = listAccuracy(hits, K, rel.size);
    sums.coldRecall += only.recall;
    sums.coldNdcg += only.ndcg;
    sums.randomRecall += Math.min(K, coldIds.length) / coldIds.length;
  });
  const n = Math.max(users.length, 1);
  return {
    trainItems: model.items.size,
    coldItems: coldIds.length,
    coldUsers: users.length,
    overallNdcg: overall['ndcg@10'],
    overallRecall: overall['recall@10'],
    overallUsers: overall.users,
    extRecall: sums.extRecall / n,
    extNdcg: sums.extNdcg / n,
    coldShareOfTop: sums.coldHitsInTop / (n * K),
    coldRecall: sums.coldRecall / n,
    coldNdcg: sums.coldNdcg / n,
    randomRecall: sums.randomRecall / n,
    epochs: model.training?.epochs ?? 0,
  };
}

// 4. One epoch on the synthetic 25M set (no validation run), through the CLI. Its results are
// kept in the artifact directory, so `--skip-25m` can report the last run (with its commit).
interface BigRun {
  readonly timing: CommandTiming;
  readonly epochSeconds: number;
  readonly examplesPerSecond: number;
  readonly examples: number;
  readonly ndcg: number;
  readonly recall: number;
  readonly load: string;
  readonly commit: string;
  /** What differed from the current defaults, when the run is older. */
  readonly note?: string;
}
const BIG_OUT = join(WORK, 'two-tower-25m');
const BIG_RESULT = join(WORK, 'two-tower-25m.json');
let big: BigRun | null = existsSync(BIG_RESULT) ? (JSON.parse(readFileSync(BIG_RESULT, 'utf8')) as BigRun) : null;
if (!SKIP_25M) {
  if (!existsSync(join(SYNTH, 'dataset.json'))) {
    console.log('generating the synthetic 25M dataset (once)…');
    timeCommand(node(['data', 'synth', '--out', SYNTH]), 1);
  }
  console.log(`one epoch on the synthetic 25M set (load ${loadAvg()})…`);
  const load = loadAvg();
  rmSync(BIG_OUT, { recursive: true, force: true });
  const timing = timeCommand(
    node(['train', 'two-tower', '--data', SYNTH, ...SPLIT_TU, '--k', '10', '--epochs', '1', '--val-frac', '0', '--out', BIG_OUT]),
    1,
  );
  const modelJson = JSON.parse(readFileSync(join(BIG_OUT, 'latest', 'model.json'), 'utf8')) as {
    training: { final: Array<{ seconds: number; examplesPerSecond: number }> };
  };
  const epoch = modelJson.training.final[0];
  const metrics = Object.values(
    JSON.parse(readFileSync(join(BIG_OUT, 'latest', 'metrics.json'), 'utf8')) as Record<string, Record<string, number>>,
  )[0];
  big = {
    timing,
    epochSeconds: epoch.seconds,
    examplesPerSecond: epoch.examplesPerSecond,
    examples: Math.round(epoch.seconds * epoch.examplesPerSecond),
    ndcg: metrics['ndcg@10'],
    recall: metrics['recall@10'],
    load,
    commit: gitShort(),
  };
  writeFileSync(BIG_RESULT, `${JSON.stringify(big, null, 2)}\n`);
}

// Report.
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
const tt = quality.filter((q) => q.model === 'two-tower');
const qualityTable = [
  '| model | seed | ndcg@10 | recall@10 | epochs | train + eval wall s | peak RSS MiB |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...quality.map(
    (q) =>
      `| ${q.model} | ${q.seed} | ${q.ndcg.toFixed(4)} | ${q.recall.toFixed(4)} | ${q.epochs ?? ''} | ${fmt(q.timing.medianSeconds)} | ${q.timing.peakRssMiB.toFixed(0)} |`,
  ),
  `| two-tower, mean of ${tt.length} seeds | | ${mean(tt.map((q) => q.ndcg)).toFixed(4)} | ${mean(tt.map((q) => q.recall)).toFixed(4)} | | | |`,
].join('\n');
const throughputTable = [
  '| backend | examples/s | run |',
  '| --- | ---: | --- |',
  ...throughputRows.map((r) => `| ${r.label} | ${r.examplesPerSecond === null ? '—' : r.examplesPerSecond.toFixed(0)} | ${r.result} |`),
].join('\n');
const bigText = big
  ? `One epoch on the synthetic 25M set (\`recsys data synth\` defaults), \`recsys train two-tower --data data/synth-25m --split temporal-user --frac 0.8 --k 10 --epochs 1 --val-frac 0\`, run at commit ${big.commit}${SKIP_25M ? ` (an earlier run of this script, kept; rerun without --skip-25m to refresh${big.note ? `; ${big.note}` : ''})` : ''}, load average at start ${big.load}. It fits in the hour: the whole 25M set, not a subset.

| what | value |
| --- | ---: |
| training events (one epoch) | ${big.examples.toLocaleString('en-US')} |
| epoch seconds | ${big.epochSeconds.toFixed(0)} |
| examples/s | ${big.examplesPerSecond.toFixed(0)} |
| whole command (load, split, fit, save with ONNX, evaluate 162k users) wall s | ${fmt(big.timing.medianSeconds)} |
| peak RSS MiB | ${big.timing.peakRssMiB.toFixed(0)} |
| test ndcg@10 / recall@10 after that one epoch | ${big.ndcg.toFixed(4)} / ${big.recall.toFixed(4)} |`
  : 'The synthetic 25M epoch was skipped (`--skip-25m`) and no earlier run is recorded.';
const body = `Machine: ${machineLine()}; commit ${gitShort()}. Command: \`flock /tmp/recsys-bench.lock npx vite-node scripts/bench/two-tower.ts\` (part of \`make bench\`). The machine is shared; load averages are given.

### Training throughput per TensorFlow.js backend

One epoch of the default model (dim 64, hidden 128, history 50, batch 1024) on ml-latest-small's temporal-user 0.8 training side, a fresh process per row, load average ${throughputLoad}. Examples/s counts the whole step: input gathering and pooling in JS, the towers' forward and backward on the backend, sparse Adam on the touched embedding rows.

${throughputTable}

- wasm multi-threading: tfjs-backend-wasm 4.22 turns \`WASM_HAS_MULTITHREAD_SUPPORT\` off under Node (tfjs issue 3830); forcing it on and asking for 2 threads gives: \`${threads}\`. Its threaded build starts Emscripten pthreads from Blob URLs, which Node's worker_threads cannot load, so every wasm row above runs its kernels on one thread.
- SIMD is what makes wasm usable (compare the two wasm rows). On XNNPACK's path (a plain A·B product) a 1024×1024×1024 product ran at 24 GFLOP/s with SIMD and 4.9 without; a product with a transposed operand falls back to a scalar loop at 0.5–0.9 GFLOP/s (1024×160 by 160×128, transposeA: 75 ms vs 2.9 ms). That is why the towers' backward pass is written out with explicit transposes (src/models/two-tower/network.ts) rather than taken from tf.grad, and why the embedding tables stay outside the autodiff graph: tf.gather's gradient needs \`UnsortedSegmentSum\`, which wasm does not register, and a dense gradient of a 59k-row table per step would cost more than the sparse row updates.

### Quality: ml-latest-small, \`--split temporal-user --frac 0.8 --k 10\`

\`recsys train <model> --data ml-latest-small --split temporal-user --frac 0.8 --k 10 --seed S\`, shipped defaults (two-tower: early stopping on each user's latest 10% of training events, then a refit on all of them for the chosen epoch count). Load average at start ${qualityLoad}.

${qualityTable}

### Cold items: ml-latest-small, \`--split temporal --frac 0.8\`

A global time cut: the test side's items with no training event are the cold items; their vectors come from the item tower with item index −1 (genres, release year, tags). Evaluated: training users with at least one cold test item. Candidates exclude the user's training items.

| what | value |
| --- | ---: |
| training items / cold items in test / users with a cold test item | ${cold.trainItems} / ${cold.coldItems} / ${cold.coldUsers} |
| all test items, ndcg@10 / recall@10 (usual protocol, training items only, ${cold.overallUsers} users) | ${cold.overallNdcg.toFixed(4)} / ${cold.overallRecall.toFixed(4)} |
| cold cohort, extended catalogue (training + cold items): recall@10 / ndcg@10 of the cold items | ${cold.extRecall.toFixed(4)} / ${cold.extNdcg.toFixed(4)} |
| share of cold items in those top-10 lists | ${cold.coldShareOfTop.toFixed(4)} |
| cold cohort, ranking the cold items only: recall@10 / ndcg@10 | ${cold.coldRecall.toFixed(4)} / ${cold.coldNdcg.toFixed(4)} |
| the same for a random ranking of the cold items (expected recall@10) | ${cold.randomRecall.toFixed(4)} |

Popularity and ALS cannot score an item without training events (recall 0 on this cohort).

### Synthetic 25M

${bigText}`;
writeSection('Two-tower', body);
console.log(body);
