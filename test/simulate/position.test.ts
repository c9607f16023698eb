import { describe, expect, it } from 'vitest';
import { attributeEvents } from '../../src/events/attribution.js';
import { swapPolicy } from '../../src/explore/swap.js';
import { estimatePositionBias } from '../../src/ope/position-bias.js';
import { simulateInMemory } from '../../src/simulate/precomputed.js';
import { clickModel, Truth } from '../../src/simulate/truth.js';
import { listsOf, SIM_SYNTH, simFixture } from './fixture.js';

/**
 * The planted position curve recovered from simulated swap-exploration logs (20,000 requests,
 * swap probability 0.8 so each position gets as many first items as position 1). Swap estimates
 * were within 0.03 and EM's (relevance per item) within 0.06; the tolerance is 0.1. The swap
 * intervals cover the planted value; EM's need not, since the planted relevance is per (user,
 * item), not per item as the EM model assumes.
 */
const K = 5;
const TOLERANCE = 0.1;

describe('position bias on the simulator', () => {
  it(`randomised swaps and EM recover the planted θ_p = p^-0.7 within ${TOLERANCE}, swap inside its 95 % intervals`, async () => {
    const f = await simFixture();
    const truth = Truth.ofParams(SIM_SYNTH, clickModel(K));
    const variants = [{ name: 'all', lists: listsOf(f, f.als, K), policy: swapPolicy(0.8) }];
    const { logs } = await simulateInMemory({ truth, variants, experiment: null, days: 20, usersPerDay: 1000, k: K, seed: 7 });
    const attributed = attributeEvents(logs.exposures, logs.events).exposures;
    for (const method of ['swap', 'em'] as const) {
      const report = estimatePositionBias(attributed, { method, bootstrap: 100, seed: 1 });
      const summary = report.positions.map(
        (p) =>
          `${p.position}: ${p.theta?.toFixed(3)} [${p.low?.toFixed(3)}, ${p.high?.toFixed(3)}] planted ${truth.model.positions[p.position - 1].toFixed(3)}`,
      );
      console.log(method, summary.join('; '));
      expect(report.positions).toHaveLength(K);
      for (const p of report.positions) {
        const planted = truth.model.positions[p.position - 1];
        expect(Math.abs((p.theta as number) - planted)).toBeLessThan(TOLERANCE);
        if (method === 'swap' && p.position > 1) {
          expect(p.low as number).toBeLessThanOrEqual(planted);
          expect(p.high as number).toBeGreaterThanOrEqual(planted);
        }
      }
    }
  });
});
