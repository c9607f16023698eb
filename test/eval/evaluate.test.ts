import { describe, expect, it } from 'vitest';
import { buildTrainingData } from '../../src/data/training-data.js';
import { evaluateModel } from '../../src/eval/evaluate.js';
import { popularityFactory } from '../../src/models/popularity/popularity.js';
import { interactionsOf } from '../helpers.js';

describe('evaluation protocol on a toy split', () => {
  // train: u1 {1,2}, u2 {1,3}, u3 {1} → popularity order 1, 2, 3
  const train = interactionsOf([
    [1, 1, 4, 1],
    [1, 2, 4, 2],
    [2, 1, 4, 1],
    [2, 3, 4, 2],
    [3, 1, 4, 1],
  ]);
  // test: u1 {3, 2 (seen in train: not relevant), 9 (unknown item: relevant, unreachable)},
  // u2 {2, 2 (duplicate)}, u3 {1 (seen: nothing relevant → not evaluated)}, u4 {1} (no train → not evaluated)
  const test = interactionsOf([
    [1, 3, 4, 5],
    [1, 2, 4, 5],
    [1, 9, 4, 6],
    [2, 2, 4, 5],
    [2, 2, 4, 7],
    [3, 1, 4, 5],
    [4, 1, 4, 5],
  ]);

  it('evaluates exactly the users with training data and a relevant test item, seen items filtered', async () => {
    const model = await popularityFactory.fit(buildTrainingData(train), {});
    const m = evaluateModel(model, train, test, { ks: [2] });
    // u1's candidates: {3} → list [3], rel {3, 9}; u2's: {2} → [2], rel {2}
    const ndcgU1 = 1 / (1 + 1 / Math.log2(3));
    expect(m.users).toBe(2);
    expect(m['ndcg@2']).toBeCloseTo((ndcgU1 + 1) / 2, 12);
    expect(m['recall@2']).toBeCloseTo((1 / 2 + 1) / 2, 12);
    expect(m['precision@2']).toBeCloseTo(0.5, 12);
    expect(m['map@2']).toBeCloseTo((0.5 + 1) / 2, 12);
    expect(m['mrr@2']).toBe(1);
    expect(m['hit_rate@2']).toBe(1);
    // union of lists {2, 3} over the 3 items seen in training
    expect(m['coverage@2']).toBeCloseTo(2 / 3, 12);
    expect(m.items).toBe(3);
  });
});
