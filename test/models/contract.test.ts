import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTrainingData, type TrainingData } from '../../src/data/training-data.js';
import { csrHas } from '../../src/matrix/csr.js';
import type { TopK } from '../../src/matrix/topk.js';
import { canFoldIn, hasEmbeddings, type Recommender } from '../../src/models/model.js';
import { parseParams } from '../../src/models/params.js';
import { getFactory, modelKinds } from '../../src/pipeline/model-registry.js';
import { synthLog } from '../rank/ranker-data.js';
import { tempDir } from '../helpers.js';

/**
 * What every registered model kind promises (after implicit's RecommenderBaseTestMixin and
 * lkpy's ScorerTests). It iterates the registry, so a new kind is covered without a change
 * here; SMALL only keeps the slow kinds fast (a kind missing from it runs with its defaults).
 */
const SMALL: Record<string, Record<string, unknown>> = {
  als: { factors: 8, iterations: 3, threads: 1 },
  'two-tower': { dim: 8, hidden: 16, history: 5, epochs: 1, batch_size: 64, val_frac: 0, backend: 'wasm' },
  ranker: {
    channels: 'popularity,cooc,als',
    faiss_channels: '',
    candidates: 15,
    trees: 5,
    negatives: 3,
    popularity_window_days: 0,
    gbdt_engine: 'xgboost',
  },
};

const SEED = 7;
const { log, catalog } = synthLog({ users: 40, items: 30, eventsPerUser: 10, seed: 3 });

function trainingData(): TrainingData {
  return buildTrainingData(log, { catalog, seed: SEED });
}

/** The items of row r, -1 padding included. */
function row(top: TopK, r: number): number[] {
  return Array.from(top.items.subarray(r * top.k, (r + 1) * top.k));
}

/** The model's worker threads (ALS, two-tower scorers) end with the test file, not at exit. */
function close(model: Recommender): void {
  const closable = model as Recommender & { close?: () => void };
  closable.close?.();
}

describe.each(modelKinds())('model contract: %s', (kind) => {
  const factory = getFactory(kind);
  const data = trainingData();
  const users = Int32Array.from({ length: data.users.size }, (_, u) => u);
  const seen = (u: number): number => data.matrix.indptr[u + 1] - data.matrix.indptr[u];
  let model: Recommender;
  let again: Recommender;
  let loaded: Recommender;

  beforeAll(async () => {
    const params = parseParams(kind, factory.params, SMALL[kind] ?? {});
    model = await factory.fit(data, params);
    // A second fit from fresh training data with the same seed.
    again = await factory.fit(trainingData(), params);
    const dir = tempDir(`recsys-contract-${kind}-`);
    await model.save(dir);
    loaded = await factory.load(dir);
  });

  afterAll(() => {
    for (const m of [model, again, loaded]) if (m) close(m);
  });

  it("never returns a user's training items", () => {
    const top = model.recommend(users, 10, data.matrix);
    let returned = 0;
    for (const u of users) {
      for (const item of row(top, u)) {
        if (item < 0) continue;
        returned++;
        expect(csrHas(data.matrix, u, item), `user ${u} got seen item ${item}`).toBe(false);
      }
    }
    expect(returned).toBeGreaterThan(0);
  });

  it('with k beyond the catalogue, returns each unseen item at most once, then -1 padding, nothing else', () => {
    const k = data.items.size + 5;
    const top = model.recommend(users, k, data.matrix);
    expect(top.items.length).toBe(users.length * k);
    for (const u of users) {
      const items = row(top, u);
      const valid = items.filter((i) => i >= 0);
      const firstPad = items.indexOf(-1);
      // Padding is -1 only, and only after the last real item.
      expect(items.every((i) => i === -1 || (Number.isInteger(i) && i >= 0 && i < data.items.size))).toBe(true);
      expect(firstPad).toBeGreaterThanOrEqual(0);
      expect(items.slice(firstPad).every((i) => i === -1)).toBe(true);
      expect(new Set(valid).size).toBe(valid.length);
      expect(valid.length).toBeLessThanOrEqual(data.items.size - seen(u));
      expect(valid.length).toBeGreaterThanOrEqual(Math.min(10, data.items.size - seen(u)));
      for (let j = 0; j < valid.length; j++) expect(Number.isFinite(top.scores[u * k + j])).toBe(true);
    }
  });

  it('save → load gives identical recommendations, similar items and params', () => {
    const a = model.recommend(users, 10, data.matrix);
    const b = loaded.recommend(users, 10, data.matrix);
    expect(Array.from(b.items)).toEqual(Array.from(a.items));
    expect(Array.from(b.scores)).toEqual(Array.from(a.scores));
    const items = Int32Array.from({ length: data.items.size }, (_, i) => i);
    expect(Array.from(loaded.similarItems(items, 5).items)).toEqual(Array.from(model.similarItems(items, 5).items));
    expect(loaded.params()).toEqual(model.params());
    expect(Array.from(loaded.items.ids)).toEqual(Array.from(model.items.ids));
    expect(Array.from(loaded.users.ids)).toEqual(Array.from(model.users.ids));
  });

  it('the same seed gives the same result', () => {
    const a = model.recommend(users, 10, data.matrix);
    const b = again.recommend(users, 10, data.matrix);
    expect(Array.from(b.items)).toEqual(Array.from(a.items));
    expect(Array.from(b.scores)).toEqual(Array.from(a.scores));
  });

  it('similarItems never returns the item itself, nor an item twice', () => {
    const items = Int32Array.from({ length: data.items.size }, (_, i) => i);
    const top = model.similarItems(items, 8);
    for (const i of items) {
      const similar = row(top, i).filter((j) => j >= 0);
      expect(similar).not.toContain(i);
      expect(new Set(similar).size).toBe(similar.length);
      expect(similar.length).toBeGreaterThan(0);
    }
  });

  it("params() is JSON and exactly the schema's output for the parameters given", () => {
    const p = model.params();
    expect(JSON.parse(JSON.stringify(p))).toEqual(p);
    expect(factory.params.parse(p)).toEqual(p);
    expect(p).toMatchObject(SMALL[kind] ?? {});
  });

  it('what it can do beyond recommend is consistent with its data', () => {
    if (hasEmbeddings(model)) {
      const itemVectors = model.itemEmbeddings();
      const userVectors = model.userEmbeddings();
      expect([itemVectors.rows, userVectors.rows]).toEqual([data.items.size, data.users.size]);
      expect(itemVectors.dim).toBe(userVectors.dim);
      expect(itemVectors.data.length).toBe(itemVectors.rows * itemVectors.dim);
    }
    if (canFoldIn(model)) {
      const history = Int32Array.of(0, 1, 2);
      const top = model.recommendFromHistory(history, null, 10);
      const items = row(top, 0).filter((i) => i >= 0);
      expect(items.length).toBe(10);
      for (const i of history) expect(items).not.toContain(i);
    }
  });
});
