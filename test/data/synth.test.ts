import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDataset } from '../../src/data/dataset.js';
import type { Interactions } from '../../src/data/interactions.js';
import { generateSynthetic, synthesizeDataset, SYNTH_DEFAULTS, type SyntheticData } from '../../src/data/synth.js';
import { allocateActivity } from '../../src/data/synth/activity.js';
import { MOVIELENS_GENRES, NO_GENRES } from '../../src/data/synth/genres.js';
import { HALF_STARS_FROM } from '../../src/data/synth/ratings.js';
import { InputError } from '../../src/util/errors.js';

const SMALL = { users: 2000, items: 500, interactions: 100_000, seed: 1 };

/**
 * Hit rate at 10 on each user's last event, trained on the rest, for global popularity and for
 * an item-kNN (cosine of co-occurrence counts, summed over the user's history), both written
 * here from scratch and independent of the generator.
 */
function holdoutHitRates(x: Interactions, users: number, items: number): { popularity: number; knn: number } {
  const last = new Int32Array(users + 1).fill(-1);
  for (let r = 0; r < x.userId.length; r++) last[x.userId[r]] = r; // rows are in time order per user
  const history: number[][] = Array.from({ length: users + 1 }, () => []);
  const count = new Float64Array(items + 1);
  for (let r = 0; r < x.userId.length; r++) {
    if (last[x.userId[r]] === r) continue;
    history[x.userId[r]].push(x.itemId[r]);
    count[x.itemId[r]]++;
  }
  const co = new Float64Array((items + 1) * (items + 1));
  for (const h of history) for (const a of h) for (const b of h) if (a !== b) co[a * (items + 1) + b]++;
  const byPopularity = Array.from({ length: items }, (_, i) => i + 1).sort((a, b) => count[b] - count[a] || a - b);
  let hitsPopularity = 0;
  let hitsKnn = 0;
  let evaluated = 0;
  for (let u = 1; u <= users; u++) {
    if (last[u] < 0 || history[u].length === 0) continue;
    evaluated++;
    const target = x.itemId[last[u]];
    const seen = new Set(history[u]);
    if (
      byPopularity
        .filter((i) => !seen.has(i))
        .slice(0, 10)
        .includes(target)
    )
      hitsPopularity++;
    const score = new Float64Array(items + 1);
    for (const a of history[u]) {
      for (let b = 1; b <= items; b++) {
        const c = co[a * (items + 1) + b];
        if (c > 0) score[b] += c / Math.sqrt(count[a] * count[b]);
      }
    }
    const ranked = byPopularity.filter((i) => !seen.has(i)).sort((a, b) => score[b] - score[a]);
    if (ranked.slice(0, 10).includes(target)) hitsKnn++;
  }
  return { popularity: hitsPopularity / evaluated, knn: hitsKnn / evaluated };
}

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] / n;
    mb += b[i] / n;
  }
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

function perKeyCounts(ids: Int32Array, size: number): number[] {
  const counts = new Array<number>(size).fill(0);
  for (const id of ids) counts[id - 1]++;
  return counts.sort((a, b) => b - a);
}

