import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RankingData } from '../../src/rank/gbdt/ranking-data.js';
import { Rng } from '../../src/util/rng.js';

/**
 * Seeded synthetic learning-to-rank queries for GBDT tests and benchmarks: normal features,
 * feature 0 missing (NaN) in ~15% of rows, feature 1 exactly 0 in ~20% of rows, grades 0..4
 * from a noisy score of features 0..3.
 */
export function syntheticRankingData(opts: {
  queries: number;
  minDocs: number;
  maxDocs: number;
  nFeatures: number;
  seed: number;
}): RankingData {
  const rng = new Rng(opts.seed);
  const groupSizes = new Int32Array(opts.queries);
  for (let q = 0; q < opts.queries; q++) groupSizes[q] = opts.minDocs + rng.int(opts.maxDocs - opts.minDocs + 1);
  const nRows = groupSizes.reduce((a, b) => a + b, 0);
  const nFeatures = opts.nFeatures;
  const features = new Float32Array(nRows * nFeatures);
  const labels = new Float32Array(nRows);
  for (let r = 0; r < nRows; r++) {
    const x = features.subarray(r * nFeatures, (r + 1) * nFeatures);
    for (let j = 0; j < nFeatures; j++) x[j] = rng.normal();
    const score = 1.5 * x[0] - x[1] + 0.8 * x[2] * x[3] + 0.7 * rng.normal();
    labels[r] = Math.max(0, Math.min(4, Math.floor(score + 1.5)));
    if (rng.next() < 0.15) x[0] = NaN;
    if (rng.next() < 0.2) x[1] = 0;
  }
  return { features, nRows, nFeatures, labels, groupSizes };
}

/** Made with the real LightGBM CLI (see its README.md). */
export const LIGHTGBM_FIXTURES = join(import.meta.dirname, '../fixtures/gbdt/lightgbm');

/** LightGBM TSV (label first, "nan" for missing) → row-major features. */
export function readLightgbmTsv(path: string): { features: Float64Array; nRows: number; nFeatures: number; labels: Float64Array } {
  const rows = readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => l.split('\t').map(Number));
  const nFeatures = rows[0].length - 1;
  const features = new Float64Array(rows.length * nFeatures);
  rows.forEach((r, i) => features.set(r.slice(1), i * nFeatures));
  return { features, nRows: rows.length, nFeatures, labels: Float64Array.from(rows, (r) => r[0]) };
}

export function readNumbers(path: string): number[] {
  return readFileSync(path, 'utf8').trimEnd().split('\n').map(Number);
}
