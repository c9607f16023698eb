import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { predictWithCli } from '../../src/rank/gbdt/cli-predict.js';
import { writeXgboostLibsvm } from '../../src/rank/gbdt/data-files.js';
import type { RankingData } from '../../src/rank/gbdt/ranking-data.js';
import { trainGbdt, type GbdtTrainResult } from '../../src/rank/gbdt/train.js';
import { Rng } from '../../src/util/rng.js';
import { syntheticRankingData } from './gbdt-helpers.js';

/** Debian's python3 with python3-xgboost: an independent reader of files and models. */
function python<T>(script: string, ...args: string[]): T {
  const r = spawnSync('/usr/bin/python3', ['-c', script, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 'gbdt-xgb-test-'));

function withReplaced(data: RankingData, from: (v: number) => boolean, to: number): Float32Array {
  return Float32Array.from(data.features, (v) => (from(v) ? to : v));
}

describe('XGBoost LibSVM writer, read back by python3-xgboost', () => {
  it('writes float32 values XGBoost reads exactly, NaN as absent, explicit zeros kept, qid groups', () => {
    const rng = new Rng(11);
    const nRows = 400;
    const nFeatures = 5;
    const features = new Float32Array(nRows * nFeatures);
    for (let i = 0; i < features.length; i++) {
      const u = rng.next();
      // Magnitudes from 1e-11 to 1e18, both signs; some NaN and some exact zeros.
      features[i] = u < 0.1 ? NaN : u < 0.2 ? 0 : (rng.next() < 0.5 ? -1 : 1) * (1 + rng.next() * 9) * 10 ** (rng.int(30) - 11);
    }
    const groupSizes = Int32Array.from([100, 1, 150, 149]);
    const labels = Float32Array.from({ length: nRows }, () => rng.int(5));
    const path = join(tmp(), 'data.libsvm');
    writeXgboostLibsvm(path, { features, nRows, nFeatures, labels, groupSizes });
    const read = python<{ indptr: number[]; indices: number[]; data: number[]; labels: number[]; groupPtr: number[] }>(
      `import sys, json, xgboost as xgb
d = xgb.DMatrix(sys.argv[1] + '?format=libsvm')
m = d.get_data()
print(json.dumps({'indptr': m.indptr.tolist(), 'indices': m.indices.tolist(), 'data': [float(v) for v in m.data],
  'labels': d.get_label().tolist(), 'groupPtr': d.get_uint_info('group_ptr').tolist()}))`,
      path,
    );
    expect(read.labels).toEqual(Array.from(labels));
    expect(read.groupPtr).toEqual([0, 100, 101, 251, 400]);
    for (let r = 0; r < nRows; r++) {
      const expected: Array<[number, number]> = [];
      for (let j = 0; j < nFeatures; j++) {
        const v = features[r * nFeatures + j];
        if (!Number.isNaN(v)) expected.push([j, v]);
      }
      const got: Array<[number, number]> = [];
      for (let k = read.indptr[r]; k < read.indptr[r + 1]; k++) got.push([read.indices[k], read.data[k]]);
      expect(got).toEqual(expected);
    }
  });
});

describe('XGBoost CLI training and in-process scoring', () => {
  const train = syntheticRankingData({ queries: 60, minDocs: 5, maxDocs: 15, nFeatures: 6, seed: 1 });
  const valid = syntheticRankingData({ queries: 20, minDocs: 5, maxDocs: 15, nFeatures: 6, seed: 2 });
  const params = { numTrees: 30, numLeaves: 8, threads: 1, seed: 7 };
  let result: GbdtTrainResult;

  beforeAll(async () => {
    result = await trainGbdt(train, params, { engine: 'xgboost', valid });
  });

  it('records the engine, its version, the command and the validation NDCG of every round', () => {
    const { info, model } = result;
    expect(info.engine).toBe('xgboost');
    expect(info.program).toMatch(/\/xgboost$/);
    expect(info.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(info.command).toEqual([info.program, 'train.conf']);
    expect(info.config).toContain('objective=rank:ndcg\n');
    expect(model.engine).toBe('xgboost');
    expect(model.objective).toBe('rank:ndcg');
    expect(model.nTrees).toBe(30);
    expect(info.history.map((h) => h.iteration)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    for (const h of info.history) {
      expect(Object.keys(h.metrics).sort()).toEqual(['ndcg@1', 'ndcg@10', 'ndcg@3', 'ndcg@5']);
      expect(h.metrics['ndcg@10']).toBeGreaterThan(0);
      expect(h.metrics['ndcg@10']).toBeLessThanOrEqual(1);
    }
  });

  it.each([
    ['training', train],
    ['validation', valid],
  ])('matches `xgboost task=pred` on the %s rows to 1e-6', async (_, data) => {
    const ours = result.model.predict(data.features, data.nRows, data.nFeatures);
    const cli = await predictWithCli(result.model, data);
    expect(cli.scores.length).toBe(data.nRows);
    for (let i = 0; i < data.nRows; i++) expect(Math.abs(ours[i] - cli.scores[i])).toBeLessThanOrEqual(1e-6);
  });

  it('equals python3-xgboost output_margin bit for bit (float32 sums)', () => {
    const dir = tmp();
    result.model.save(join(dir, 'model.json'));
    writeXgboostLibsvm(join(dir, 'train.libsvm'), train);
    const theirs = python<number[]>(
      `import sys, json, xgboost as xgb
b = xgb.Booster(model_file=sys.argv[1] + '/model.json')
p = b.predict(xgb.DMatrix(sys.argv[1] + '/train.libsvm?format=libsvm'), output_margin=True)
print(json.dumps([float(v) for v in p]))`,
      dir,
    );
    expect(Array.from(result.model.predict(train.features, train.nRows, train.nFeatures))).toEqual(theirs);
    // Float64 input is rounded to float32 as XGBoost reads it.
    expect(Array.from(result.model.predict(Float64Array.from(train.features), train.nRows, train.nFeatures))).toEqual(theirs);
  });

  it('exercises both missing values and explicit zeros (they score differently)', () => {
    const { model } = result;
    const base = model.predict(train.features, train.nRows, train.nFeatures);
    const zerosMissing = model.predict(
      withReplaced(train, (v) => v === 0, NaN),
      train.nRows,
      train.nFeatures,
    );
    const missingZero = model.predict(
      withReplaced(train, (v) => Number.isNaN(v), 0),
      train.nRows,
      train.nFeatures,
    );
    expect(base.some((v, i) => v !== zerosMissing[i])).toBe(true);
    expect(base.some((v, i) => v !== missingZero[i])).toBe(true);
  });

  it('gives the same model for the same seed', async () => {
    const again = await trainGbdt(train, params, { engine: 'xgboost', valid });
    expect(again.model.text).toBe(result.model.text);
    expect(again.info.history).toEqual(result.info.history);
  });
});

describe('XGBoost CLI regression (the objective of training from logged clicks)', () => {
  it('fits real-valued labels by squared error: RMSE per round, falling well below the spread of the labels; scores as the CLI', async () => {
    const rng = new Rng(11);
    const nRows = 600;
    const nFeatures = 3;
    const features = Float32Array.from({ length: nRows * nFeatures }, () => rng.next());
    // Labels such as 1/θ_p for a click: real-valued, here 3·x0 + x1² with noise.
    const labels = Float32Array.from({ length: nRows }, (_, r) => 3 * features[r * 3] + features[r * 3 + 1] ** 2 + 0.1 * rng.normal());
    const data: RankingData = { features, nRows, nFeatures, labels, groupSizes: Int32Array.of(nRows) };
    const { model, info } = await trainGbdt(
      data,
      { objective: 'regression', numTrees: 40, numLeaves: 8, learningRate: 0.3, threads: 1 },
      {
        engine: 'xgboost',
        valid: data,
      },
    );
    expect(info.config).toContain('objective=reg:squarederror\n');
    expect(model.objective).toBe('reg:squarederror');
    expect(info.history.map((h) => Object.keys(h.metrics))).toEqual(Array.from({ length: 40 }, () => ['rmse']));
    const mean = labels.reduce((a, b) => a + b, 0) / nRows;
    const spread = Math.sqrt(labels.reduce((a, y) => a + (y - mean) ** 2, 0) / nRows);
    const scores = model.predict(features, nRows, nFeatures);
    const rmse = Math.sqrt(scores.reduce((a, s, r) => a + (s - labels[r]) ** 2, 0) / nRows);
    expect(rmse).toBeLessThan(0.2 * spread);
    expect(rmse).toBeCloseTo(info.history.at(-1)?.metrics.rmse ?? Number.NaN, 3);
    const cli = await predictWithCli(model, data);
    for (let i = 0; i < nRows; i++) expect(Math.abs(scores[i] - cli.scores[i])).toBeLessThanOrEqual(1e-5);
  });

  it('refuses a label that is not a finite number, and a real-valued label for lambdarank', async () => {
    const data: RankingData = {
      features: Float32Array.of(1, 2),
      nRows: 2,
      nFeatures: 1,
      labels: Float32Array.of(0.5, NaN),
      groupSizes: Int32Array.of(2),
    };
    await expect(trainGbdt(data, { objective: 'regression' }, { engine: 'xgboost' })).rejects.toThrow(
      'row 1: label NaN is not a finite number',
    );
    await expect(trainGbdt(data, {}, { engine: 'xgboost' })).rejects.toThrow('row 0: label 0.5 is not a relevance grade');
  });
});
