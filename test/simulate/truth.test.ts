import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateSynthetic, synthesizeDataset } from '../../src/data/synth.js';
import { Rng } from '../../src/util/rng.js';
import { clickModel, positionCurve, Truth, type Placement } from '../../src/simulate/truth.js';
import { InputError } from '../../src/util/errors.js';
import { tempDir } from '../helpers.js';
import { SIM_SYNTH } from './fixture.js';

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

describe('the truth of a synth dataset', () => {
  it('regenerates the planted vectors from dataset.json: relevance is σ(-5.5 + 6 taste_end·item) of generateSynthetic', async () => {
    const params = { users: 60, items: 90, interactions: 2000, seed: 9, years: 3 };
    const dir = join(tempDir(), 'synth');
    await synthesizeDataset(dir, params);
    const truth = Truth.ofDataset(dir, clickModel(5));
    const { planted } = generateSynthetic(params);
    for (const [u, i] of [
      [1, 1],
      [7, 42],
      [60, 90],
      [33, 5],
    ]) {
      let dot = 0;
      for (let j = 0; j < planted.dim; j++) dot += planted.tasteEnd[(u - 1) * planted.dim + j] * planted.items[(i - 1) * planted.dim + j];
      expect(truth.affinity(u, i)).toBeCloseTo(dot, 6);
      expect(truth.relevance(u, i)).toBeCloseTo(sigmoid(-5.5 + 6 * dot), 9);
      expect(truth.clickProbability(u, i, 3)).toBeCloseTo(3 ** -0.7 * sigmoid(-5.5 + 6 * dot), 9);
    }
  });

  it('a dataset not made by synth is refused with its dataset.json named', async () => {
    const dir = tempDir();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'dataset.json'), JSON.stringify({ source: { kind: 'movielens' } }));
    expect(() => Truth.ofDataset(dir, clickModel(5))).toThrow(InputError);
    expect(() => Truth.ofDataset(dir, clickModel(5))).toThrow(/dataset\.json: not a synthetic dataset/);
  });

  it('the default constants give a random item about 0.01-0.03 and a user’s best items about 0.2-0.45 relevance', () => {
    const truth = Truth.ofParams(SIM_SYNTH, clickModel(10));
    const random: number[] = [];
    const tenth: number[] = [];
    for (let u = 1; u <= 200; u++) {
      const rel = Array.from({ length: truth.items }, (_, i) => truth.relevance(u, i + 1)).sort((a, b) => b - a);
      tenth.push(rel[9]);
      random.push(rel[Math.floor(truth.items / 2)]);
    }
    const median = (v: number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1];
    expect(median(random)).toBeGreaterThan(0.01);
    expect(median(random)).toBeLessThan(0.03);
    expect(median(tenth)).toBeGreaterThan(0.2);
    expect(median(tenth)).toBeLessThan(0.45);
  });

  it('the position curve: p^-0.7 by default, an explicit list checked', () => {
    expect(positionCurve(3)).toEqual([1, 2 ** -0.7, 3 ** -0.7]);
    expect(positionCurve(2, [1, 0.5, 0.25])).toEqual([1, 0.5]);
    expect(() => positionCurve(4, [1, 0.5])).toThrow(/2 values for k = 4/);
    expect(() => positionCurve(2, [1, 1.5])).toThrow(/value 2 must be in \(0, 1\]/);
    expect(() => positionCurve(2, [1, 0])).toThrow(InputError);
  });

  it('expected clicks of a randomised placement from its marginals match Monte Carlo clicks', () => {
    const truth = Truth.ofParams(SIM_SYNTH, clickModel(3, { positions: [1, 0.5, 0.3] }));
    const user = 17;
    const [a, b, c] = [5, 77, 300];
    // The policy: a, b, c in order, but a and b swapped with probability 0.3 and c replaced by item 9 with probability 0.2.
    const marginals: Placement[] = [
      { item_id: a, position: 1, propensity: 0.7 },
      { item_id: b, position: 1, propensity: 0.3 },
      { item_id: b, position: 2, propensity: 0.7 },
      { item_id: a, position: 2, propensity: 0.3 },
      { item_id: c, position: 3, propensity: 0.8 },
      { item_id: 9, position: 3, propensity: 0.2 },
    ];
    const exact = truth.expectedClicks(user, marginals);
    const rng = new Rng(11);
    const draws = 200_000;
    let clicks = 0;
    for (let d = 0; d < draws; d++) {
      const list = rng.next() < 0.3 ? [b, a] : [a, b];
      list.push(rng.next() < 0.2 ? 9 : c);
      list.forEach((item, p) => {
        if (rng.next() < truth.clickProbability(user, item, p + 1)) clicks++;
      });
    }
    const mean = clicks / draws;
    // Clicks per draw are a sum of three Bernoullis: variance at most 3/4 per draw.
    expect(Math.abs(mean - exact)).toBeLessThan(4 * Math.sqrt(0.75 / draws));
    // And by hand: the deterministic list a, b, c gives Σ θ_p rel.
    expect(truth.listClicks(user, [a, b, c])).toBeCloseTo(
      truth.relevance(user, a) + 0.5 * truth.relevance(user, b) + 0.3 * truth.relevance(user, c),
      12,
    );
  });
});
