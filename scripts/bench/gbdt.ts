/**
 * GBDT scoring benchmark: in-process scoring of 1M rows with a 300-tree lambdarank model trained
 * by the xgboost CLI, against the CLI's own `task=pred` and python3-xgboost's C++ predictor on
 * the same rows; plus the LightGBM fixture models (numeric and categorical) on 1M rows.
 * Writes the "GBDT" section of docs/benchmarks.md.
 *   flock /tmp/recsys-bench.lock npx vite-node scripts/bench/gbdt.ts [--runs 5]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { encodeNpy } from '../../src/artifacts/npy.js';
import { predictWithCli } from '../../src/rank/gbdt/cli-predict.js';
import { loadGbdtModel } from '../../src/rank/gbdt/load.js';
import { GbdtScoringPool } from '../../src/rank/gbdt/scoring-pool.js';
import type { FeatureMatrix, GbdtModel } from '../../src/rank/gbdt/engine.js';
import { trainGbdt } from '../../src/rank/gbdt/train.js';
import { xgboostCli } from '../../src/rank/gbdt/xgboost-cli.js';
import { syntheticRankingData, LIGHTGBM_FIXTURES, readLightgbmTsv } from '../../test/rank/gbdt-helpers.js';
import { fmt, gitShort, machineLine, median, timeCommand, writeSection } from './lib.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const WORK = join(ROOT, 'data/bench/gbdt');
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 5;
const SCORE_ROWS = 1_000_000;
mkdirSync(WORK, { recursive: true });
const startLoad = loadavg()[0].toFixed(1);

function timeRuns(n: number, fn: () => void): number[] {
  const seconds: number[] = [];
  for (let r = 0; r < n; r++) {
    const t = performance.now();
    fn();
    seconds.push((performance.now() - t) / 1000);
  }
  return seconds;
}

function inProcess(model: GbdtModel, x: FeatureMatrix, nFeatures: number): { seconds: number; scores: Float64Array } {
  const nRows = x.length / nFeatures;
  model.predict(x.subarray(0, 10_000 * nFeatures), 10_000, nFeatures); // warm-up (JIT)
  let scores: Float64Array = new Float64Array(0);
  const seconds = median(timeRuns(runs, () => (scores = model.predict(x, nRows, nFeatures))));
  return { seconds, scores };
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

// 1. A 300-tree model, trained by the xgboost CLI on ~30k rows of synthetic queries.
console.log('training a 300-tree model with the xgboost CLI…');
const train = syntheticRankingData({ queries: 3000, minDocs: 5, maxDocs: 15, nFeatures: 20, seed: 1 });
const { model, info } = await trainGbdt(train, { numTrees: 300, numLeaves: 31, threads: 2, seed: 1 }, { engine: 'xgboost' });
const modelPath = join(WORK, 'model300.json');
model.save(modelPath);

// 2. 1M rows to score (~15% of feature 0 missing, 20% of feature 1 exactly 0).
const big = syntheticRankingData({ queries: SCORE_ROWS / 20, minDocs: 20, maxDocs: 20, nFeatures: 20, seed: 2 });
console.log(`scoring ${big.nRows} rows in-process…`);
const f32 = inProcess(model, big.features, big.nFeatures);
const f64 = inProcess(model, Float64Array.from(big.features), big.nFeatures);
const pool = GbdtScoringPool.open(model, 2);
await pool.predict(big.features.subarray(0, 10_000 * 20), 10_000, 20); // warm-up
const poolSeconds: number[] = [];
let poolDiff = 0;
for (let r = 0; r < runs; r++) {
  const t = performance.now();
  const scores = await pool.predict(big.features, big.nRows, big.nFeatures);
  poolSeconds.push((performance.now() - t) / 1000);
  poolDiff = maxAbsDiff(f32.scores, scores);
}
await pool.close();
const rssAfterScoring = process.resourceUsage().maxRSS / 1024;

// 3. The xgboost CLI's own prediction of the same rows.
console.log('scoring with `xgboost task=pred`…');
const cliDir = join(WORK, 'cli');
const cliWrite = timeRuns(1, () => {
  mkdirSync(cliDir, { recursive: true });
  model.save(join(cliDir, xgboostCli.modelFile));
  const data = xgboostCli.writeData(cliDir, 'data', big);
  writeFileSync(join(cliDir, 'predict.conf'), xgboostCli.predictConfig({ model: xgboostCli.modelFile, data, output: 'pred.txt' }));
})[0];
const cli = timeCommand(['sh', '-c', `cd '${cliDir}' && exec xgboost predict.conf`], Math.min(runs, 3));
const cliScores = readFileSync(join(cliDir, 'pred.txt'), 'utf8').trimEnd().split('\n').map(Number);
const cliDiff = maxAbsDiff(f32.scores, cliScores);
// predictWithCli (what the tests use) on a slice, as a check of the whole path.
const slice = { features: big.features.subarray(0, 20_000 * 20), nRows: 20_000, nFeatures: 20 };
const sliceDiff = maxAbsDiff(f32.scores.subarray(0, 20_000), (await predictWithCli(model, slice)).scores);

// 4. python3-xgboost's C++ predictor (inplace_predict on a float32 numpy array).
console.log('scoring with python3-xgboost…');
writeFileSync(join(WORK, 'x.npy'), encodeNpy(big.features, [big.nRows, big.nFeatures]));
writeFileSync(join(WORK, 'ours.npy'), encodeNpy(f32.scores, [big.nRows]));
const pyScript = `
import json, sys, time, numpy as np, xgboost as xgb
w = sys.argv[1]; runs = int(sys.argv[2])
X = np.load(w + '/x.npy'); ours = np.load(w + '/ours.npy')
b = xgb.Booster(model_file=w + '/model300.json')
out = {}
for nt in (1, 2):
    b.set_param({'nthread': nt})
    b.inplace_predict(X[:10000])
    ts = []
    for _ in range(runs):
        t = time.perf_counter(); p = b.inplace_predict(X); ts.append(time.perf_counter() - t)
    out[nt] = sorted(ts)[len(ts) // 2]
out['maxAbsDiff'] = float(np.max(np.abs(p.astype(np.float64) - ours)))
print(json.dumps(out))`;
const py = spawnSync('/usr/bin/python3', ['-c', pyScript, WORK, String(runs)], { encoding: 'utf8' });
if (py.status !== 0) throw new Error(`python3 failed: ${py.stderr}`);
const pyResult = JSON.parse(py.stdout) as { '1': number; '2': number; maxAbsDiff: number };

// 5. The LightGBM fixture models (50 trees; the categorical one takes the general path).
console.log('scoring with the LightGBM fixture models…');
const valid = readLightgbmTsv(join(LIGHTGBM_FIXTURES, 'valid.tsv'));
const lgbX = new Float64Array(SCORE_ROWS * valid.nFeatures);
for (let r = 0; r < SCORE_ROWS; r++)
  lgbX.set(valid.features.subarray((r % valid.nRows) * valid.nFeatures, ((r % valid.nRows) + 1) * valid.nFeatures), r * valid.nFeatures);
const lgbNumeric = inProcess(loadGbdtModel(join(LIGHTGBM_FIXTURES, 'model.txt')), lgbX, valid.nFeatures);
const lgbCategorical = inProcess(loadGbdtModel(join(LIGHTGBM_FIXTURES, 'model_cat.txt')), lgbX, valid.nFeatures);

const rate = (seconds: number): string => `${Math.round(SCORE_ROWS / seconds / 1000)}k`;
const body = `
Scoring ${SCORE_ROWS.toLocaleString('en-US')} rows × 20 float32 features (synthetic, ~15% of one
feature missing) with a 300-tree, 31-leaf \`rank:ndcg\` model trained by the xgboost ${info.version} CLI
(${info.trainRows} rows, ${info.trainQueries} queries, 2 threads: ${fmt(info.seconds)} s). Median of ${runs} runs
(CLI: ${Math.min(runs, 3)}), wall seconds of the scoring call only unless noted.
Machine: ${machineLine()}; commit ${gitShort()}; load average at the start ${startLoad} (the
machine is shared: other work running at the same time slows every row alike).
Command: \`flock /tmp/recsys-bench.lock npx vite-node scripts/bench/gbdt.ts --runs ${runs}\`.

| scorer | seconds | rows/s | peak RSS | max abs diff vs in-process |
| --- | --- | --- | --- | --- |
| in-process \`GbdtModel.predict\`, Float32Array, 1 thread | ${fmt(f32.seconds)} | ${rate(f32.seconds)} | ${rssAfterScoring.toFixed(0)} MiB (whole bench process so far) | — |
| in-process, Float64Array input (rounded to float32 in blocks) | ${fmt(f64.seconds)} | ${rate(f64.seconds)} | | ${maxAbsDiff(f32.scores, f64.scores)} |
| \`GbdtScoringPool\`, 2 threads (this one + 1 worker) | ${fmt(median(poolSeconds))} | ${rate(median(poolSeconds))} | | ${poolDiff} |
| python3-xgboost \`inplace_predict\` (C++), nthread=1 | ${fmt(pyResult['1'])} | ${rate(pyResult['1'])} | | ${pyResult.maxAbsDiff} |
| python3-xgboost \`inplace_predict\` (C++), nthread=2 | ${fmt(pyResult['2'])} | ${rate(pyResult['2'])} | | |
| \`xgboost task=pred\` CLI (parses a LibSVM file; all cores) | ${fmt(cli.medianSeconds)} | ${rate(cli.medianSeconds)} | ${cli.peakRssMiB.toFixed(0)} MiB | ${cliDiff.toExponential(1)} (CLI prints 9 digits) |
| writing that LibSVM file + model for the CLI (once) | ${fmt(cliWrite)} | | | |

\`predictWithCli\` on a 20,000-row slice agrees to ${sliceDiff.toExponential(1)}.

LightGBM text models from the fixtures (50 trees, 15 leaves, 12 features, Float64Array), same
1M rows (the 1,791 validation rows repeated):

| model | seconds | rows/s |
| --- | --- | --- |
| model.txt (numeric splits: four-row lock-step path) | ${fmt(lgbNumeric.seconds)} | ${rate(lgbNumeric.seconds)} |
| model_cat.txt (categorical splits: one-row-at-a-time path) | ${fmt(lgbCategorical.seconds)} | ${rate(lgbCategorical.seconds)} |
`;
writeSection('GBDT', body);
console.log(body);
