import { describe, expect, it } from 'vitest';
import { IdMap } from '../../src/data/id-map.js';
import { genreCosine, itemStats, listBeyondAccuracy, type ItemStats } from '../../src/eval/beyond-accuracy.js';
import { evaluateTargets } from '../../src/eval/evaluate.js';
import { buildTargets } from '../../src/eval/protocol.js';
import { csrFromCoo } from '../../src/matrix/csr.js';
import { Rng } from '../../src/util/rng.js';
import { interactionsOf } from '../helpers.js';

/** The definition: mean over pairs of 1 − cos(genres_a, genres_b), in O(k²). */
function naiveDiversity(stats: ItemStats, list: Int32Array): number {
  let sum = 0;
  let pairs = 0;
  for (let a = 0; a < list.length; a++) {
    for (let b = a + 1; b < list.length; b++) {
      sum += 1 - genreCosine(stats, list[a], list[b]);
      pairs++;
    }
  }
  return pairs > 0 ? sum / pairs : 0;
}

/** `nItems` items with 0 to 4 of 12 genres each; some items are missing from the catalogue. */
function randomStats(rng: Rng, nItems: number): ItemStats {
  const ids = Int32Array.from({ length: nItems }, (_, i) => i + 1);
  const inCatalog = [...ids].filter(() => rng.nextUint32() % 10 !== 0);
  const genres = inCatalog.map(() => {
    const n = rng.nextUint32() % 5;
    return [...new Set(Array.from({ length: n }, () => `g${rng.nextUint32() % 12}`))];
  });
  const seen = csrFromCoo(1, nItems, new Int32Array(0), new Int32Array(0), null);
  return itemStats(seen, new IdMap(ids), { itemId: Int32Array.from(inCatalog), title: inCatalog.map(String), genres });
}

function randomList(rng: Rng, nItems: number, k: number): Int32Array {
  const order = Int32Array.from({ length: nItems }, (_, i) => i);
  for (let i = nItems - 1; i > 0; i--) {
    const j = rng.nextUint32() % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.subarray(0, k);
}

describe('intra-list diversity', () => {
  it('equals the pairwise O(k²) formula on random genres and lists', () => {
    const rng = new Rng(7);
    for (let trial = 0; trial < 40; trial++) {
      const nItems = 5 + (rng.nextUint32() % 300);
      const stats = randomStats(rng, nItems);
      const k = 1 + (rng.nextUint32() % nItems);
      const list = randomList(rng, nItems, k);
      const { diversity } = listBeyondAccuracy(stats, list, 0, k);
      expect(diversity).not.toBeNull();
      expect(diversity as number).toBeCloseTo(naiveDiversity(stats, list), 10);
    }
  });

  it('stops at the first empty slot (-1) like the other list metrics', () => {
    const stats = randomStats(new Rng(3), 50);
    const list = Int32Array.from([4, 9, 17, 23, -1, -1]);
    expect(listBeyondAccuracy(stats, list, 0, 6).diversity as number).toBeCloseTo(naiveDiversity(stats, list.subarray(0, 4)), 12);
  });

  it('costs O(k · genres): a list of 20,000 items takes well under a second', () => {
    const rng = new Rng(11);
    const stats = randomStats(rng, 20_000);
    const list = randomList(rng, 20_000, 20_000);
    const t0 = performance.now();
    const { diversity } = listBeyondAccuracy(stats, list, 0, 20_000);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(diversity as number).toBeGreaterThan(0.5);
    expect(diversity as number).toBeLessThan(1);
  });

  it('is absent, not 0, without an item catalogue', () => {
    const train = interactionsOf([
      [1, 1, 1, 1],
      [1, 2, 1, 2],
      [2, 2, 1, 3],
    ]);
    const test = interactionsOf([
      [1, 3, 1, 4],
      [2, 1, 1, 5],
    ]);
    const users = new IdMap(Int32Array.from([1, 2]));
    const items = new IdMap(Int32Array.from([1, 2, 3]));
    const seen = csrFromCoo(2, 3, users.mapAll(train.userId), items.mapAll(train.itemId), null);
    expect(listBeyondAccuracy(itemStats(seen, items, null), Int32Array.from([0, 1, 2]), 0, 3).diversity).toBeNull();
    const targets = buildTargets(test, users, items, seen);
    const everyItem = (u: Int32Array, k: number) => ({
      rows: u.length,
      k,
      items: Int32Array.from({ length: u.length * k }, (_, j) => j % k),
      scores: new Float32Array(u.length * k),
    });
    const withoutCatalog = evaluateTargets(everyItem, { users, items }, targets, seen, 3, { ks: [3], catalog: null });
    expect(withoutCatalog['diversity@3']).toBeUndefined();
    expect(withoutCatalog['novelty@3']).toBeTypeOf('number');
    const catalog = { itemId: Int32Array.from([1, 2, 3]), title: ['a', 'b', 'c'], genres: [['A'], ['A'], ['B']] };
    const withCatalog = evaluateTargets(everyItem, { users, items }, targets, seen, 3, { ks: [3], catalog });
    // pairs (1,2): 0, (1,3): 1, (2,3): 1
    expect(withCatalog['diversity@3']).toBeCloseTo(2 / 3, 12);
  });
});
