import { describe, expect, it } from 'vitest';
import type { AttributedExposure } from '../../src/events/attribution.js';
import { swapPolicy } from '../../src/explore/swap.js';
import { estimatePositionBias, type PositionBiasReport } from '../../src/ope/position-bias.js';
import { Rng } from '../../src/util/rng.js';
import { exposureRecord } from '../events/log-records.js';
import { asPlaced, ClickLog, PLANTED_THETA, randomItems } from './click-logs.js';

const K = PLANTED_THETA.length;
const TOLERANCE = 0.03;

/** Per-item relevances planted uniformly in [0.1, 0.7). */
function plantedRelevance(nItems: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: nItems }, () => 0.1 + 0.6 * rng.next());
}

function expectRecovered(report: PositionBiasReport): void {
  expect(report.positions.map((p) => p.position)).toEqual(PLANTED_THETA.map((_, j) => j + 1));
  const errors = report.positions.map((p, j) => Math.abs((p.theta ?? Number.NaN) - PLANTED_THETA[j]));
  expect(Math.max(...errors)).toBeLessThan(TOLERANCE);
  // Seeded, so this is one draw of 9 intervals: most (not necessarily all) cover the planted value.
  const covered = report.positions.filter((p, j) => (p.low ?? Infinity) <= PLANTED_THETA[j] && PLANTED_THETA[j] <= (p.high ?? -Infinity));
  expect(covered.length).toBeGreaterThanOrEqual(K - 2);
  expect(report.positions[0]).toMatchObject({ theta: 1, low: 1, high: 1 });
}

/** A hand-made exposure whose items 0..n-1 are shown at positions 1..n, with the given clicks. */
function exposure(i: number, items: number[], clicks: number[], policy = 'greedy', channels?: string[]): AttributedExposure {
  const record = exposureRecord({
    request_id: `r${i}`,
    time: i,
    policy,
    items: items.map((item_id, j) => ({ item_id, position: j + 1, score: 0, channel: channels?.[j] ?? 'als', propensity: 1 })),
  });
  return { exposure: record, positive: Uint8Array.from(clicks) };
}

describe('estimatePositionBias (swap)', () => {
  it('is the click-rate ratio of the first item, worked by hand', () => {
    // Unswapped: the first item clicked in 2 of 4; swapped to position 3: clicked in 1 of 4 → θ_3 = 0.25 / 0.5.
    const logs = [
      ...[1, 1, 0, 0].map((c, i) => exposure(i, [7, 8, 9], [c, 0, 0], 'swap:0.5')),
      ...[1, 0, 0, 0].map((c, i) => exposure(4 + i, [9, 8, 7], [0, 1, c], 'swap:0.5', ['swap', 'als', 'swap'])),
      exposure(8, [1, 2, 3], [1, 1, 1]), // not a swap exposure: ignored
    ];
    const report = estimatePositionBias(logs, { method: 'swap', bootstrap: 0 });
    expect(report.exposures).toBe(8);
    expect(report.positions).toEqual([
      { position: 1, theta: 1, low: null, high: null, observations: 4, clicks: 2 },
      { position: 2, theta: null, low: null, high: null, observations: 0, clicks: 0 },
      { position: 3, theta: 0.5, low: null, high: null, observations: 4, clicks: 1 },
    ]);
    expect(report.warnings).toEqual(['position 2: θ not identified (0 observations)']);
  });

  it(`recovers the planted curve within ${TOLERANCE} from 60k swap requests (q = 0.9)`, () => {
    const relevance = plantedRelevance(300, 1);
    const rng = new Rng(2);
    const log = new ClickLog(PLANTED_THETA, (_, item) => relevance[item], rng);
    const policy = swapPolicy(0.9);
    for (let r = 0; r < 60_000; r++) {
      // A personalised ranking: random candidates in the order of a noisy relevance.
      const candidates = randomItems(rng, relevance.length, K).map((item_id) => ({
        item_id,
        score: relevance[item_id] + 0.2 * rng.normal(),
        channel: 'als',
      }));
      candidates.sort((a, b) => b.score - a.score);
      log.show(r % 500, policy.place(candidates, { k: K, userId: r % 500, random: () => rng.next() }), policy.name);
    }
    const report = estimatePositionBias(log.attributed(), { method: 'swap', bootstrap: 100, seed: 3 });
    expect(report.exposures).toBe(60_000);
    expectRecovered(report);
    // About (1 − q) of the requests keep the first item at 1, q / 9 move it to each other position.
    expect(report.positions[0].observations / 60_000).toBeCloseTo(0.1, 1);
  });

  it('says when the logs hold no swap exposure', () => {
    expect(() => estimatePositionBias([exposure(0, [1, 2], [1, 0])], { method: 'swap' })).toThrow(/no exposure of a swap policy/);
  });
});

