import { describe, expect, it } from 'vitest';
import { listAccuracy } from '../../src/eval/metrics.js';
import { genreCosine, itemStats, listBeyondAccuracy } from '../../src/eval/beyond-accuracy.js';
import { IdMap } from '../../src/data/id-map.js';
import { csrFromCoo } from '../../src/matrix/csr.js';

describe('ranking metrics on hand-computed lists', () => {
  it('hits at ranks 1 and 3 of 5, three relevant items', () => {
    const m = listAccuracy([1, 0, 1, 0, 0], 5, 3);
    // DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3) + 1/log2(4)
    expect(m.ndcg).toBeCloseTo(1.5 / (1 + 1 / Math.log2(3) + 0.5), 12);
    expect(m.recall).toBeCloseTo(2 / 3, 12);
    expect(m.precision).toBeCloseTo(2 / 5, 12);
    // AP = (P@1 + P@3) / min(3, 5) = (1 + 2/3) / 3
    expect(m.ap).toBeCloseTo((1 + 2 / 3) / 3, 12);
    expect(m.rr).toBe(1);
    expect(m.hit).toBe(1);
  });

  it('more relevant items than K: IDCG and the AP denominator stop at K', () => {
    const m = listAccuracy([0, 1, 0, 0, 0], 5, 10);
    const idcg = 1 + 1 / Math.log2(3) + 1 / Math.log2(4) + 1 / Math.log2(5) + 1 / Math.log2(6);
    expect(m.ndcg).toBeCloseTo(1 / Math.log2(3) / idcg, 12);
    expect(m.recall).toBeCloseTo(1 / 10, 12);
    expect(m.ap).toBeCloseTo(0.5 / 5, 12);
    expect(m.rr).toBe(0.5);
  });

  it('a list shorter than K still divides precision by K; no hits gives zeros', () => {
    const short = listAccuracy([1], 10, 1);
    expect(short.precision).toBe(0.1);
    expect(short.ndcg).toBe(1);
    const none = listAccuracy([0, 0, 0], 3, 2);
    expect(none).toEqual({ ndcg: 0, recall: 0, precision: 0, ap: 0, rr: 0, hit: 0 });
  });

  it('a hit beyond K does not count at K', () => {
    const m = listAccuracy([0, 0, 1], 2, 1);
    expect(m.hit).toBe(0);
    expect(m.ndcg).toBe(0);
  });
});

describe('beyond-accuracy metrics', () => {
  // 3 users × 3 items: item 1 seen by all, items 2 and 3 by one user each.
  const users = new IdMap(Int32Array.from([1, 2, 3]));
  const items = new IdMap(Int32Array.from([1, 2, 3]));
  const seen = csrFromCoo(3, 3, Int32Array.from([0, 0, 1, 1, 2]), Int32Array.from([0, 1, 0, 2, 0]), null);
  const catalog = { itemId: Int32Array.from([1, 2, 3]), title: ['a', 'b', 'c'], genres: [['A'], ['A', 'B'], ['B']] };
  const stats = itemStats(seen, items, catalog);

  it('genre cosine: |A∩B| / sqrt(|A||B|)', () => {
    expect(genreCosine(stats, 0, 1)).toBeCloseTo(1 / Math.sqrt(2), 12);
    expect(genreCosine(stats, 0, 2)).toBe(0);
    expect(users.size).toBe(3);
  });

  it('diversity, novelty, ARP and APLT of the list [1, 2, 3]', () => {
    const m = listBeyondAccuracy(stats, Int32Array.from([0, 1, 2]), 0, 3);
    const d12 = 1 - 1 / Math.sqrt(2);
    expect(m.diversity).toBeCloseTo((d12 + 1 + d12) / 3, 12);
    // self-information: item 1 seen by 3/3 users → 0 bits; items 2, 3 by 1/3 → log2(3) bits
    expect(m.novelty).toBeCloseTo((2 * Math.log2(3)) / 3, 12);
    expect(m.arp).toBeCloseTo((1 + 1 / 3 + 1 / 3) / 3, 12);
    // short head = item 1 alone (3 of 5 interactions ≥ 20 %): two of three items are long-tail
    expect(m.aplt).toBeCloseTo(2 / 3, 12);
  });
});
