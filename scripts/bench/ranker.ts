/**
 * Ranker benchmark on ml-latest-small, temporal-user 0.8, k = 10: `recsys train ranker` with
 * the four channels (wall time and peak RSS, median of several runs), `recsys eval` of the
 * artifact (the whole funnel for every evaluated user), and the metrics after every stage
 * (`recsys eval --stages`). Writes the "Ranker" section of docs/benchmarks.md.
 *   flock /tmp/recsys-bench.lock npx vite-node scripts/bench/ranker.ts [--runs 3]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { rankerParamsSchema } from '../../src/rank/ranker.js';
import type { FunnelReport } from '../../src/rank/evaluate-funnel.js';
import { fmt, gitShort, machineLine, RECSYS, timeCommand, writeSection } from './lib.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 3;
const WORK = join(ROOT, 'data/bench/ranker');
const DATA = join(WORK, 'ml-small');
const OUT = join(WORK, 'artifacts/ranker');
const ML_SMALL = join(ROOT, '../shared/data/ml-latest-small');
const CHANNELS = 'als,two-tower,popularity,cooc';
mkdirSync(WORK, { recursive: true });
if (!existsSync(RECSYS)) throw new Error(`${RECSYS} is missing: build first (npx tsc -p .)`);
const startLoad = loadavg()[0].toFixed(1);

const recsys = (args: string[]): string[] => [process.execPath, RECSYS, ...args];
if (!existsSync(join(DATA, 'dataset.json')))
  timeCommand(recsys(['data', 'import', '--format', 'movielens', '--in', ML_SMALL, '--out', DATA]), 1);

const trainArgs = [
  'train',
  'ranker',
  '--data',
  DATA,
  '--split',
  'temporal-user',
  '--frac',
  '0.8',
  '--channels',
  CHANNELS,
  '--candidates',
  '200',
  '--out',
  OUT,
  '--k',
  '10',
  '--json',
];
console.log(`recsys ${trainArgs.join(' ')} ×${runs}…`);
const train = timeCommand(recsys(trainArgs), runs);
const latest = join(OUT, 'latest');
const manifest = JSON.parse(readFileSync(join(latest, 'manifest.json'), 'utf8')) as {
  details: {
    training: {
      gbdt: { engine: string; version: string; seconds: number; trainRows: number; trainQueries: number };
      seconds: Record<string, number>;
      innerValidation: Record<string, number>;
      features: number;
    };
  };
};
const info = manifest.details.training;

const evalArgs = ['eval', '--model', latest, '--k', '10', '--json'];
console.log(`recsys ${evalArgs.join(' ')} ×${runs}…`);
const scoring = timeCommand(recsys(evalArgs), runs);

const staged = spawnSync(process.execPath, [RECSYS, 'eval', '--model', latest, '--k', '10', '--stages', '--json'], {
  encoding: 'utf8',
  env: { ...process.env, RECSYS_QUIET: '1' },
  maxBuffer: 1 << 26,
});
if (staged.status !== 0) throw new Error(`eval --stages failed:\n${staged.stderr.slice(-2000)}`);
const report = (JSON.parse(staged.stdout) as { funnel: FunnelReport }).funnel;

const cols = ['ndcg@10', 'recall@10', 'precision@10', 'map@10', 'hit_rate@10', 'diversity@10', 'coverage@10', 'novelty@10'];
const stageRows = report.stages.map((s) => {
  const name = s.stage === report.bestChannel ? `${s.stage} (best single channel)` : s.stage;
  return `| ${name} | ${cols.map((c) => s.metrics[c].toFixed(4)).join(' | ')} |`;
});
const recallRows = Object.entries(report.candidateRecall).map(([c, r]) => `| ${c} | ${r.toFixed(4)} |`);
const t = report.seconds;
const steps = Object.entries(info.seconds)
  .map(([k, v]) => `${k} ${fmt(v)} s`)
  .join(', ');
const ndcg = (stage: string): number => report.stages.find((s) => s.stage === stage)?.metrics['ndcg@10'] ?? NaN;

writeSection(
  'Ranker',
  `
Machine: ${machineLine()}; commit ${gitShort()}; load average ${startLoad} at the start. Data:
ml-latest-small (610 users, 9,724 movies, 100,836 ratings), \`--split temporal-user --frac 0.8\`,
k = 10, channels \`${CHANNELS}\`, N = 200 candidates, default ranker settings
(docs/features.md). GBDT: ${info.gbdt.engine} ${info.gbdt.version} CLI (no LightGBM here),
${info.gbdt.trainQueries} queries / ${info.gbdt.trainRows} rows × ${info.features} features.
Command: \`flock /tmp/recsys-bench.lock npx vite-node scripts/bench/ranker.ts --runs ${runs}\`.

| command | median wall (s) over ${runs} runs | runs (s) | peak RSS (MiB) |
| --- | --- | --- | --- |
| \`recsys ${trainArgs.slice(0, 2).join(' ')} … --channels ${CHANNELS}\` (fit, save, evaluate) | ${fmt(train.medianSeconds)} | ${train.seconds.map(fmt).join(', ')} | ${train.peakRssMiB.toFixed(0)} |
| \`recsys eval --model …/latest\` (load, full funnel for ${report.users} users, metrics) | ${fmt(scoring.medianSeconds)} | ${scoring.seconds.map(fmt).join(', ')} | ${scoring.peakRssMiB.toFixed(0)} |

Fit steps (last run): ${steps}. The GBDT program itself ran ${fmt(info.gbdt.seconds)} s.
Funnel scoring of all ${report.users} users in-process: candidates ${fmt(t.candidates)} s,
features ${fmt(t.features)} s, GBDT trees ${fmt(t.gbdt)} s, re-ranking ${fmt(t.rerank)} s.

Metrics after each stage (\`recsys eval --model …/latest --stages\`, the protocol of docs/metrics.md):

| stage | ${cols.join(' | ')} |
| --- | ${cols.map(() => '---').join(' | ')} |
${stageRows.join('\n')}

The ranked list's ndcg@10 is ${ndcg('ranked').toFixed(4)} against ${ndcg(report.bestChannel).toFixed(4)} for the best
single channel (${report.bestChannel.replace('channel:', '')}); MMR re-ranking (λ = ${rankerParamsSchema.parse({}).mmr_lambda}, ${rankerParamsSchema.parse({}).mmr_similarity} similarity) trades
${(ndcg('ranked') - ndcg('reranked')).toFixed(4)} ndcg@10 for diversity. The popularity baseline's reference ndcg@10 on this
split is 0.0853 (all-time popularity; the popularity channel here is the recent-window one).

Candidate recall@${report.candidates} (share of relevant test items among the candidates: the ranker's ceiling):

| candidates | recall@${report.candidates} |
| --- | --- |
${recallRows.join('\n')}

Inner validation (train only: the held-out queries of the inner time split, used to choose
settings; no test row): ${Object.entries(info.innerValidation)
    .filter(([k]) => k.endsWith('ndcg@10'))
    .map(([k, v]) => `${k.replace('.ndcg@10', '')} ${v.toFixed(4)}`)
    .join(', ')} (ndcg@10, ${info.innerValidation.users} users).
`,
);
console.log('wrote the Ranker section of docs/benchmarks.md');
