import { describe, expect, it } from 'vitest';
import { attributeEvents } from '../../src/events/attribution.js';
import type { ExposureRecord, UserEventRecord } from '../../src/events/records.js';
import { epsilonGreedyPolicy } from '../../src/explore/epsilon-greedy.js';
import type { RankedItem } from '../../src/explore/policy.js';
import { fitPositionBasedModel } from '../../src/ope/click-model.js';
import { effectiveSampleSize, estimateOffPolicy } from '../../src/ope/estimate.js';
import { estimatePositionBias } from '../../src/ope/position-bias.js';
import { Rng } from '../../src/util/rng.js';
import { event, exposureRecord, shownItems } from '../events/log-records.js';

const K = 5;
const ITEMS = 40;
const USERS = 100;
/** The planted click model: examination by position and attraction by item. */
const THETA = [1, 0.6, 0.4, 0.3, 0.25];
const rel = (item: number): number => 0.05 + (0.5 * ((item * 7) % ITEMS)) / ITEMS;

function exposure(request: number, user: number, policy: string, items: ExposureRecord['items']): ExposureRecord {
  return exposureRecord({ request_id: `r${request}`, time: request, user_id: user, policy, items });
}

/**
 * Logs of `requests` answers by ε-greedy over a ranked list of 5 "greedy" items (ids 100..104)
 * then the 40 catalogue items, clicked by the planted model; returns them attributed.
 */
function simulateLogs(seed: number, requests: number, epsilon: number) {
  const rng = new Rng(seed);
  const random = (): number => rng.next();
  const ranked: RankedItem[] = [...Array.from({ length: K }, (_, p) => 100 + p), ...Array.from({ length: ITEMS }, (_, a) => a)].map(
    (item_id, r) => ({
      item_id,
      score: -r,
      channel: 'als',
    }),
  );
  const policy = epsilonGreedyPolicy(epsilon, 'candidates', null);
  const exposures: ExposureRecord[] = [];
  const events: UserEventRecord[] = [];
  for (let r = 0; r < requests; r++) {
    const user = r % USERS;
    const placed = policy.place(ranked, { k: K, userId: user, random });
    exposures.push(
      exposure(
        r,
        user,
        policy.name,
        placed.map((item, p) => ({ ...item, position: p + 1 })),
      ),
    );
    placed.forEach((item, p) => {
      const attraction = item.item_id >= 100 ? 0.3 : rel(item.item_id);
      if (rng.next() < THETA[p] * attraction)
        events.push({ kind: 'event', user_id: user, item_id: item.item_id, type: 'click', request_id: `r${r}`, time: r });
    });
  }
  return attributeEvents(exposures, events).exposures;
}

/** The target: for each user a fixed list of 5 catalogue items. */
const target = (user: number): number[] => Array.from({ length: K }, (_, p) => (user * 3 + p * 11) % ITEMS);

/** The target's true expected clicks per request, worked from the planted model: mean over the logged users of Σ_p θ_p rel(t_p). */
function trueValue(requests: number): number {
  let total = 0;
  for (let r = 0; r < requests; r++) total += target(r % USERS).reduce((s, item, p) => s + THETA[p] * rel(item), 0);
  return total / requests;
}

