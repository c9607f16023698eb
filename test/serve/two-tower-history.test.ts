import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpyFloat32, writeNpy } from '../../src/artifacts/npy.js';
import { createArtifact, readManifest } from '../../src/artifacts/store.js';
import type { TopK } from '../../src/matrix/topk.js';
import { type TwoTowerModel, twoTowerFactory } from '../../src/models/two-tower/model.js';
import { twoTowerParamsSchema } from '../../src/models/two-tower/params.js';
import { indexModel } from '../../src/pipeline/index-model.js';
import { OnnxUserTower, openTwoTowerHistory } from '../../src/serve/history/two-tower.js';
import type { HistoryRecommender } from '../../src/serve/types.js';
import { InputError } from '../../src/util/errors.js';
import { tempDir } from '../helpers.js';
import { maxAbsDiff } from '../onnx/helpers.js';
import { plantedFixture } from '../models/two-tower-fixture.js';

/** Shorter than every fixture user's 16 training events, so truncation to the latest items matters. */
const HISTORY = 5;
const DIM = 16;

/**
 * History requests of the two-tower model as a serving stack makes them: the exported ONNX
 * user tower in onnxruntime (in this process), then exact search or the artifact's FAISS index.
 */
describe('two-tower history requests (ONNX user tower + item search)', () => {
  const work = tempDir('recsys-two-tower-history-');
  const fixture = plantedFixture();
  let model: TwoTowerModel;
  let tower: OnnxUserTower;
  /** By the artifact's item search: none (exact), Flat, IVF. */
  const recommenders = new Map<string, HistoryRecommender>();
  /** item_embeddings.npy of the artifact, read from disk. */
  let itemVectors: Float32Array;
  let modelDir = '';
  let flatDir = '';

  beforeAll(async () => {
    const params = twoTowerParamsSchema.parse({
      dim: DIM,
      hidden: 32,
      history: HISTORY,
      epochs: 2,
      batch_size: 128,
      val_frac: 0,
      backend: 'wasm',
    });
    model = await twoTowerFactory.fit(fixture.training, params);
    const { dir } = await createArtifact(work, 'two-tower', { kind: 'two-tower', config: { params } }, (d) => model.save(d));
    // `recsys index` as the pipeline runs it: Flat (inner product), and IVF on the MIPS→L2
    // transform, exact here because every list is probed.
    const flat = await indexModel({ model: dir, factory: 'Flat', out: join(work, 'two-tower-flat') });
    const ivf = await indexModel({ model: dir, factory: 'IVF4,Flat', nprobe: 4, out: join(work, 'two-tower-ivf') });
    expect((readManifest(ivf.dir).config.index as { transform: { kind: string } | null }).transform?.kind).toBe('mips-l2');
    itemVectors = readNpyFloat32(join(dir, 'item_embeddings.npy')).data;
    modelDir = dir;
    flatDir = flat.dir;
    tower = await OnnxUserTower.open(dir, model);
    recommenders.set('exact', await openTwoTowerHistory(dir, model));
    recommenders.set('flat', await openTwoTowerHistory(flat.dir, model));
    recommenders.set('ivf', await openTwoTowerHistory(ivf.dir, model));
  });

  afterAll(async () => {
    for (const r of recommenders.values()) await r.close();
    await tower?.release();
    model?.close();
  });

  /** Dense items of a training user's training events, oldest first, from the raw interactions. */
  function trainingHistory(u: number): Int32Array {
    const raw = model.users.rawId(u);
    const rows: number[] = [];
    for (let r = 0; r < fixture.train.userId.length; r++) if (fixture.train.userId[r] === raw) rows.push(r);
    rows.sort((a, b) => fixture.train.timestamp[a] - fixture.train.timestamp[b]);
    return Int32Array.from(rows, (r) => model.items.indexOf(fixture.train.itemId[r]));
  }

  /** Brute force: every item not in `history` by ⟨user, item⟩ descending, ties by lower index; -1 padded to k. */
  function bruteForce(user: Float32Array, history: Int32Array, k: number): { items: number[]; scores: number[] } {
    const seen = new Set(history);
    const scored: Array<[number, number]> = [];
    for (let i = 0; i < model.items.size; i++) {
      if (seen.has(i)) continue;
      let s = 0;
      for (let d = 0; d < DIM; d++) s += user[d] * itemVectors[i * DIM + d];
      scored.push([i, s]);
    }
    scored.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    const top = scored.slice(0, k);
    return {
      items: [...top.map(([i]) => i), ...new Array<number>(Math.max(0, k - top.length)).fill(-1)],
      scores: [...top.map(([, s]) => s), ...new Array<number>(Math.max(0, k - top.length)).fill(-Infinity)],
    };
  }

  it('the ONNX user tower, fed a training user and their whole training history, gives the model’s own user vector', async () => {
    const trained = model.userEmbeddings().data;
    const users = [0, 1, 7, 42, 99, model.users.size - 1];
    for (const u of users) {
      const history = trainingHistory(u);
      expect(history.length).toBeGreaterThan(HISTORY);
      const vector = await tower.embed(u, history);
      expect(vector.length).toBe(DIM);
      expect(maxAbsDiff(vector, trained.subarray(u * DIM, (u + 1) * DIM))).toBeLessThanOrEqual(1e-6);
      // Pooling the oldest items instead would give another vector: the truncation is tested.
      const oldest = await tower.embed(u, history.subarray(0, HISTORY));
      expect(maxAbsDiff(oldest, trained.subarray(u * DIM, (u + 1) * DIM))).toBeGreaterThan(1e-3);
    }
  });

  it('a new user: top-k is the exact inner-product ranking of the ONNX vector, with no index, a Flat and an IVF index', async () => {
    // Eight items of two genres, oldest first; the tower pools the latest five.
    const history = model.items.mapAll(Int32Array.of(3, 14, 60, 27, 8, 19, 22, 5));
    expect(history).not.toContain(-1);
    const vector = await tower.embed(-1, history);
    // The same vector in-process (the TF.js-trained network), from raw ids: the latest five items.
    const inProcess = model.embedUsers(Int32Array.of(-1), Int32Array.of(27, 8, 19, 22, 5));
    expect(maxAbsDiff(vector, inProcess.data)).toBeLessThanOrEqual(1e-5);
    const expected = bruteForce(vector, history, 10);
    for (const [name, rec] of recommenders) {
      const top = await rec.recommend(history, 10);
      expect(rec.channel, name).toBe('two-tower');
      expect(Array.from(top.items), name).toEqual(expected.items);
      expect(maxAbsDiff(top.scores, expected.scores), name).toBeLessThanOrEqual(1e-5);
    }
  });

  it('never returns a history item, and pads with -1 when k exceeds the items left', async () => {
    const history = Int32Array.of(0, 10, 20, 30, 40, 50, 60, 70, 80);
    const left = model.items.size - history.length;
    const k = model.items.size + 5;
    const expected = bruteForce(await tower.embed(-1, history), history, k);
    for (const [name, rec] of recommenders) {
      const top: TopK = await rec.recommend(history, k);
      const items = Array.from(top.items);
      expect(
        items.filter((i) => history.includes(i)),
        name,
      ).toEqual([]);
      expect(new Set(items.slice(0, left)).size, name).toBe(left);
      expect(items.slice(left), name).toEqual(new Array<number>(history.length + 5).fill(-1));
      expect(Array.from(top.scores.subarray(left)), name).toEqual(new Array<number>(history.length + 5).fill(-Infinity));
      expect(items, name).toEqual(expected.items);
    }
  });

  it('refuses, naming the file, an artifact without its user tower and an index over other items', async () => {
    const noTower = join(work, 'no-tower');
    cpSync(modelDir, noTower, { recursive: true });
    rmSync(join(noTower, 'user_tower.onnx'));
    await expect(openTwoTowerHistory(noTower, model)).rejects.toThrow(
      new InputError(`${join(noTower, 'user_tower.onnx')}: missing (a two-tower artifact exports its user tower there)`),
    );
    const otherItems = join(work, 'other-items');
    cpSync(flatDir, otherItems, { recursive: true });
    const ids = Int32Array.from(model.items.ids);
    ids[3] = 999;
    writeNpy(join(otherItems, 'items.faiss.ids.npy'), ids);
    await expect(openTwoTowerHistory(otherItems, model)).rejects.toThrow(
      /items\.faiss\.ids\.npy: the index's item ids are not the model's/,
    );
  });
});
