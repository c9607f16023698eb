import { describe, expect, it } from 'vitest';
import type { ExposureRecord } from '../../src/events/records.js';
import { parseExperiment, type Experiment } from '../../src/experiments/experiment.js';
import { abReport } from '../../src/experiments/report.js';
import { greedyPolicy } from '../../src/explore/policy.js';
import { binomialBand } from '../../src/simulate/coverage.js';
import { simulateInMemory } from '../../src/simulate/precomputed.js';
import { clickModel, Truth } from '../../src/simulate/truth.js';
import { listsOf, SIM_SYNTH, simFixture } from './fixture.js';

/**
 * The A/B report checked against the simulator's truth over many seeds (fast path). Each seed
 * draws new arrivals and clicks and, with its own salt, a new split of the users.
 */
const K = 5;
const SEEDS = 100;
/** The A/B check needs ~150 control clicks per seed for the delta method's interval to be near its level (at ~45 it covered 90 %). */
const AB_SEEDS = 60;
const START = Date.UTC(2030, 0, 1);

function experimentOf(seed: number, names: [string, string]): Experiment {
  return parseExperiment(
    {
      id: 'sim',
      salt: `seed-${seed}`,
      start: new Date(START).toISOString(),
      variants: names.map((name) => ({ name, share: 0.5 })),
    },
    'test',
  );
}

function ctrOf(report: ReturnType<typeof abReport>) {
  const c = report.comparisons.find((x) => x.metric === 'ctr');
  if (!c) throw new Error('no ctr comparison');
  return c;
}

describe('A/B tests on the simulator', () => {
  it(`A/A: two identical variants differ at p < 0.05 in about 5 % of ${SEEDS} seeds (binomial 95 % band)`, async () => {
    const f = await simFixture();
    const truth = Truth.ofParams(SIM_SYNTH, clickModel(K));
    const lists = listsOf(f, f.als, K);
    let rejected = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const experiment = experimentOf(seed, ['a', 'b']);
      const variants = ['a', 'b'].map((name) => ({ name, lists, policy: greedyPolicy }));
      const { logs } = await simulateInMemory({ truth, variants, experiment, days: 2, usersPerDay: 300, k: K, seed });
      const report = abReport(experiment, logs, { metrics: ['ctr'] });
      if (ctrOf(report).p_value < 0.05) rejected++;
    }
    console.log(`A/A: p < 0.05 in ${rejected} of ${SEEDS} seeds`);
    const [lo, hi] = binomialBand(SEEDS, 0.05);
    expect(rejected).toBeGreaterThanOrEqual(lo);
    expect(rejected).toBeLessThanOrEqual(hi);
  });

  it('a planted sample-ratio mismatch (half of one variant’s users’ exposures lost) is flagged; intact logs are not', async () => {
    const f = await simFixture();
    const truth = Truth.ofParams(SIM_SYNTH, clickModel(K));
    const lists = listsOf(f, f.als, K);
    let flaggedIntact = 0;
    let flaggedBroken = 0;
    const seeds = 20;
    for (let seed = 1; seed <= seeds; seed++) {
      const experiment = experimentOf(seed, ['a', 'b']);
      const variants = ['a', 'b'].map((name) => ({ name, lists, policy: greedyPolicy }));
      const { logs } = await simulateInMemory({ truth, variants, experiment, days: 3, usersPerDay: 500, k: K, seed });
      if (abReport(experiment, logs, { metrics: ['ctr'] }).srm.mismatch) flaggedIntact++;
      // Users of b with an even id lose every exposure: a logging bug on one side of the split.
      const lost = (e: ExposureRecord): boolean => e.variant === 'b' && (e.user_id as number) % 2 === 0;
      const broken = { exposures: logs.exposures.filter((e) => !lost(e)), events: logs.events };
      if (abReport(experiment, broken, { metrics: ['ctr'] }).srm.mismatch) flaggedBroken++;
    }
    // The flag's level is 0.001: 20 intact seeds should almost never be flagged.
    expect(flaggedIntact).toBeLessThanOrEqual(1);
    expect(flaggedBroken).toBe(seeds);
  });

  it(`A/B popularity vs ALS: the true CTR lift (truth.json, population) is inside the reported 95 % interval in about 95 % of ${AB_SEEDS} seeds`, async () => {
    const f = await simFixture();
    const truth = Truth.ofParams(SIM_SYNTH, clickModel(K));
    const variants = [
      { name: 'popularity', lists: listsOf(f, f.popularity, K), policy: greedyPolicy },
      { name: 'als', lists: listsOf(f, f.als, K), policy: greedyPolicy },
    ];
    let covered = 0;
    let significant = 0;
    let trueLift = Number.NaN;
    for (let seed = 1; seed <= AB_SEEDS; seed++) {
      const experiment = experimentOf(seed, ['popularity', 'als']);
      const { logs, ground } = await simulateInMemory({ truth, variants, experiment, days: 2, usersPerDay: 1000, k: K, seed });
      trueLift = ground.lift.als.population as number;
      const ctr = ctrOf(abReport(experiment, logs, { metrics: ['ctr'] }));
      const [lo, hi] = ctr.lift_ci as [number, number];
      if (lo <= trueLift && trueLift <= hi) covered++;
      if (ctr.p_value < 0.05) significant++;
    }
    console.log(`A/B: true lift ${trueLift.toFixed(4)}, covered in ${covered} of ${AB_SEEDS} seeds, significant in ${significant}`);
    const [lo, hi] = binomialBand(AB_SEEDS, 0.95);
    expect(covered).toBeGreaterThanOrEqual(lo);
    expect(covered).toBeLessThanOrEqual(hi);
    // The lift is real and large: the test finds it in most seeds.
    expect(trueLift).toBeGreaterThan(0.3);
    expect(significant).toBeGreaterThan(AB_SEEDS / 2);
  });
});
