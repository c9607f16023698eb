import type { Interactions, ItemCatalog } from '../data/interactions.js';

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
 * The fresh and cold pools of a model's training data (a TrainingData, or a split's training
 * side with the dataset's catalogue): `size` items each. Ties (same first time, same count) go
 * to the smaller raw id, so the pools are a function of the data alone. Catalogue items without
 * any training interaction are the coldest of all (count 0); they have no first time, so they
 * are not fresh.
 */
export function buildItemPools(
  data: { readonly train: Interactions; readonly catalog: ItemCatalog | null },
  size = DEFAULT_POOL_SIZE,
): ItemPools {
  const first = new Map<number, number>();
  const count = new Map<number, number>();
  const { itemId, timestamp } = data.train;
  for (let r = 0; r < itemId.length; r++) {
    const id = itemId[r];
    count.set(id, (count.get(id) ?? 0) + 1);
    first.set(id, Math.min(first.get(id) ?? Number.POSITIVE_INFINITY, timestamp[r]));
  }
  for (const id of data.catalog?.itemId ?? []) if (!count.has(id)) count.set(id, 0);
  const fresh = [...first.keys()].sort((a, b) => (first.get(b) as number) - (first.get(a) as number) || a - b);
  const cold = [...count.keys()].sort((a, b) => (count.get(a) as number) - (count.get(b) as number) || a - b);
  return { fresh: fresh.slice(0, size), cold: cold.slice(0, size) };
}
