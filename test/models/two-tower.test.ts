import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluateModel } from '../../src/eval/evaluate.js';
import { type TwoTowerModel, twoTowerFactory } from '../../src/models/two-tower/model.js';
import { twoTowerParamsSchema, type TwoTowerParams } from '../../src/models/two-tower/params.js';
import { parseParams } from '../../src/models/params.js';
import { popularityFactory } from '../../src/models/popularity/popularity.js';
import { COLD_ITEMS, genreOfItem, genreOfUser, plantedFixture, PER_GENRE } from './two-tower-fixture.js';

const fixture = plantedFixture();
const PARAMS: TwoTowerParams = twoTowerParamsSchema.parse({
  dim: 16,
  hidden: 32,
  history: 10,
  epochs: 12,
  batch_size: 128,
  lr: 0.01,
  temperature: 0.1,
  val_frac: 0,
  backend: 'wasm',
});

function dot(a: Float32Array, i: number, b: Float32Array, j: number, d: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) s += a[i * d + k] * b[j * d + k];
  return s;
}

describe('two-tower model', () => {
  let model: TwoTowerModel;
  beforeAll(async () => {
    model = (await twoTowerFactory.fit(fixture.training, PARAMS)) as TwoTowerModel;
  });

  it('learns the planted tastes: far better than popularity on held-out events', async () => {
    const ours = evaluateModel(model, fixture.train, fixture.test, { ks: [10] });
    const popularity = evaluateModel(await popularityFactory.fit(fixture.training, {}), fixture.train, fixture.test, { ks: [10] });
    // 90% of a user's test movies are of their genre, which has only ~9 unseen movies left, so
    // a model that ranks the user's genre first recalls most of them; popularity, with every
    // movie about equally popular, recalls about 10 of ~84 candidates.
    expect(ours['recall@10']).toBeGreaterThan(0.6);
    expect(popularity['recall@10']).toBeLessThan(0.3);
    expect(ours['ndcg@10']).toBeGreaterThan(popularity['ndcg@10'] + 0.3);
  });

  it('gives unit-length vectors through the shared interface', () => {
    const items = model.itemEmbeddings();
    expect(items.rows).toBe(100);
    expect(items.dim).toBe(16);
    for (let i = 0; i < items.rows; i++) expect(dot(items.data, i, items.data, i, 16)).toBeCloseTo(1, 5);
    const users = model.userEmbeddings();
    expect(users.rows).toBe(160);
  });

  it('embeds a cold item from its content alone, close to its genre', () => {
    const cold = model.embedItems(COLD_ITEMS);
    const users = model.userEmbeddings();
    for (let c = 0; c < COLD_ITEMS.length; c++) {
      // Mean score from users who like the cold movie's genre vs. the others.
      let own = 0;
      let other = 0;
      for (let u = 0; u < users.rows; u++) {
        const s = dot(cold.data, c, users.data, u, 16);
        if (genreOfUser(model.users.rawId(u)) === genreOfItem(COLD_ITEMS[c])) own += s / 40;
        else other += s / 120;
      }
      expect(own).toBeGreaterThan(other + 0.2);
    }
    // Recommending over the extended catalogue reaches the cold items (indices past the training items).
    const fans = Int32Array.from({ length: model.users.size }, (_, u) => u).filter((u) => genreOfUser(model.users.rawId(u)) === 0);
    const top = model.recommendExtended(fans, 30, null, COLD_ITEMS);
    let coldAction = 0;
    for (const i of top.items) if (i === model.items.size) coldAction++;
    expect(coldAction).toBeGreaterThan(fans.length / 2);
  });

  it('embeds a user unseen in training from their history alone', () => {
    const L = model.historyLength;
    // A new user (raw id 9999) who watched five comedies: recommendations should be comedies.
    const history = new Int32Array(L).fill(-1);
    history.set([26, 27, 28, 29, 30]);
    const user = model.embedUsers(Int32Array.of(9999), history);
    const items = model.itemEmbeddings();
    const scores = Array.from({ length: items.rows }, (_, i) => [dot(user.data, 0, items.data, i, 16), model.items.rawId(i)]);
    scores.sort((a, b) => b[0] - a[0]);
    const comedies = scores.slice(0, 10).filter(([, raw]) => genreOfItem(raw) === 1).length;
    expect(comedies).toBeGreaterThanOrEqual(8);
  });

  it('is reproducible: the same seed gives the same vectors, on one thread or two', async () => {
    for (const threads of [1, 2]) {
      const again = (await twoTowerFactory.fit(fixture.training, { ...PARAMS, threads })) as TwoTowerModel;
      expect(again.training?.threads).toBe(threads);
      expect(Array.from(again.itemEmbeddings().data)).toEqual(Array.from(model.itemEmbeddings().data));
      expect(Array.from(again.userEmbeddings().data)).toEqual(Array.from(model.userEmbeddings().data));
    }
  });

  it('saves and loads to the same recommendations and cold-start vectors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recsys-two-tower-'));
    await model.save(dir);
    const loaded = (await twoTowerFactory.load(dir)) as TwoTowerModel;
    const users = Int32Array.from({ length: 20 }, (_, i) => i * 7);
    expect(Array.from(loaded.recommend(users, 10, null).items)).toEqual(Array.from(model.recommend(users, 10, null).items));
    expect(Array.from(loaded.embedItems(COLD_ITEMS).data)).toEqual(Array.from(model.embedItems(COLD_ITEMS).data));
    expect(loaded.params()).toEqual(model.params());
  });

  it('finds similar items of the same genre', () => {
    const top = model.similarItems(Int32Array.of(0, PER_GENRE * 2), 5);
    for (let j = 0; j < 5; j++) {
      expect(top.items[j]).not.toBe(0);
      expect(genreOfItem(model.items.rawId(top.items[j]))).toBe(0);
      expect(genreOfItem(model.items.rawId(top.items[5 + j]))).toBe(2);
    }
  });
});

