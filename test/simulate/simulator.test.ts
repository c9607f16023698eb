import { describe, expect, it } from 'vitest';
import { parseExperiment } from '../../src/experiments/experiment.js';
import { greedyPolicy } from '../../src/explore/policy.js';
import { RecordCollector } from '../../src/simulate/collector.js';
import { groundTruth } from '../../src/simulate/ground-truth.js';
import { PrecomputedAnswerer } from '../../src/simulate/precomputed.js';
import { DAY_MS, simulate } from '../../src/simulate/simulator.js';
import { clickModel, Truth } from '../../src/simulate/truth.js';
import { listsOf, SIM_SYNTH, simFixture } from './fixture.js';

const K = 5;
const START = Date.UTC(2030, 0, 1);
const experiment = parseExperiment(
  {
    id: 'pop-vs-als',
    salt: 's1',
    start: new Date(START).toISOString(),
    variants: [
      { name: 'popularity', share: 0.5 },
      { name: 'als', share: 0.5 },
    ],
  },
  'test',
);

async function run(seed: number, days = 2, usersPerDay = 300) {
  const f = await simFixture();
  const truth = Truth.ofParams(SIM_SYNTH, clickModel(K, { purchaseShare: 0.25 }));
  const answerer = new PrecomputedAnswerer(
    [
      { name: 'popularity', lists: listsOf(f, f.popularity, K), policy: greedyPolicy },
      { name: 'als', lists: listsOf(f, f.als, K), policy: greedyPolicy },
    ],
    { experiment, seed },
  );
  const sink = new RecordCollector();
  const result = await simulate({ truth, answerer, sink, days, usersPerDay, k: K, seed, start: START });
  const simulation = { days, users_per_day: usersPerDay, k: K, seed, start: new Date(START).toISOString() };
  return { truth, answerer, sink, result, ground: groundTruth({ truth, result, simulation, experiment, counterfactual: answerer }) };
}

describe('the simulator (fast path)', () => {
  it('same seed, same logs; another seed, other logs', async () => {
    const a = await run(1);
    const b = await run(1);
    const c = await run(2);
    expect(b.sink.exposures).toEqual(a.sink.exposures);
    expect(b.sink.events).toEqual(a.sink.events);
    expect(c.sink.events).not.toEqual(a.sink.events);
    expect(a.sink.exposures).toHaveLength(600);
  });

  it('logs one exposure per arrival in its day and variant, and clicks naming the request, at the truth’s rates', async () => {
    const { truth, answerer, sink, result } = await run(5, 3, 400);
    for (const [n, e] of sink.exposures.entries()) {
      expect(Math.floor((e.time - START) / DAY_MS)).toBe(Math.floor(n / 400));
      expect(e.variant).toBe(answerer.variantOf(e.user_id as number).name);
      expect(e.items.map((i) => i.position)).toEqual([1, 2, 3, 4, 5]);
      expect(e.items.every((i) => i.propensity === 1)).toBe(true);
    }
    const byRequest = new Map(sink.exposures.map((e) => [e.request_id, e]));
    let expected = 0;
    for (const e of sink.exposures) for (const s of e.items) expected += truth.clickProbability(e.user_id as number, s.item_id, s.position);
    const clicks = sink.events.filter((e) => e.type === 'click');
    for (const c of sink.events) {
      const shown = byRequest.get(c.request_id as string);
      expect(shown?.user_id).toBe(c.user_id);
      expect(shown?.items.some((i) => i.item_id === c.item_id)).toBe(true);
    }
    // Clicks are a sum of independent Bernoullis: within 4 standard deviations (≤ √expected) of the expected count.
    expect(Math.abs(clicks.length - expected)).toBeLessThan(4 * Math.sqrt(expected));
    const shownExpected = Object.values(result.variants).reduce((s, v) => s + v.expectedClicks, 0);
    expect(shownExpected).toBeCloseTo(expected, 6);
    const purchases = sink.events.filter((e) => e.type === 'purchase').length;
    expect(Math.abs(purchases - 0.25 * clicks.length)).toBeLessThan(4 * Math.sqrt(0.25 * 0.75 * clicks.length));
  });

  it('truth.json: population CTR of each variant is the mean over all users of Σ θ_p rel / k, and the lift their ratio', async () => {
    const { truth, ground } = await run(3, 1, 100);
    const f = await simFixture();
    const byHand = (lists: ReturnType<typeof listsOf>): number => {
      let sum = 0;
      for (let u = 1; u <= truth.users; u++) {
        lists
          .ranked(u)
          .slice(0, K)
          .forEach((r, p) => {
            sum += (p + 1) ** -0.7 * truth.relevance(u, r.item_id);
          });
      }
      return sum / (truth.users * K);
    };
    const pop = byHand(listsOf(f, f.popularity, K));
    const als = byHand(listsOf(f, f.als, K));
    expect(ground.variants.popularity.population?.ctr).toBeCloseTo(pop, 10);
    expect(ground.variants.als.population?.ctr).toBeCloseTo(als, 10);
    expect(ground.lift.als.population).toBeCloseTo(als / pop - 1, 10);
    // ALS, fitted on the users' histories, knows their taste better than popularity does.
    expect(als).toBeGreaterThan(pop * 1.2);
    expect(ground.control).toBe('popularity');
  });
});