describe('estimatePositionBias (em)', () => {
  it('finds the exact curve of counts a position-based model fits exactly (worked by hand)', () => {
    // Item 1 shown 100 times at each of positions 1, 2 (CTR 0.5, 0.25), item 2 likewise (0.2, 0.1):
    // θ_2 / θ_1 = 0.25 / 0.5 = 0.1 / 0.2 = 0.5 fits every cell, so it is the maximum likelihood.
    const logs: AttributedExposure[] = [];
    for (let r = 0; r < 100; r++)
      logs.push(exposure(r, [1, 2], [r < 50 ? 1 : 0, r < 10 ? 1 : 0]), exposure(100 + r, [2, 1], [r < 20 ? 1 : 0, r < 25 ? 1 : 0]));
    const report = estimatePositionBias(logs, { method: 'em', bootstrap: 0, tolerance: 1e-12 });
    expect(report.positions[1].theta).toBeCloseTo(0.5, 6);
    expect(report.positions.map((p) => [p.observations, p.clicks])).toEqual([
      [200, 70],
      [200, 35],
    ]);
    expect(report.em).toMatchObject({ relevance: 'item', keys: 2, converged: true });
  });

  it(`recovers the planted curve within ${TOLERANCE} from 200k impressions of a uniformly random logging policy`, () => {
    const relevance = plantedRelevance(300, 4);
    const rng = new Rng(5);
    const log = new ClickLog(PLANTED_THETA, (_, item) => relevance[item], rng);
    for (let r = 0; r < 20_000; r++) log.show(r % 500, asPlaced(randomItems(rng, 300, K), K / 300 / K), 'uniform');
    const report = estimatePositionBias(log.attributed(), { method: 'em', bootstrap: 30, seed: 6 });
    expect(report.em).toMatchObject({ keys: 300, converged: true });
    expect(report.positions.every((p) => p.observations === 20_000)).toBe(true);
    expectRecovered(report);
  });

  it('recovers the curve with a relevance per (user, item) pair', () => {
    const rng = new Rng(8);
    const relevance = plantedRelevance(40 * 20, 7);
    const log = new ClickLog(PLANTED_THETA, (user, item) => relevance[user * 20 + item], rng);
    for (let r = 0; r < 20_000; r++) log.show(r % 40, asPlaced(randomItems(rng, 20, K), 0.05), 'uniform');
    const report = estimatePositionBias(log.attributed(), { method: 'em', relevance: 'user-item', bootstrap: 0 });
    expect(report.em).toMatchObject({ relevance: 'user-item', keys: 800, converged: true });
    const errors = report.positions.map((p, j) => Math.abs((p.theta ?? Number.NaN) - PLANTED_THETA[j]));
    expect(Math.max(...errors)).toBeLessThan(TOLERANCE);
  });

  it('cannot identify θ from logs where every item keeps its position', () => {
    const rng = new Rng(9);
    const log = new ClickLog(PLANTED_THETA, () => 0.5, rng);
    for (let r = 0; r < 1000; r++) log.show(r, asPlaced([0, 1, 2, 3, 4], 1), 'greedy');
    expect(() => estimatePositionBias(log.attributed(), { method: 'em' })).toThrow(/cannot identify θ/);
  });

  it('leaves unidentified the positions no item links to position 1', () => {
    // Items 0-4 shuffled over positions 1-5, items 5-9 over 6-10: nothing ties 6-10 to 1.
    const rng = new Rng(10);
    const log = new ClickLog(PLANTED_THETA, () => 0.5, rng);
    for (let r = 0; r < 2000; r++) log.show(r, asPlaced([...randomItems(rng, 5, 5), ...randomItems(rng, 5, 5).map((i) => i + 5)], 1), 'x');
    const report = estimatePositionBias(log.attributed(), { method: 'em', bootstrap: 10 });
    expect(report.positions.map((p) => p.theta !== null)).toEqual([true, true, true, true, true, false, false, false, false, false]);
    expect(report.positions.slice(5).every((p) => p.low === null && p.observations === 2000)).toBe(true);
    expect(report.warnings).toHaveLength(5);
    expect(report.warnings[0]).toMatch(/^position 6: θ not identified \(2000 observations, no item linking it to position 1\)$/);
  });
});