describe('two-tower with extra sampled negatives', () => {
  it('still learns the planted tastes with 64 popularity-sampled negatives per batch', async () => {
    const m = await twoTowerFactory.fit(fixture.training, { ...PARAMS, negatives: 64, negative_sampling: 'popularity' });
    expect(evaluateModel(m, fixture.train, fixture.test, { ks: [10] })['recall@10']).toBeGreaterThan(0.6);
  });
});

describe('two-tower validation and early stopping', () => {
  it('picks the epoch count on the held-out tails and refits on everything', async () => {
    const m = (await twoTowerFactory.fit(fixture.training, { ...PARAMS, val_frac: 0.2, epochs: 8, patience: 2 })) as TwoTowerModel;
    const summary = m.training!;
    expect(summary.validation.length).toBeGreaterThan(0);
    expect(summary.validation.length).toBeLessThanOrEqual(8);
    const best = summary.validation.reduce((a, r) => ((r.valRecall ?? 0) > (a.valRecall ?? 0) ? r : a));
    expect(summary.epochs).toBe(best.epoch);
    expect(summary.final.length).toBe(best.epoch);
    expect(best.valRecall).toBeGreaterThan(0.3);
    expect(summary.backend.name).toBe('wasm');
  });

  it('names the bad parameter', () => {
    const parse = (raw: Record<string, unknown>) => parseParams('two-tower', twoTowerParamsSchema, raw);
    expect(() => parse({ dim: 0 })).toThrow('two-tower: dim: expected an integer ≥ 1, got 0');
    expect(() => parse({ logq: 2 })).toThrow('two-tower: logq: expected a number in [0, 1], got 2');
    expect(() => parse({ lr: 0 })).toThrow('two-tower: lr: expected a number in (0, 1], got 0');
    expect(() => parse({ backend: 'gpu' })).toThrow('two-tower: backend: expected one of auto, tensorflow, wasm, cpu, got "gpu"');
  });
});
