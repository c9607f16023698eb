import { describe, expect, it } from 'vitest';
import { buildTrainingData } from '../../src/data/training-data.js';
import { evaluateColdItems } from '../../src/eval/cold-items.js';
import type { Csr } from '../../src/matrix/csr.js';
import { allocTopK, topKOfScoreBlock, type TopK } from '../../src/matrix/topk.js';
import { PopularityModel } from '../../src/models/popularity/popularity.js';
import { interactionsOf } from '../helpers.js';

/** Popularity, extended with fixed scores for unseen items (a stand-in for content vectors). */
class ContentPopularity extends PopularityModel {
  constructor(
    base: PopularityModel,
    private readonly coldScores: Map<number, number>,
  ) {
    super(base.users, base.items, base.counts);
  }

  recommendExtended(users: Int32Array, k: number, exclude: Csr | null, extra: Int32Array): TopK {
    const n = this.items.size + extra.length;
    const scores = new Float32Array(users.length * n);
    for (let b = 0; b < users.length; b++) {
      scores.set(this.counts, b * n);
      extra.forEach((raw, c) => (scores[b * n + this.items.size + c] = this.coldScores.get(raw) ?? 0));
    }
    return topKOfScoreBlock(scores, n, users, k, exclude, allocTopK(users.length, k));
  }
}

describe('cold-item cohort', () => {
  // train: u1 {1}, u2 {1, 2} → counts item1 = 2, item2 = 1
  const train = interactionsOf([
    [1, 1, 4, 1],
    [2, 1, 4, 1],
    [2, 2, 4, 2],
  ]);
  // test: u1 {9 (cold), 2}, u2 {8 (cold)}, u3 {9} (no training data: not evaluated)
  const test = interactionsOf([
    [1, 9, 4, 5],
    [1, 2, 4, 5],
    [2, 8, 4, 5],
    [3, 9, 4, 5],
  ]);

  it('ranks cold items among all items and scores only cold relevant items', async () => {
    const base = new PopularityModel(buildTrainingData(train).users, buildTrainingData(train).items, Float32Array.of(2, 1));
    // item 9 scores 1.5 (between items 1 and 2), item 8 scores 3 (above everything)
    const model = new ContentPopularity(
      base,
      new Map([
        [9, 1.5],
        [8, 3],
      ]),
    );
    const m = evaluateColdItems(model, train, test, { ks: [2] });
    // u1 (seen {1}): candidates 2 (1), 9 (1.5), 8 (3) → [8, 9]: hit at rank 2, |rel| = 1
    // u2 (seen {1, 2}): [8, 9] → hit at rank 1, |rel| = 1
    expect(m?.['cold:users']).toBe(2);
    expect(m?.['cold:cold_items']).toBe(2);
    expect(m?.['cold:ndcg@2']).toBeCloseTo((1 / Math.log2(3) + 1) / 2, 12);
    expect(m?.['cold:recall@2']).toBe(1);
    expect(m?.['cold:mrr@2']).toBeCloseTo((0.5 + 1) / 2, 12);
  });

  it('is absent for a model that cannot score unseen items', () => {
    const data = buildTrainingData(train);
    expect(evaluateColdItems(new PopularityModel(data.users, data.items, Float32Array.of(2, 1)), train, test, { ks: [2] })).toBeNull();
  });
});
