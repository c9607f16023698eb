/**
 * Two-tower benchmark: quality on ml-latest-small next to popularity and ALS, and the cold-item
 * cohort of a temporal split. Writes the "Two-tower" section of docs/benchmarks.md. Training
 * speed is scripts/bench/two-tower-speed.ts.
 *   npx vite-node scripts/bench/two-tower.ts [--seeds 3]
 * Runs under `flock /tmp/recsys-bench.lock` in `make bench`; needs `dist/` (make setup).
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateModel, seenMatrix } from '../../src/eval/evaluate.js';
import { listAccuracy } from '../../src/eval/metrics.js';
import type { TwoTowerModel } from '../../src/models/two-tower/model.js';
import { twoTowerFactory } from '../../src/models/two-tower/model.js';
import { twoTowerParamsSchema } from '../../src/models/two-tower/params.js';
import { prepareExperiment } from '../../src/pipeline/experiment.js';
import { fmt, gitShort, machineLine, RECSYS, timeCommand, writeSection, type CommandTiming } from './lib.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const SEEDS = Array.from({ length: Number(arg('--seeds') ?? 3) }, (_, i) => i + 1);
const WORK = join(ROOT, 'data/bench/two-tower');
const ML_SMALL_CSV = join(ROOT, '../shared/data/ml-latest-small');
const SMALL = join(ROOT, 'data/bench/ml-small');
mkdirSync(WORK, { recursive: true });
const node = (args: string[]): string[] => [process.execPath, RECSYS, ...args];
const loadAvg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

if (!existsSync(join(SMALL, 'dataset.json'))) timeCommand(node(['data', 'import', '--in', ML_SMALL_CSV, '--out', SMALL]), 1);

// 1. Quality on ml-latest-small, temporal-user 0.8, k = 10: the CLI end to end, seeds as given.
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

// 2. Cold items on a global temporal split: test events whose item has no training event.
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
const body = `Machine: ${machineLine()}; commit ${gitShort()}. Command: \`flock /tmp/recsys-bench.lock npx vite-node scripts/bench/two-tower.ts\` (part of \`make bench\`). The machine is shared; load averages are given.

Training speed (examples/s per thread count, next to PyTorch) is in "Two-tower training speed vs PyTorch" (scripts/bench/two-tower-speed.ts).

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

Popularity and ALS cannot score an item without training events (recall 0 on this cohort).`;
writeSection('Two-tower', body);
console.log(body);
