import { describe, expect, it } from 'vitest';
import { NegativeSampler, type NegativeSamplerOptions } from '../../src/sampling/negative.js';

/**
 * Pearson's chi-square of observed counts against expected probabilities, over the items with
 * a nonzero expectation; an observation where the expectation is 0 makes it infinite.
 */
function chiSquare(observed: Float64Array, expected: Float64Array, draws: number): { stat: number; df: number } {
  let stat = 0;
  let cells = 0;
  for (let i = 0; i < observed.length; i++) {
    if (expected[i] === 0) {
      if (observed[i] > 0) return { stat: Infinity, df: 0 };
      continue;
    }
    const e = expected[i] * draws;
    stat += (observed[i] - e) ** 2 / e;
    cells++;
  }
  return { stat, df: cells - 1 };
}

/**
 * 99.9% quantiles of the chi-square distribution (scipy.stats.chi2.ppf(0.999, df)). A correct
 * sampler exceeds them with probability 0.001 for a random seed; the seeds here are fixed, so
 * each check is deterministic, and a wrong distribution exceeds them by orders of magnitude
 * (checked below with a deliberately wrong expectation).
 */
const CHI2_999: Record<number, number> = { 2: 13.816, 15: 37.697, 16: 39.252 };

const COUNTS = Float64Array.from([0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 70, 100, 150, 250]);
const POSITIVES = Int32Array.from([2, 7, 19]);

/** count^alpha (or 1) restricted to non-positives, normalised: what the sampler must follow. */
function conditionalExpectation(counts: Float64Array, positives: Int32Array, alpha: number | null): Float64Array {
  const p = new Float64Array(counts.length);
  let total = 0;
  for (let i = 0; i < counts.length; i++) {
    if (positives.includes(i)) continue;
    p[i] = alpha === null ? 1 : counts[i] ** alpha;
    total += p[i];
  }
  return p.map((v) => v / total);
}

function frequencies(opts: NegativeSamplerOptions, counts: Float64Array, positives: Int32Array, draws: number): Float64Array {
  const sampler = new NegativeSampler(counts, opts);
  const out = new Int32Array(1000);
  const observed = new Float64Array(counts.length);
  for (let done = 0; done < draws; done += out.length) {
    for (const item of sampler.sample(positives, out.length, out)) observed[item]++;
  }
  return observed;
}

describe('NegativeSampler', () => {
  const draws = 200_000;

  it('uniform: follows the uniform distribution over non-positives', () => {
    const observed = frequencies({ distribution: 'uniform', seed: 1 }, COUNTS, POSITIVES, draws);
    for (const p of POSITIVES) expect(observed[p]).toBe(0);
    const { stat, df } = chiSquare(observed, conditionalExpectation(COUNTS, POSITIVES, null), draws);
    expect(df).toBe(16);
    expect(stat).toBeLessThan(CHI2_999[16]);
  });

  for (const alpha of [0.75, 1]) {
    it(`popularity^${alpha}: follows count^alpha over non-positives, never a zero-count item`, () => {
      const observed = frequencies({ distribution: 'popularity', alpha, seed: 2 }, COUNTS, POSITIVES, draws);
      for (const p of POSITIVES) expect(observed[p]).toBe(0);
      expect(observed[0]).toBe(0);
      const { stat, df } = chiSquare(observed, conditionalExpectation(COUNTS, POSITIVES, alpha), draws);
      expect(df).toBe(15);
      expect(stat).toBeLessThan(CHI2_999[15]);
    });
  }

  it('the frequency check has power: alpha 0.75 draws fail against the alpha 1 expectation', () => {
    const observed = frequencies({ distribution: 'popularity', alpha: 0.75, seed: 2 }, COUNTS, POSITIVES, draws);
    const { stat } = chiSquare(observed, conditionalExpectation(COUNTS, POSITIVES, 1), draws);
    expect(stat).toBeGreaterThan(100 * CHI2_999[15]);
  });

  it('a user who saw all but three of 1000 items gets only those three, in the right proportions', () => {
    const n = 1000;
    const counts = Float64Array.from({ length: n }, (_, i) => 1 + (i % 50));
    const free = [17, 500, 998];
    const positives = Int32Array.from({ length: n }, (_, i) => i).filter((i) => !free.includes(i));
    for (const opts of [
      { distribution: 'uniform', seed: 3 },
      { distribution: 'popularity', alpha: 1, seed: 4 },
    ] as const) {
      const observed = frequencies(opts, counts, positives, 30_000);
      expect(free.reduce((s, i) => s + observed[i], 0)).toBe(30_000);
      const expected = conditionalExpectation(counts, positives, opts.distribution === 'uniform' ? null : 1);
      const { stat, df } = chiSquare(observed, expected, 30_000);
      expect(df).toBe(2);
      expect(stat).toBeLessThan(CHI2_999[2]);
    }
  });

  it('the same seed gives the same samples; another seed gives others', () => {
    const run = (seed: number): number[] => {
      const sampler = new NegativeSampler(COUNTS, { distribution: 'popularity', seed });
      const out = new Int32Array(50);
      return [...Array.from(sampler.sample(POSITIVES, 50, out)), ...Array.from(sampler.sample(new Int32Array(0), 50, out))];
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
  });

  it('reports what it cannot do', () => {
    const sampler = new NegativeSampler(Float64Array.from([0, 3, 5]), { distribution: 'popularity', seed: 1 });
    expect(sampler.probability(2)).toBeCloseTo(5 ** 0.75 / (3 ** 0.75 + 5 ** 0.75), 12);
    const out = new Int32Array(4);
    expect(() => sampler.sample(Int32Array.from([1, 2]), 4, out)).toThrow(/no negatives left/);
    expect(() => sampler.sample(Int32Array.from([2, 1]), 4, out)).toThrow(/sorted ascending/);
    expect(() => sampler.sample(new Int32Array(0), 5, out)).toThrow(/out holds 4/);
    expect(() => new NegativeSampler(new Float64Array(3), { distribution: 'popularity', seed: 1 })).toThrow(/zero popularity/);
  });
});
