import type { TrainingData } from '../data/training-data.js';

/** Which items an exploring policy draws from (docs/exploration.md). */
export type PoolName = 'candidates' | 'fresh' | 'cold';

export const POOL_NAMES: readonly PoolName[] = ['candidates', 'fresh', 'cold'];

/** The catalogue-wide exploration pools, raw item ids, most eligible first. */
export interface ItemPools {
  /** The newest items: latest first interaction in training first. */
  readonly fresh: readonly number[];
  /** The least-known items: fewest training interactions first; catalogue items with none lead. */
  readonly cold: readonly number[];
}

/** How many items each catalogue pool holds unless told otherwise. */
export const DEFAULT_POOL_SIZE = 100;

/**
 * The fresh and cold pools of a model's training data: `size` items each. Ties (same first
 * time, same count) go to the smaller raw id, so the pools are a function of the data alone.
 * Catalogue items without any training interaction are the coldest of all (count 0); they have
 * no first time, so they are not fresh.
 */
export function buildItemPools(data: TrainingData, size = DEFAULT_POOL_SIZE): ItemPools {
  const n = data.items.size;
  const first = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const count = new Float64Array(n);
  for (let r = 0; r < data.itemIndex.length; r++) {
    const i = data.itemIndex[r];
    count[i]++;
    first[i] = Math.min(first[i], data.train.timestamp[r]);
  }
  const indices = Array.from({ length: n }, (_, i) => i);
  const raw = (i: number): number => data.items.rawId(i);
  const fresh = [...indices]
    .sort((a, b) => first[b] - first[a] || raw(a) - raw(b))
    .slice(0, size)
    .map(raw);
  const unseen = data.catalog ? [...new Set(data.catalog.itemId)].filter((id) => data.items.indexOf(id) < 0).sort((a, b) => a - b) : [];
  const known = [...indices].sort((a, b) => count[a] - count[b] || raw(a) - raw(b)).map(raw);
  return { fresh, cold: [...unseen, ...known].slice(0, size) };
}
