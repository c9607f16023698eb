import { describe, expect, it } from 'vitest';
import { buildTrainingData } from '../../src/data/training-data.js';
import { epsilonGreedyPolicy, exploreProbability } from '../../src/explore/epsilon-greedy.js';
import { parsePolicy } from '../../src/explore/parse.js';
import type { PlacedItem, PlacementContext, Policy, RankedItem } from '../../src/explore/policy.js';
import { buildItemPools } from '../../src/explore/pools.js';
import { ArmPosteriors, thompsonPolicy } from '../../src/explore/thompson.js';
import { betaDraw } from '../../src/sampling/beta.js';
import { InputError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';
import { interactionsOf } from '../helpers.js';

const ranked = (n: number): RankedItem[] => Array.from({ length: n }, (_, i) => ({ item_id: 100 + i, score: n - i, channel: 'als' }));

type Expected = Array<[key: string, propensity: number]>;

/**
 * Places `runs` requests and checks every (item, position) count against the sum of the
 * probabilities `expectedOf` gives it before each request (exact even when they change between
 * requests), within 4 sigma of the binomial sums; `after` sees each placement.
 */
function checkPropensities(
  policy: Policy,
  list: RankedItem[],
  runs: number,
  ctxOf: (run: number, random: () => number) => PlacementContext,
  expectedOf: (ctx: PlacementContext) => Expected,
  after: (placed: PlacedItem[]) => void = () => {},
): number {
  const rng = new Rng(11);
  const random = (): number => rng.next();
  const count = new Map<string, number>();
  const expected = new Map<string, { mean: number; variance: number }>();
  for (let r = 0; r < runs; r++) {
    const ctx = ctxOf(r, random);
    for (const [key, propensity] of expectedOf(ctx)) {
      const e = expected.get(key) ?? { mean: 0, variance: 0 };
      e.mean += propensity;
      e.variance += propensity * (1 - propensity);
      expected.set(key, e);
    }
    const placed = policy.place(list, ctx);
    for (const [p, item] of placed.entries()) count.set(`${item.item_id}@${p}`, (count.get(`${item.item_id}@${p}`) ?? 0) + 1);
    after(placed);
  }
  for (const [key, e] of expected) {
    const c = count.get(key) ?? 0;
    expect(Math.abs(c - e.mean), `${key}: ${c} placements, ${e.mean.toFixed(1)} expected`).toBeLessThanOrEqual(
      4 * Math.sqrt(e.variance) + 1e-9,
    );
  }
  for (const key of count.keys()) expect(expected.has(key), key).toBe(true);
  return expected.size;
}

describe('epsilon-greedy slots', () => {
  it('places every (item, position) as often as its propensity says, over 10^5 seeded requests', () => {
    const list = ranked(12);
    const k = 4;
    const eps = 0.3;
    const policy = epsilonGreedyPolicy(eps, 'candidates', null);
    // Worked by hand: a greedy item keeps its place with 1 − ε; each of the 8 candidates beyond k is at a given slot with ε / 8.
    const expected: Expected = [
      ...list.slice(0, k).map((item, p): [string, number] => [`${item.item_id}@${p}`, 1 - eps]),
      ...list.slice(k).flatMap((item) => Array.from({ length: k }, (_, p): [string, number] => [`${item.item_id}@${p}`, eps / 8])),
    ];
    const ctxOf = (_: number, random: () => number): PlacementContext => ({ k, userId: 1, random });
    const reports = new Set<string>();
    const cells = checkPropensities(
      policy,
      list,
      100_000,
      ctxOf,
      () => expected,
      (placed) => {
        for (const [p, item] of placed.entries()) reports.add(`${item.item_id}@${p}=${item.propensity}`);
      },
    );
    expect(cells).toBe(4 + 8 * 4);
    // The policy reports the same propensities as the hand computation.
    expect([...reports].sort()).toEqual(expected.map(([key, p]) => `${key}=${p}`).sort());
  });

  it('keeps the marginals exact when the pool has fewer items than slots (a fresh pool, excluded items)', () => {
    // Pool 101 (greedy), 200, 201, 202 (excluded) → m = 2 for k = 4 positions; ε = 0.6.
    const pools = { fresh: [101, 200, 201, 202], cold: [] };
    const policy = epsilonGreedyPolicy(0.6, 'fresh', pools);
    const list = ranked(6);
    const e = exploreProbability(0.6, 4, 2);
    // By hand: ε · Σ_b P(B = b) min(1, 2 / (b + 1)), B ~ Binomial(3, 0.6).
    const byHand = 0.6 * (0.4 ** 3 + 3 * 0.6 * 0.4 ** 2 + 3 * 0.6 ** 2 * 0.4 * (2 / 3) + 0.6 ** 3 * 0.5);
    expect(e).toBeCloseTo(byHand, 12);
    const expected: Expected = [
      ...list.slice(0, 4).map((item, p): [string, number] => [`${item.item_id}@${p}`, 1 - e]),
      ...[200, 201].flatMap((id) => Array.from({ length: 4 }, (_, p): [string, number] => [`${id}@${p}`, e / 2])),
    ];
    const ctxOf = (_: number, random: () => number): PlacementContext => ({ k: 4, userId: 1, random, exclude: (id) => id === 202 });
    let misreported = 0;
    checkPropensities(
      policy,
      list,
      100_000,
      ctxOf,
      () => expected,
      (placed) => {
        for (const item of placed) if (Math.abs(item.propensity - (item.channel === 'als' ? 1 - e : e / 2)) > 1e-12) misreported++;
      },
    );
    expect(misreported).toBe(0);
    const placed = policy.place(list, { k: 4, userId: 1, random: () => 0, exclude: (id) => id === 202 });
    expect(placed.filter((i) => i.channel === 'explore:fresh').map((i) => i.item_id)).toEqual([200, 201]);
    expect(placed.find((i) => i.channel === 'explore:fresh')?.score).toBe(0);
  });

  it('works out the slot probability by hand for 3 positions and one pool item', () => {
    // B ~ Binomial(2, 0.5): min(1, 1/(1+B)) averages 1/4 + 1/2 · 1/2 + 1/4 · 1/3 = 7/12; times ε = 7/24.
    expect(exploreProbability(0.5, 3, 1)).toBeCloseTo(7 / 24, 12);
    expect(exploreProbability(1, 3, 1)).toBeCloseTo(1 / 3, 12);
    expect(exploreProbability(0.2, 3, 0)).toBe(0);
    expect(exploreProbability(0.2, 3, 5)).toBe(0.2);
  });
});

describe('Thompson sampling', () => {
  const clicks = Float64Array.from([2, 5, 0, 30, 1]);
  const trials = Float64Array.from([40, 60, 3, 500, 10]);

  it('computes win probabilities within Monte Carlo error of 10^6 draws, summing to 1', () => {
    const posterior = new ArmPosteriors(clicks, trials);
    for (const eligible of [
      [true, true, true, true, true],
      [true, false, true, true, false],
    ]) {
      const exact = eligible.map((e, a) => (e ? posterior.winProbability(a, eligible) : 0));
      expect(exact.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 7);
      const rng = new Rng(5);
      const random = (): number => rng.next();
      const wins = new Float64Array(5);
      const draws = 1_000_000;
      for (let d = 0; d < draws; d++) {
        let best = -1;
        let winner = -1;
        for (let a = 0; a < 5; a++) {
          if (!eligible[a]) continue;
          const x = betaDraw(posterior.alpha[a], posterior.beta[a], random);
          if (x > best) [best, winner] = [x, a];
        }
        wins[winner]++;
      }
      for (let a = 0; a < 5; a++) {
        const sigma = Math.sqrt((exact[a] * (1 - exact[a])) / draws);
        expect(Math.abs(wins[a] / draws - exact[a]), `arm ${a}`).toBeLessThanOrEqual(4.5 * sigma + 1e-12);
      }
    }
  });

  it('places its winner at the slot as often as the propensity says while the posteriors learn', () => {
    const arms = [200, 201, 202, 203, 204];
    const ctr = [0.02, 0.05, 0.1, 0.2, 0.05];
    const policy = thompsonPolicy(2, 'fresh', arms, { refreshEvery: 500 });
    const list = ranked(5);
    const clickRng = new Rng(3);
    // Before each request: every eligible arm's chance to win the slot (position 2) under the posteriors in use.
    const expectedOf = (ctx: PlacementContext): Expected => {
      const eligible = arms.map((id) => !ctx.exclude?.(id));
      const posterior = policy.posteriors();
      return arms.flatMap((id, a): Expected => (eligible[a] ? [[`${id}@1`, posterior.winProbability(a, eligible)]] : []));
    };
    const ctxOf = (run: number, random: () => number): PlacementContext => ({
      k: 4,
      userId: run,
      random,
      exclude: run % 2 ? (id) => id === 202 : undefined,
    });
    const deterministic: Expected = [
      ['100@0', 1],
      ['101@2', 1],
      ['102@3', 1],
    ];
    checkPropensities(
      policy,
      list,
      30_000,
      ctxOf,
      (ctx) => [...expectedOf(ctx), ...deterministic],
      (placed) => {
        const winner = placed[1].item_id;
        if (clickRng.next() < ctr[winner - 200])
          policy.observe?.({ kind: 'event', user_id: 1, item_id: winner, type: 'click', request_id: null, time: 0 });
      },
    );
    // The posteriors learnt: the best arm (203) is now the likeliest winner.
    const all = arms.map(() => true);
    const probabilities = arms.map((_, a) => policy.posteriors().winProbability(a, all));
    expect(Math.max(...probabilities)).toBe(probabilities[3]);
    const placed = policy.place(list, { k: 4, userId: 1, random: new Rng(1).next.bind(new Rng(1)) });
    expect(placed.map((i) => i.item_id)).toEqual([100, placed[1].item_id, 101, 102]);
    expect(placed[1].channel).toBe('explore:fresh');
  });
});

describe('policies', () => {
  it('give the same placements for the same seed', () => {
    const pools = { fresh: [200, 201, 202, 203], cold: [300, 301] };
    for (const spec of ['epsilon-greedy:0.5:candidates', 'epsilon-greedy:0.5:fresh', 'thompson:1:fresh', 'thompson:3:cold']) {
      const run = (): PlacedItem[][] => {
        const policy = parsePolicy(spec, pools);
        const rng = new Rng(9);
        return Array.from({ length: 50 }, () => policy.place(ranked(30), { k: 5, userId: 1, random: () => rng.next() }));
      };
      expect(run(), spec).toEqual(run());
    }
  });

  it('parse every spelling and name themselves canonically', () => {
    const pools = { fresh: [1], cold: [2] };
    expect(parsePolicy('greedy', null).name).toBe('greedy');
    expect(parsePolicy('epsilon-greedy:0.10', null).name).toBe('epsilon-greedy:0.1:candidates');
    expect(parsePolicy('epsilon-greedy:0.2:cold', pools).name).toBe('epsilon-greedy:0.2:cold');
    expect(parsePolicy('thompson:2', pools).name).toBe('thompson:2:fresh');
    expect(parsePolicy('epsilon-greedy:0.5', null).depth(10)).toBe(100);
    expect(parsePolicy('swap:0.25', null).name).toBe('swap:0.25');
  });

  it('reject bad specs with one line naming the wrong part', () => {
    const cases: Array<[string, string]> = [
      ['eps:0.1', 'unknown policy "eps"'],
      ['epsilon-greedy', 'takes EPS'],
      ['epsilon-greedy:1.5', 'EPS "1.5" is not a number in [0, 1]'],
      ['epsilon-greedy:x:fresh', 'EPS "x"'],
      ['epsilon-greedy:0.1:warm', 'pool "warm" is not one of candidates, fresh, cold'],
      ['epsilon-greedy:0.1:fresh', 'the fresh pool needs the model'],
      ['thompson:0', 'SLOT "0" is not a position'],
      ['thompson:1.5', 'SLOT "1.5"'],
      ['thompson:1:candidates', 'pool "candidates" is not one of fresh, cold'],
      ['greedy:1', 'greedy takes no parameters'],
      ['swap:1', 'Q "1" is not a number in (0, 1)'],
      ['swap', 'Q "" is not a number in (0, 1)'],
      ['swap:0.5:2', 'Q "0.5"'],
    ];
    for (const [spec, message] of cases) {
      let error: unknown;
      try {
        parsePolicy(spec, null);
      } catch (e) {
        error = e;
      }
      expect(error, spec).toBeInstanceOf(InputError);
      expect((error as Error).message, spec).toContain(message);
      expect((error as Error).message, spec).not.toContain('\n');
    }
  });
});

describe('buildItemPools', () => {
  it('orders fresh items by first interaction, newest first, and cold items by count, catalogue-only items first', () => {
    // item 10: 3 rows from t=1; item 11: 1 row at t=5; item 12: 2 rows from t=3; item 13: 1 row at t=2.
    const train = interactionsOf([
      [1, 10, 1, 1],
      [2, 10, 1, 9],
      [3, 10, 1, 9],
      [1, 11, 1, 5],
      [1, 12, 1, 3],
      [2, 12, 1, 4],
      [2, 13, 1, 2],
    ]);
    const catalog = { itemId: Int32Array.from([10, 11, 12, 13, 14]), title: ['', '', '', '', ''], genres: [[], [], [], [], []] };
    const data = buildTrainingData(train, { catalog });
    expect(buildItemPools(data)).toEqual({ fresh: [11, 12, 13, 10], cold: [14, 11, 13, 12, 10] });
    expect(buildItemPools(data, 2)).toEqual({ fresh: [11, 12], cold: [14, 11] });
  });
});
