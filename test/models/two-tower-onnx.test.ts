import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpyFloat32, readNpyInt32 } from '../../src/artifacts/npy.js';
import { type TwoTowerModel, twoTowerFactory } from '../../src/models/two-tower/model.js';
import { ITEM_TOWER_FILE, USER_TOWER_FILE } from '../../src/models/two-tower/onnx-export.js';
import { twoTowerParamsSchema } from '../../src/models/two-tower/params.js';
import { maxAbsDiff, onnxCheck, runOrtInChild } from '../onnx/helpers.js';
import { COLD_ITEMS, plantedFixture } from './two-tower-fixture.js';

describe('two-tower ONNX export', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recsys-two-tower-onnx-'));
  let model: TwoTowerModel;
  beforeAll(async () => {
    const params = twoTowerParamsSchema.parse({
      dim: 16,
      hidden: 32,
      history: 10,
      epochs: 3,
      batch_size: 128,
      lr: 0.01,
      temperature: 0.1,
      val_frac: 0,
      backend: 'wasm',
    });
    model = (await twoTowerFactory.fit(plantedFixture().training, params)) as TwoTowerModel;
    await model.save(dir);
  });

  it('writes both towers as models that onnx.checker accepts', () => {
    for (const file of [USER_TOWER_FILE, ITEM_TOWER_FILE]) {
      const check = onnxCheck(join(dir, file));
      expect(check.message).toBe('');
      expect(check.ok).toBe(true);
      expect(check.opset).toBeGreaterThanOrEqual(17);
    }
  });

  it('user tower in onnxruntime (fresh process) = in-process vectors, for known, new and history-less users', () => {
    const L = model.historyLength;
    const history = readNpyInt32(join(dir, 'user_history.npy'));
    // Rows: three training users with their saved histories, a new user (-1) with a history of
    // three items, a training user whose history grew by an item, a new user with no history.
    const users = [0, 5, 17, -1, 3, -1];
    const dense = new Int32Array(users.length * L).fill(-1);
    dense.set(history.subarray(0, L), 0);
    dense.set(history.subarray(5 * L, 6 * L), L);
    dense.set(history.subarray(17 * L, 18 * L), 2 * L);
    dense.set([4, 40, 77], 3 * L);
    dense.set(history.subarray(3 * L + 1, 4 * L), 4 * L);
    dense[5 * L - 1] = 60;
    const res = runOrtInChild(join(dir, USER_TOWER_FILE), {
      user_index: { type: 'int64', dims: [users.length], data: users },
      history: { type: 'int64', dims: [users.length, L], data: dense },
    });
    expect(res.inputs).toEqual(['user_index', 'history']);
    const raw = (i: number): number => (i < 0 ? -1 : model.items.rawId(i));
    const inProcess = model.embedUsers(
      Int32Array.from(users, (u) => (u < 0 ? -1 : model.users.rawId(u))),
      Int32Array.from(dense, raw),
    );
    expect(res.outputs.user_embedding.dims).toEqual([users.length, 16]);
    expect(maxAbsDiff(res.outputs.user_embedding.data, inProcess.data)).toBeLessThanOrEqual(1e-5);
    // The artifact's user_embeddings.npy holds the same vectors for the training users.
    const saved = readNpyFloat32(join(dir, 'user_embeddings.npy')).data;
    expect(maxAbsDiff(res.outputs.user_embedding.data.slice(0, 16), saved.subarray(0, 16))).toBeLessThanOrEqual(1e-5);
  });

  it('item tower in onnxruntime (fresh process) = in-process vectors, cold items included', () => {
    const features = JSON.parse(readFileSync(join(dir, 'features.json'), 'utf8')) as {
      widths: { genres: number; year: number; tags: number };
    };
    const w = features.widths;
    const rawIds = Int32Array.from([...[0, 1, 50, 99].map((i) => model.items.rawId(i)), ...COLD_ITEMS]);
    const content = model.content.rowsFor(rawIds);
    const width = w.genres + w.year + w.tags;
    const block = (from: number, size: number): number[] => {
      const out: number[] = [];
      for (let r = 0; r < rawIds.length; r++) out.push(...content.subarray(r * width + from, r * width + from + size));
      return out;
    };
    const n = rawIds.length;
    const res = runOrtInChild(join(dir, ITEM_TOWER_FILE), {
      item_index: { type: 'int64', dims: [n], data: Array.from(model.items.mapAll(rawIds)) },
      genres: { type: 'float32', dims: [n, w.genres], data: block(0, w.genres) },
      year: { type: 'float32', dims: [n, w.year], data: block(w.genres, w.year) },
      tags: { type: 'float32', dims: [n, w.tags], data: block(w.genres + w.year, w.tags) },
    });
    expect(res.inputs).toEqual(['item_index', 'genres', 'year', 'tags']);
    expect(Array.from(model.items.mapAll(rawIds)).slice(4)).toEqual([-1, -1, -1, -1]);
    const inProcess = model.embedItems(rawIds);
    expect(maxAbsDiff(res.outputs.item_embedding.data, inProcess.data)).toBeLessThanOrEqual(1e-5);
    const saved = readNpyFloat32(join(dir, 'item_embeddings.npy')).data;
    expect(maxAbsDiff(res.outputs.item_embedding.data.slice(0, 16), saved.subarray(0, 16))).toBeLessThanOrEqual(1e-5);
  });
});
