import { describe, expect, it } from 'vitest';
import { buildTrainingData } from '../../src/data/training-data.js';
import { csrFromCoo, csrHas } from '../../src/matrix/csr.js';
import { popularityFactory } from '../../src/models/popularity/popularity.js';
import { CooccurrenceModel, cooccurrenceNeighbours } from '../../src/rank/channels/cooccurrence.js';
import { RecentPopularityModel } from '../../src/rank/channels/recent-popularity.js';
import { buildUserHistory, DAY_SECONDS } from '../../src/rank/history.js';
import { Rng } from '../../src/util/rng.js';
import { interactionsOf } from '../helpers.js';

describe('co-occurrence channel', () => {
  // u1: 10, 11, 12 in time order; u2: 10, 12. Dense items: 10 → 0, 11 → 1, 12 → 2.
  const data = buildTrainingData(
    interactionsOf([
      [1, 12, 4, 3],
      [1, 10, 4, 1],
      [1, 11, 4, 2],
      [2, 10, 4, 1],
      [2, 12, 4, 2],
    ]),
  );
  const history = buildUserHistory(data);

  it('orders each user history by time', () => {
    expect([...history.items.subarray(history.indptr[0], history.indptr[1])]).toEqual([0, 1, 2]);
    expect([...history.times.subarray(history.indptr[1], history.indptr[2])]).toEqual([1, 2]);
  });

  it('similarity is the windowed pair count over sqrt(n_i · n_j)', () => {
    // window 1: pairs (10,11), (11,12) from u1, (10,12) from u2; n = 2, 1, 2.
    const nb = cooccurrenceNeighbours(history, 3, { window: 1, neighbours: 10, recent: 5, decay: 1 });
    expect([...nb.indptr]).toEqual([0, 2, 4, 6]);
    expect([...nb.indices]).toEqual([1, 2, 0, 2, 0, 1]);
    const s = Math.SQRT1_2;
    [s, 0.5, s, s, 0.5, s].forEach((v, p) => expect(nb.data[p]).toBeCloseTo(v, 6));
    // window 2 adds u1's (10, 12): c = 2, sim = 2 / sqrt(2 · 2) = 1.
    const wide = cooccurrenceNeighbours(history, 3, { window: 2, neighbours: 10, recent: 5, decay: 1 });
    expect(wide.data[wide.indptr[0] + 1]).toBeCloseTo(1, 6);
    // one neighbour per item keeps the most similar (ties: lower index)
    const top1 = cooccurrenceNeighbours(history, 3, { window: 1, neighbours: 1, recent: 5, decay: 1 });
    expect([...top1.indices]).toEqual([1, 0, 1]);
  });

  it('scores candidates by decayed similarity to the recent history', () => {
    const params = { window: 1, neighbours: 10, recent: 2, decay: 0.5 };
    const model = new CooccurrenceModel(data.users, data.items, cooccurrenceNeighbours(history, 3, params), history, params);
    // u2's recent events: 12 (weight 1), 10 (weight 0.5).
    const all = model.recommend(Int32Array.of(1), 3, null);
    expect([...all.items]).toEqual([1, 0, 2]);
    expect(all.scores[0]).toBeCloseTo(Math.SQRT1_2 + 0.5 * Math.SQRT1_2, 6);
    expect(all.scores[1]).toBeCloseTo(0.5, 6);
    expect(all.scores[2]).toBeCloseTo(0.25, 6);
    const unseen = model.recommend(Int32Array.of(1), 3, data.matrix);
    expect([...unseen.items]).toEqual([1, -1, -1]);
    const sum = new Float32Array(2);
    const max = new Float32Array(2);
    model.strength(1, Int32Array.of(1, 0), sum, max);
    expect(sum[0]).toBeCloseTo(1.5 * Math.SQRT1_2, 6);
    expect(max[0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(max[1]).toBeCloseTo(0.5, 6);
  });
});

describe('recent-popularity channel', () => {
  const day = DAY_SECONDS;
  // Item 1 is popular around day 5, item 2 around day 100; item 3 has the most events overall.
  const rows: Array<[number, number, number, number]> = [
    [10, 1, 4, 5 * day],
    [11, 1, 4, 6 * day],
    [12, 1, 4, 7 * day],
    [13, 2, 4, 95 * day],
    [14, 2, 4, 96 * day],
    [15, 3, 4, 300 * day],
    [16, 3, 4, 301 * day],
    [17, 3, 4, 302 * day],
    [18, 3, 4, 303 * day],
    [20, 4, 4, 8 * day + 100], // user 20: last event day 8
    [21, 4, 4, 99 * day], // user 21: last event day 99
  ];
  const data = buildTrainingData(interactionsOf(rows));
  const history = buildUserHistory(data);
  const u20 = data.users.indexOf(20);
  const u21 = data.users.indexOf(21);

  it("counts events in the window ending at the day of the user's last event, then all-time popularity", () => {
    const model = new RecentPopularityModel(data.users, data.items, history, 30);
    const top = model.recommend(Int32Array.of(u20, u21), 3, data.matrix);
    const raw = (b: number): number[] => [...top.items.subarray(b * 3, b * 3 + 3)].map((i) => data.items.rawId(i));
    // u20's window (day −21, day 9]: item 1 ×3, item 4 ×1 (seen); then all-time: 3 (4 events), 2.
    expect(raw(0)).toEqual([1, 3, 2]);
    expect(top.scores[0]).toBeCloseTo(3 + 3 / 12, 6);
    expect(top.scores[1]).toBeCloseTo(4 / 12, 6);
    // u21's window (day 70, day 99]: item 2 ×2; then 3, 1.
    expect(raw(1)).toEqual([2, 3, 1]);
  });

  it('with a zero window it ranks like the popularity baseline', async () => {
    const model = new RecentPopularityModel(data.users, data.items, history, 0);
    const baseline = await popularityFactory.fit(data, {});
    const users = Int32Array.from({ length: data.users.size }, (_, u) => u);
    expect([...model.recommend(users, 4, data.matrix).items]).toEqual([...baseline.recommend(users, 4, data.matrix).items]);
    const exclude = csrFromCoo(data.users.size, data.items.size, Int32Array.of(0), Int32Array.of(data.items.indexOf(3)), null);
    expect([...model.recommend(users, 4, exclude).items]).toEqual([...baseline.recommend(users, 4, exclude).items]);
  });

  it('gives each user the counts of their own window whatever the order and batches of the users (the counted window slides)', () => {
    // 80 users over 400 days, 30 items: windows of 30 days overlap, jump back and forth.
    const rng = new Rng(7);
    const events: Array<[number, number, number, number]> = [];
    for (let u = 0; u < 80; u++) {
      const last = Math.floor(rng.next() * 400);
      for (let e = 0; e < 12; e++) events.push([u, Math.floor(rng.next() ** 2 * 30), 4, (last - Math.floor(rng.next() * 60)) * day + e]);
    }
    const many = buildTrainingData(interactionsOf(events));
    const h = buildUserHistory(many);
    const k = 6;
    const all = Int32Array.from({ length: many.users.size }, (_, u) => u);
    // Reference: each user's unseen items with an event in (end − 30 days, end], by count (then the lower index).
    for (const u of all) {
      const end = Math.ceil(h.times[h.indptr[u + 1] - 1] / day) * day;
      const counts = new Map<number, number>();
      for (let p = 0; p < h.items.length; p++)
        if (h.times[p] > end - 30 * day && h.times[p] <= end) counts.set(h.items[p], (counts.get(h.items[p]) ?? 0) + 1);
      const unseen = [...counts].filter(([i]) => !csrHas(many.matrix, u, i));
      unseen.sort(([i, a], [j, b]) => b - a || i - j);
      const top = new RecentPopularityModel(many.users, many.items, h, 30).recommend(Int32Array.of(u), k, many.matrix);
      const windowPart = [...top.items].slice(0, Math.min(k, unseen.length));
      // Items of equal count may swap by all-time share (the tie-break); the counts must agree.
      expect(windowPart.map((i) => counts.get(i))).toEqual(unseen.slice(0, windowPart.length).map(([, c]) => c));
    }
    const oneBatch = new RecentPopularityModel(many.users, many.items, h, 30).recommend(all, k, many.matrix);
    const reversed = new RecentPopularityModel(many.users, many.items, h, 30);
    const backwards = [...all].reverse();
    const inSevens: number[] = [];
    for (let b = 0; b < backwards.length; b += 7) {
      const part = Int32Array.from(backwards.slice(b, b + 7));
      inSevens.push(...reversed.recommend(part, k, many.matrix).items);
    }
    const byUser = (items: number[], order: number[]): Map<number, number[]> =>
      new Map(order.map((u, b) => [u, items.slice(b * k, (b + 1) * k)]));
    expect(byUser(inSevens, backwards)).toEqual(byUser([...oneBatch.items], [...all]));
    // One model asked one user at a time in a shuffled order: its window moves back and forth.
    const shuffled = new RecentPopularityModel(many.users, many.items, h, 30);
    const order = [...all].sort(() => rng.next() - 0.5);
    for (const u of order) {
      const alone = new RecentPopularityModel(many.users, many.items, h, 30).recommend(Int32Array.of(u), k, many.matrix);
      expect([...alone.items]).toEqual([...oneBatch.items.subarray(u * k, (u + 1) * k)]);
      expect([...shuffled.recommend(Int32Array.of(u), k, many.matrix).items]).toEqual([...alone.items]);
    }
  });

  it('a user who has seen more of the window than the cached ranking holds still gets window counts', () => {
    // One day; crowd user c (1..400) has events on items 0 .. c−1, so item i has 400 − i events.
    // User 1000 has also seen items 0..299: more than the k + 256 best the channel caches.
    const t = 50 * day;
    const crowd: Array<[number, number, number, number]> = [];
    for (let c = 1; c <= 400; c++) for (let i = 0; i < c; i++) crowd.push([c, i, 4, t]);
    for (let i = 0; i < 300; i++) crowd.push([1000, i, 4, t]);
    const big = buildTrainingData(interactionsOf(crowd));
    const model = new RecentPopularityModel(big.users, big.items, buildUserHistory(big), 30);
    const u = Int32Array.of(big.users.indexOf(1000), big.users.indexOf(400));
    const top = model.recommend(u, 10, big.matrix);
    // Unseen by user 1000: items 300..309 with 100..91 window events (+ all-time share < 1).
    expect([...top.items.subarray(0, 10)].map((i) => big.items.rawId(i))).toEqual([300, 301, 302, 303, 304, 305, 306, 307, 308, 309]);
    expect(Math.floor(top.scores[0])).toBe(100);
    expect(Math.floor(top.scores[9])).toBe(91);
    // User 400 has seen every item: nothing to recommend.
    expect([...top.items.subarray(10)]).toEqual(new Array(10).fill(-1));
  });
});