describe('synthetic MovieLens-shaped data', () => {
  const data: SyntheticData = generateSynthetic(SMALL);
  const x = data.interactions;

  it('has exactly the requested rows, ids in range, no repeated (user, item), time order per user', () => {
    expect(x.userId.length).toBe(SMALL.interactions);
    const pairs = new Set<number>();
    const t0 = Date.UTC(1995, 0, 1) / 1000;
    const t1 = Date.UTC(2020, 0, 1) / 1000;
    const bad: number[] = []; // rows breaking a rule (one expect at the end keeps this fast)
    for (let r = 0; r < x.userId.length; r++) {
      const u = x.userId[r];
      const i = x.itemId[r];
      pairs.add(u * 1000 + i);
      const inRange = u >= 1 && u <= SMALL.users && i >= 1 && i <= SMALL.items && x.timestamp[r] >= t0 && x.timestamp[r] < t1;
      const ordered = r === 0 || u > x.userId[r - 1] || (u === x.userId[r - 1] && x.timestamp[r] >= x.timestamp[r - 1]);
      if (!inRange || !ordered) bad.push(r);
    }
    expect(bad).toEqual([]);
    expect(pairs.size).toBe(SMALL.interactions);
  });

  it('has MovieLens-like ratings: half stars only from 2003, mean near 3.5, rising with the planted affinity', () => {
    let sum = 0;
    const bad: number[] = [];
    for (let r = 0; r < x.rating.length; r++) {
      const v = x.rating[r];
      const onScale = v * 2 === Math.round(v * 2) && v >= 0.5 && v <= 5;
      const wholeIfEarly = x.timestamp[r] >= HALF_STARS_FROM || (Number.isInteger(v) && v >= 1);
      if (!onScale || !wholeIfEarly) bad.push(r);
      sum += v;
    }
    expect(bad).toEqual([]);
    expect(sum / x.rating.length).toBeGreaterThan(3.3);
    expect(sum / x.rating.length).toBeLessThan(3.8);
    expect(pearson(x.rating, data.affinity)).toBeGreaterThan(0.3);
  });

  it('has long-tailed user activity (20 at least, as MovieLens) and item popularity', () => {
    const activity = perKeyCounts(x.userId, SMALL.users);
    expect(activity[activity.length - 1]).toBe(20);
    expect(activity[0]).toBe(250); // the cap: half the catalogue
    expect(activity[0] / activity[SMALL.users / 2]).toBeGreaterThan(4);
    const popularity = perKeyCounts(x.itemId, SMALL.items);
    const top10Percent = popularity.slice(0, SMALL.items / 10).reduce((a, b) => a + b, 0);
    expect(top10Percent / SMALL.interactions).toBeGreaterThan(0.25);
    expect(popularity[0] / popularity[SMALL.items / 2]).toBeGreaterThan(5);
  });

  it('plants structure a collaborative model finds: item-kNN beats popularity on held-out last events', () => {
    const planted = holdoutHitRates(x, SMALL.users, SMALL.items);
    // Control: without taste, choices follow popularity (and release dates) only.
    const control = generateSynthetic({ ...SMALL, tasteStrength: 0 }).interactions;
    const none = holdoutHitRates(control, SMALL.users, SMALL.items);
    expect(planted.knn).toBeGreaterThan(1.5 * planted.popularity);
    expect(planted.knn / planted.popularity).toBeGreaterThan(none.knn / none.popularity + 0.4);
  });

  it('drifts tastes: early choices follow the start taste, late ones the end taste', () => {
    // Drift completes within a week here, so most histories cover it.
    const driftYears = 1 / 52;
    const data = generateSynthetic({ ...SMALL, interactions: 60_000, driftYears, drift: 0.7 });
    const { dim, items, tasteStart, tasteEnd } = data.planted;
    const y = data.interactions;
    // Affinity relative to the catalogue's mean item, so different tastes compare fairly.
    const meanItem = new Float64Array(dim);
    for (let k = 0; k < items.length; k++) meanItem[k % dim] += items[k] / (items.length / dim);
    const affinity = (taste: Float32Array, r: number): number => {
      let s = 0;
      for (let j = 0; j < dim; j++) s += taste[(y.userId[r] - 1) * dim + j] * (items[(y.itemId[r] - 1) * dim + j] - meanItem[j]);
      return s;
    };
    // Mean of (end taste · item) - (start taste · item) over each user's events in the first
    // tenth of the drift period after their first event, and over those after a full period.
    const period = driftYears * 365.25 * 86_400;
    let early = 0;
    let late = 0;
    let earlyRows = 0;
    let lateRows = 0;
    for (let start = 0; start < y.userId.length; ) {
      let end = start;
      while (end < y.userId.length && y.userId[end] === y.userId[start]) end++;
      for (let r = start; r < end; r++) {
        const elapsed = y.timestamp[r] - y.timestamp[start];
        const shift = affinity(tasteEnd, r) - affinity(tasteStart, r);
        if (elapsed < period / 10) {
          early += shift;
          earlyRows++;
        } else if (elapsed > period) {
          late += shift;
          lateRows++;
        }
      }
      start = end;
    }
    expect(Math.min(earlyRows, lateRows)).toBeGreaterThan(5000);
    expect(early / earlyRows).toBeLessThan(-0.05);
    expect(late / lateRows).toBeGreaterThan(0.05);
  });

  it('is deterministic for a seed', () => {
    const again = generateSynthetic(SMALL).interactions;
    expect(Buffer.from(again.itemId.buffer).equals(Buffer.from(x.itemId.buffer))).toBe(true);
    expect(Buffer.from(again.rating.buffer).equals(Buffer.from(x.rating.buffer))).toBe(true);
    expect(Buffer.from(again.timestamp.buffer).equals(Buffer.from(x.timestamp.buffer))).toBe(true);
    const other = generateSynthetic({ ...SMALL, seed: 2 }).interactions;
    expect(Buffer.from(other.itemId.buffer).equals(Buffer.from(x.itemId.buffer))).toBe(false);
  });

  it('writes a dataset directory that loads back with titles, genres and its parameters', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'recsys-synth-')), 'ds');
    const params = { users: 300, items: 200, interactions: 9000, seed: 5 };
    const meta = await synthesizeDataset(out, params);
    expect(meta.counts.interactions).toBe(9000);
    expect(meta.counts.users).toBe(300);
    expect(meta.counts.catalog_items).toBe(200);
    expect(meta.source.kind).toBe('synth');
    expect(meta.source.params).toMatchObject({ ...params, dim: SYNTH_DEFAULTS.dim, tasteStrength: SYNTH_DEFAULTS.tasteStrength });
    const ds = await loadDataset(out);
    const expected = generateSynthetic(params).interactions;
    expect(Array.from(ds.interactions.itemId)).toEqual(Array.from(expected.itemId));
    expect(Array.from(ds.interactions.rating)).toEqual(Array.from(expected.rating));
    expect(Array.from(ds.interactions.timestamp)).toEqual(Array.from(expected.timestamp));
    const catalog = ds.catalog!;
    expect(catalog.itemId.length).toBe(200);
    const vocabulary = new Set([...MOVIELENS_GENRES.map((g) => g.name), NO_GENRES]);
    catalog.title.forEach((title, k) => {
      expect(title).toMatch(new RegExp(`^Synthetic Movie ${catalog.itemId[k]} \\((19|20)\\d\\d\\)$`));
      expect(catalog.genres[k].length).toBeGreaterThan(0);
      for (const g of catalog.genres[k]) expect(vocabulary.has(g)).toBe(true);
    });
  });

  it('rejects parameters it cannot honour, naming the field', () => {
    expect(() => generateSynthetic({ ...SMALL, users: 0 })).toThrow(InputError);
    expect(() => generateSynthetic({ ...SMALL, drift: 2 })).toThrow(/drift must be a number in 0\.\.1, got 2/);
    expect(() => generateSynthetic({ users: 10, items: 10, interactions: 60, seed: 1 })).toThrow(/at most 5 items/);
  });
});

describe('allocateActivity', () => {
  it('splits exactly in proportion to the weights above the floor', () => {
    expect(Array.from(allocateActivity(Float64Array.from([1, 2, 3, 4]), 100, 0, 100))).toEqual([10, 20, 30, 40]);
    expect(Array.from(allocateActivity(Float64Array.from([1, 2, 3, 4]), 140, 10, 100))).toEqual([20, 30, 40, 50]);
  });

  it('caps heavy users and gives the rest to the others, rounding by largest remainder', () => {
    expect(Array.from(allocateActivity(Float64Array.from([1, 1, 100]), 30, 0, 12))).toEqual([9, 9, 12]);
    const counts = allocateActivity(Float64Array.from([1, 1, 1]), 10, 0, 10);
    expect(Array.from(counts)).toEqual([4, 3, 3]);
  });
});
