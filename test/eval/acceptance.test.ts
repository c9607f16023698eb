import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { importDataset } from '../../src/data/import.js';
import { evaluateRun } from '../../src/pipeline/evaluate.js';
import { ML_SMALL, tempDir } from '../helpers.js';

/** The reference numbers for popularity on ml-latest-small, from an independent implementation. */
describe('popularity on ml-latest-small matches the reference protocol', () => {
  const data = join(tempDir(), 'ml-small');
  beforeAll(async () => {
    await importDataset({ format: 'movielens', input: ML_SMALL, out: data });
  });

  it('temporal-user, frac 0.8, k 10', async () => {
    const { metrics } = await evaluateRun({
      model: 'popularity',
      datasetDir: data,
      split: { strategy: 'temporal-user', frac: 0.8 },
      ks: [10],
    });
    expect(metrics.users).toBe(610);
    const expected: Record<string, number> = {
      'ndcg@10': 0.0853456,
      'recall@10': 0.0390778,
      'precision@10': 0.0708197,
      'map@10': 0.0417407,
      'mrr@10': 0.1858015,
      'hit_rate@10': 0.3704918,
      'coverage@10': 0.0118802,
    };
    for (const [name, value] of Object.entries(expected)) expect(metrics[name], name).toBeCloseTo(value, 7);
  });

  it('temporal (global cutoff), frac 0.8, k 10: 28 users', async () => {
    const { metrics, split } = await evaluateRun({
      model: 'popularity',
      datasetDir: data,
      split: { strategy: 'temporal', frac: 0.8 },
      ks: [10],
    });
    expect(metrics.users).toBe(28);
    expect(metrics['ndcg@10']).toBeCloseTo(0.1099254, 7);
    expect(split.counts.evaluated_users).toBe(28);
    expect(split.counts.train_rows + split.counts.test_rows).toBe(100836);
  });
});