describe('off-policy estimates', () => {
  it('find the target’s true clicks per request inside their 99 % intervals, from uniform and ε-greedy logs', () => {
    const requests = 20_000;
    const truth = trueValue(requests);
    for (const [seed, epsilon] of [
      [1, 1],
      [3, 0.8],
    ]) {
      const report = estimateOffPolicy(simulateLogs(seed, requests, epsilon), target, { k: K, bootstrap: 100, seed, level: 0.99 });
      expect(report.requests).toBe(requests);
      expect(report.warning).toBeNull();
      for (const e of report.estimates) {
        const label = `seed ${seed} ${e.estimator}: ${e.value.toFixed(4)} in [${e.interval[0].toFixed(4)}, ${e.interval[1].toFixed(4)}], truth ${truth.toFixed(4)}`;
        expect(e.interval[0], label).toBeLessThanOrEqual(truth);
        expect(e.interval[1], label).toBeGreaterThanOrEqual(truth);
        // Informative: the interval is narrower than a third of the value.
        expect(e.interval[1] - e.interval[0], label).toBeLessThan(truth / 3);
        expect(e.ctr).toBeCloseTo(e.value / K, 12);
      }
      // The position-based estimator uses clicks at every logged position: a larger effective sample than item-position IPS.
      const ess = Object.fromEntries(report.estimates.map((e) => [e.estimator, e.effectiveSampleSize]));
      expect(ess.pbm).toBeGreaterThan(ess.ips);
      // The fitted position curve recovers θ_p / θ_1 roughly.
      report.positionCurve.forEach((t, p) => expect(Math.abs(t - THETA[p] / THETA[0]), `θ_${p + 1}`).toBeLessThan(0.1));
    }
  });

  it('match a hand computation of IPS, SNIPS and the effective sample size on three records', () => {
    // One position. Request 1: A (id 1) shown with propensity 0.5, clicked, target A → w = 2, w·c = 2.
    // Request 2: B shown (0.5), not clicked, target C → w = 0. Request 3: D shown (0.25), not clicked, target D → w = 4.
    const shown = (r: number, user: number, item: number, propensity: number) =>
      exposure(r, user, 'logging', [{ item_id: item, position: 1, score: 0, channel: 'als', propensity }]);
    const logs = [
      { exposure: shown(1, 1, 1, 0.5), positive: Uint8Array.of(1) },
      { exposure: shown(2, 2, 2, 0.5), positive: Uint8Array.of(0) },
      { exposure: shown(3, 3, 4, 0.25), positive: Uint8Array.of(0) },
    ];
    const targets: Record<number, number[]> = { 1: [1], 2: [3], 3: [4] };
    const all = estimateOffPolicy(logs, (u) => targets[u], { k: 1, estimators: ['ips', 'snips'], bootstrap: 0 });
    const [ips, snips] = all.estimates;
    expect(ips.value).toBeCloseTo(2 / 3, 12); // (2 + 0 + 0) / 3
    expect(snips.value).toBeCloseTo(2 / 6, 12); // Σ w·c / Σ w = 2 / (2 + 0 + 4)
    expect(ips.effectiveSampleSize).toBeCloseTo(36 / 20, 12); // (2 + 0 + 4)² / (4 + 0 + 16)
    // The first two records alone: the weights average (2 + 0) / 2 = 1, and SNIPS is IPS.
    const two = estimateOffPolicy(logs.slice(0, 2), (u) => targets[u], { k: 1, estimators: ['ips', 'snips'], bootstrap: 0 });
    expect(two.estimates[0].value).toBeCloseTo(1, 12);
    expect(two.estimates[1].value).toBeCloseTo(1, 12);
    expect(effectiveSampleSize([1, 1, 1])).toBe(3);
    // User 2's target item C was never shown: 1 of 3 target slots is unsupported.
    expect(all.unsupportedShare).toBeCloseTo(1 / 3, 12);
    expect(all.unshownToUserShare).toBeCloseTo(1 / 3, 12);
    expect(all.warning).toContain('33.3 %');
  });

  it('warn about thin support when the target ranks items the logs never showed', () => {
    const logs = simulateLogs(4, 2000, 1);
    const report = estimateOffPolicy(logs, (user) => [...target(user).slice(0, 3), 1000 + user, 2000 + user], { k: K, bootstrap: 20 });
    // 2 of the 5 slots are never-shown items; a few of the other 3 were not shown to every user in 2000 requests.
    expect(report.unsupportedShare).toBeCloseTo(2 / 5, 12);
    expect(report.unshownToUserShare).toBeGreaterThan(2 / 5);
    expect(report.unshownToUserShare).toBeLessThan(0.45);
    expect(report.warning).toMatch(/^thin support: 40\.0 % of the target's slots show an item the logs never showed \(above 5 %\)/);
  });

  it('fit a position-based model whose clicks match the planted θ·γ', () => {
    const model = fitPositionBasedModel(simulateLogs(5, 20_000, 1), K);
    const scale = model.examination[0];
    for (const item of [0, 7, 20, 39]) {
      const gamma = model.attraction.get(item) ?? 0;
      for (let p = 0; p < K; p++)
        expect(Math.abs(model.examination[p] * gamma - THETA[p] * rel(item)), `item ${item} at ${p + 1}`).toBeLessThan(0.05);
    }
    expect(scale).toBeGreaterThan(0);
  });

  it('fit the same model as recsys positions --method em, flagging an unidentified θ where positions stops', () => {
    const logs = simulateLogs(6, 2000, 1);
    const model = fitPositionBasedModel(logs, K);
    const positions = estimatePositionBias(logs, { method: 'em', bootstrap: 0, maxPosition: K });
    expect(positions.positions.map((p) => p.theta)).toEqual([...model.examination].map((t) => t / model.examination[0]));
    expect(model.identified).toEqual([true, true, true, true, true]);
    // A deterministic list: no item links position 2 to position 1, and nothing was shown at 3..K.
    const fixed = attributeEvents(
      [exposure(0, 1, 'greedy', shownItems([1, 2])), exposure(1, 2, 'greedy', shownItems([1, 2]))],
      [event(1, 1, 'click', 1, 'r0')],
    ).exposures;
    const unidentified = fitPositionBasedModel(fixed, K);
    expect(unidentified.identified).toEqual([true, false, false, false, false]);
    expect([...unidentified.examination].slice(2)).toEqual([0, 0, 0]);
    expect(() => estimatePositionBias(fixed, { method: 'em', bootstrap: 0 })).toThrow(/cannot identify θ/);
  });
});
