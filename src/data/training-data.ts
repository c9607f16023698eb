import { IdMap } from './id-map.js';
import type { Interactions, ItemCatalog, Tags } from './interactions.js';
import { csrFromCoo, type Csr } from '../matrix/csr.js';

/**
 * What a model is fitted on: the training interactions and the dense user and item spaces
 * they define (users and items with at least one training interaction), plus optional
 * item metadata for content-aware models.
 */
export interface TrainingData {
  readonly train: Interactions;
  readonly users: IdMap;
  readonly items: IdMap;
  /** Dense user and item index of every training row. */
  readonly userIndex: Int32Array;
  readonly itemIndex: Int32Array;
  /** users × items, value = number of training interactions of the pair. */
  readonly matrix: Csr;
  readonly catalog: ItemCatalog | null;
  readonly tags: Tags | null;
  /** Seed for every random choice the model makes. */
  readonly seed: number;
}

export function buildTrainingData(
  train: Interactions,
  opts: { catalog?: ItemCatalog | null; tags?: Tags | null; seed?: number } = {},
): TrainingData {
  const users = IdMap.fromValues(train.userId);
  const items = IdMap.fromValues(train.itemId);
  const userIndex = users.mapAll(train.userId);
  const itemIndex = items.mapAll(train.itemId);
  const matrix = csrFromCoo(users.size, items.size, userIndex, itemIndex, null);
  return {
    train,
    users,
    items,
    userIndex,
    itemIndex,
    matrix,
    catalog: opts.catalog ?? null,
    tags: opts.tags ?? null,
    seed: opts.seed ?? 42,
  };
}
