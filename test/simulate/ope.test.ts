import { describe, expect, it } from 'vitest';
import { attributeEvents } from '../../src/events/attribution.js';
import { parsePolicy } from '../../src/explore/parse.js';
import { estimateOffPolicy } from '../../src/ope/estimate.js';
import { simulateInMemory } from '../../src/simulate/precomputed.js';
import { clickModel, Truth } from '../../src/simulate/truth.js';
import { listsOf, SIM_SYNTH, simFixture } from './fixture.js';

const K = 5;

describe('off-policy evaluation on the simulator', () => {
  // ALS stands in for the ranker: the GBDT ranker's fit is too slow for a fast test (the benchmark has the same check).
  it('ALS’s CTR estimated from ε-greedy logs of popularity (IPS, SNIPS, DR, PBM): the true CTR of ALS on the logged users lies in each interval', async () => {
    const f = await simFixture();
    const truth = Truth.ofParams(SIM_SYNTH, clickModel(K));
    const logging = parsePolicy('epsilon-greedy:0.5:candidates', null);
    const variants = [{ name: 'all', lists: listsOf(f, f.popularity, logging.depth(K)), policy: logging }];
    const { logs } = await simulateInMemory({ truth, variants, experiment: null, days: 5, usersPerDay: 1000, k: K, seed: 4 });
    const als = listsOf(f, f.als, K);
    const target = (u: number): number[] => als.ranked(u).map((r) => r.item_id);
    // The truth: the target's expected clicks per request over the logged requests' users.
    let trueClicks = 0;
    for (const e of logs.exposures) trueClicks += truth.listClicks(e.user_id as number, target(e.user_id as number));
    const trueCtr = trueClicks / logs.exposures.length / K;
    const report = estimateOffPolicy(attributeEvents(logs.exposures, logs.events).exposures, target, { k: K, bootstrap: 200, seed: 1 });
    console.log(
      `true CTR ${trueCtr.toFixed(4)}; unsupported ${report.unsupportedShare.toFixed(3)}; θ ${report.positionCurve.map((t) => t.toFixed(3)).join(',')}`,
    );
    for (const e of report.estimates)
      console.log(
        `${e.estimator}: ${e.ctr.toFixed(4)} [${e.ctrInterval[0].toFixed(4)}, ${e.ctrInterval[1].toFixed(4)}] ESS ${e.effectiveSampleSize.toFixed(0)}`,
      );
    expect(report.requests).toBe(5000);
    expect(report.estimates.map((e) => e.estimator)).toEqual(['ips', 'snips', 'dr', 'pbm']);
    for (const e of report.estimates) {
      expect(e.ctrInterval[0]).toBeLessThanOrEqual(trueCtr);
      expect(e.ctrInterval[1]).toBeGreaterThanOrEqual(trueCtr);
    }
    // On 800 items popularity's top 100 plus exploration reach nearly every item ALS shows: no thin-support warning.
    expect(report.unsupportedShare).toBeLessThan(0.05);
    expect(report.warning).toBeNull();
  });
});
