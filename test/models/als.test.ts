import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeNpy } from '../../src/artifacts/npy.js';
import { allocInteractions } from '../../src/data/interactions.js';
import { buildTrainingData, type TrainingData } from '../../src/data/training-data.js';
import { csrHas } from '../../src/matrix/csr.js';
import { alsFactory, type AlsModel } from '../../src/models/als/model.js';
import { alsParamsSchema, type AlsParams } from '../../src/models/als/params.js';
import { parseParams } from '../../src/models/params.js';
import { InputError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';

const PYTHON = '/usr/bin/python3';
const dirs: string[] = [];
const models: AlsModel[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'als-test-'));
  dirs.push(d);
  return d;
}

afterAll(() => {
  for (const m of models) m.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * A seeded random log with long-tailed item popularity: `users` users, `items` items
 * (raw ids 1000+i, so dense and raw ids differ), ratings 0.5..5 in halves.
 */
function randomData(users: number, items: number, perUser: number, seed = 7): TrainingData {
  const rng = new Rng(seed);
  const rows: Array<[number, number, number]> = [];
  for (let u = 0; u < users; u++) {
    const n = 2 + rng.int(perUser);
    const chosen = new Set<number>();
    while (chosen.size < Math.min(n, items)) chosen.add(Math.floor(items * rng.next() ** 2));
    for (const i of chosen) rows.push([u + 1, 1000 + i, 0.5 * (1 + rng.int(10))]);
  }
  const x = allocInteractions(rows.length);
  rows.forEach(([u, i, r], p) => {
    x.userId[p] = u;
    x.itemId[p] = i;
    x.rating[p] = r;
    x.timestamp[p] = p;
  });
  return buildTrainingData(x, { seed: 11 });
}

async function fit(data: TrainingData, params: Partial<AlsParams>): Promise<AlsModel> {
  const model = await alsFactory.fit(data, alsParamsSchema.parse(params));
  models.push(model);
  return model;
}

function dot(a: Float32Array, ai: number, b: Float32Array, bi: number, f: number): number {
  let s = 0;
  for (let j = 0; j < f; j++) s += a[ai * f + j] * b[bi * f + j];
  return s;
}

const data = randomData(90, 61, 20);

describe('ALS fit', () => {
  it('solves each row exactly when CG runs to convergence (checked with numpy)', async () => {
    // One iteration with as many CG steps as factors: the item step then solves its normal
    // equations exactly against the returned user factors, which numpy can check.
    const f = 16;
    const model = await fit(data, { factors: f, iterations: 1, cg_steps: 40, regularization: 0.3, alpha: 2.5, threads: 2, loss: false });
    const dir = tempDir();
    const m = data.matrix;
    writeNpy(join(dir, 'x.npy'), model.userFactors, [data.users.size, f]);
    writeNpy(join(dir, 'indptr.npy'), m.indptr);
    writeNpy(join(dir, 'indices.npy'), m.indices);
    const script = `
import numpy as np, sys
d = sys.argv[1]
X = np.load(d + '/x.npy').astype(np.float64)
indptr, indices = np.load(d + '/indptr.npy'), np.load(d + '/indices.npy')
n_items, f, lam, alpha = ${data.items.size}, ${f}, 0.3, 2.5
C = np.zeros((X.shape[0], n_items))
for u in range(X.shape[0]):
    C[u, indices[indptr[u]:indptr[u + 1]]] = alpha  # c - 1 for w = 1
Y = np.zeros((n_items, f))
for i in range(n_items):
    A = X.T @ X + lam * np.eye(f) + (X.T * C[:, i]) @ X
    b = X.T @ ((C[:, i] + 1) * (C[:, i] > 0))
    Y[i] = np.linalg.solve(A, b)
np.save(d + '/y_exact.npy', Y.astype(np.float32))
`;
    execFileSync(PYTHON, ['-c', script, dir]);
    const { readNpyFloat32 } = await import('../../src/artifacts/npy.js');
    const exact = readNpyFloat32(join(dir, 'y_exact.npy')).data;
    let maxErr = 0;
    let maxAbs = 0;
    for (let p = 0; p < exact.length; p++) {
      maxErr = Math.max(maxErr, Math.abs(exact[p] - model.itemFactors[p]));
      maxAbs = Math.max(maxAbs, Math.abs(exact[p]));
    }
    expect(maxAbs).toBeGreaterThan(0.05);
    expect(maxErr / maxAbs).toBeLessThan(1e-4);
  });

  it('gives the same factors bit for bit for the same seed, whatever the thread count', async () => {
    const params = { factors: 24, iterations: 3 };
    const a = await fit(data, { ...params, threads: 2 });
    const b = await fit(data, { ...params, threads: 2 });
    const c = await fit(data, { ...params, threads: 1 });
    for (const other of [b, c]) {
      expect(Buffer.from(other.userFactors.buffer).equals(Buffer.from(a.userFactors.buffer))).toBe(true);
      expect(Buffer.from(other.itemFactors.buffer).equals(Buffer.from(a.itemFactors.buffer))).toBe(true);
    }
    const reseeded = await fit({ ...data, seed: 12 }, { ...params, threads: 2 });
    expect(Buffer.from(reseeded.itemFactors.buffer).equals(Buffer.from(a.itemFactors.buffer))).toBe(false);
  });

  it('reports a decreasing training loss that matches a direct computation', async () => {
    const f = 8;
    const lambda = 0.2;
    const alpha = 3;
    const model = await fit(data, { factors: f, iterations: 6, regularization: lambda, alpha, threads: 1, loss: true });
    const history = model.settings.history;
    expect(history).toHaveLength(6);
    expect(history[5].loss).toBeLessThan(history[0].loss as number);
    // Σ over every user-item pair of c (p − x·y)², plus λ(‖X‖² + ‖Y‖²), over Σ c.
    const m = data.matrix;
    let sum = 0;
    let conf = 0;
    for (let u = 0; u < data.users.size; u++) {
      for (let i = 0; i < data.items.size; i++) {
        const seen = csrHas(m, u, i);
        const c = seen ? 1 + alpha : 1;
        const e = (seen ? 1 : 0) - dot(model.userFactors, u, model.itemFactors, i, f);
        sum += c * e * e;
        conf += c;
      }
    }
    for (const v of model.userFactors) sum += lambda * v * v;
    for (const v of model.itemFactors) sum += lambda * v * v;
    expect(history[5].loss).toBeCloseTo(sum / conf, 5);
  });

  it('weights by rating with --weight rating and rejects negative ratings', async () => {
    const byRating = await fit(data, { factors: 8, iterations: 2, weight: 'rating' });
    const byOne = await fit(data, { factors: 8, iterations: 2, weight: 'one' });
    expect(Buffer.from(byRating.itemFactors.buffer).equals(Buffer.from(byOne.itemFactors.buffer))).toBe(false);
    const bad = randomData(5, 10, 3);
    bad.train.rating[2] = -1;
    await expect(alsFactory.fit(bad, alsParamsSchema.parse({ weight: 'rating' }))).rejects.toThrow(/training row 2 .* rating -1/);
  });

  it('rejects bad hyper-parameters naming the field', () => {
    const parse = (raw: Record<string, unknown>) => parseParams('als', alsParamsSchema, raw);
    expect(() => parse({ factors: 0 })).toThrow(InputError);
    expect(() => parse({ factors: 0 })).toThrow('als: factors: expected an integer in [1, 1024], got 0');
    expect(() => parse({ regularization: -1 })).toThrow('als: regularization: expected a number ≥ 0, got -1');
    expect(() => parse({ weight: 'votes' })).toThrow('als: weight: expected one of one, count, rating, got "votes"');
    expect(() => parse({ factorz: 3 })).toThrow(/unknown parameter "factorz"/);
    expect(parse({ factors: 8 })).toEqual({ ...alsParamsSchema.parse({}), factors: 8 });
  });
});

describe('ALS recommend', () => {
  // 61 items (not a multiple of 8) and a batch of users not a multiple of 4 exercise the kernel's edges.
  let model: AlsModel;

  it('scores every unseen item by x_u · y_i, best first, and never returns seen items', async () => {
    model = await fit(data, { factors: 12, iterations: 5, threads: 2, regularization: 0.1, alpha: 2 });
    const f = 12;
    const users = Int32Array.from({ length: data.users.size }, (_, u) => u);
    const k = data.items.size;
    const top = model.recommend(users, k, data.matrix);
    for (let b = 0; b < users.length; b++) {
      const u = users[b];
      const unseen = data.items.size - (data.matrix.indptr[u + 1] - data.matrix.indptr[u]);
      const returned: number[] = [];
      for (let j = 0; j < k; j++) {
        const item = top.items[b * k + j];
        if (item < 0) break;
        returned.push(item);
        expect(csrHas(data.matrix, u, item)).toBe(false);
        expect(top.scores[b * k + j]).toBeCloseTo(dot(model.userFactors, u, model.itemFactors, item, f), 5);
        if (j > 0) expect(top.scores[b * k + j]).toBeLessThanOrEqual(top.scores[b * k + j - 1]);
      }
      expect(returned.length).toBe(unseen);
      expect(new Set(returned).size).toBe(unseen);
    }
  });

  it('finds similar items by cosine, the item itself excluded', () => {
    const f = 12;
    const items = Int32Array.of(0, 5, 60);
    const top = model.similarItems(items, 4);
    const norm = (i: number): number => Math.sqrt(dot(model.itemFactors, i, model.itemFactors, i, f));
    for (let b = 0; b < items.length; b++) {
      const cosines = Array.from({ length: data.items.size }, (_, i) => ({
        i,
        c: dot(model.itemFactors, items[b], model.itemFactors, i, f) / (norm(items[b]) * norm(i)),
      }))
        .filter((e) => e.i !== items[b])
        .sort((x, y) => y.c - x.c);
      expect(Array.from(top.items.subarray(b * 4, b * 4 + 4))).toEqual(cosines.slice(0, 4).map((e) => e.i));
      expect(top.scores[b * 4]).toBeCloseTo(cosines[0].c, 5);
    }
  });

  it('folds in a training user: nearly the same factors and the same top-10', async () => {
    // At convergence a user's factors are the exact solve against the final item factors.
    // Structureless random data converges slowly (1e-2 apart after 40 iterations, near-tied
    // items swap), so run long: 300 iterations take a fraction of a second here.
    const converged = await fit(data, { factors: 16, iterations: 300, regularization: 0.1, alpha: 2 });
    const f = 16;
    const m = data.matrix;
    for (const u of [0, 17, 44, 89]) {
      const history = m.indices.slice(m.indptr[u], m.indptr[u + 1]);
      const x = converged.foldInUser(history, null);
      let diff = 0;
      let norm = 0;
      for (let j = 0; j < f; j++) {
        diff += (x[j] - converged.userFactors[u * f + j]) ** 2;
        norm += converged.userFactors[u * f + j] ** 2;
      }
      expect(Math.sqrt(diff / norm)).toBeLessThan(1e-3);
      const fromHistory = converged.recommendFromHistory(history, null, 10);
      const trained = converged.recommend(Int32Array.of(u), 10, m);
      expect(Array.from(fromHistory.items)).toEqual(Array.from(trained.items));
    }
    expect(() => converged.foldInUser(Int32Array.of(1, 999), null)).toThrow(/out of range/);
  });

  it('saves factors numpy reads with the right shapes and values, and loads them back', async () => {
    const dir = tempDir();
    await model.save(dir);
    const script = `
import numpy as np, json, sys
d = sys.argv[1]
U, V = np.load(d + '/user_factors.npy'), np.load(d + '/item_factors.npy')
uid, iid = np.load(d + '/user_ids.npy'), np.load(d + '/item_ids.npy')
print(json.dumps({'u': [U.shape, str(U.dtype)], 'v': [V.shape, str(V.dtype)], 'ids': [str(uid.dtype), int(uid[3]), int(iid[5])],
  'score': float(U[3] @ V[5]), 'params': json.load(open(d + '/als.json'))['params']['factors']}))
`;
    const out = JSON.parse(execFileSync(PYTHON, ['-c', script, dir], { encoding: 'utf8' }));
    expect(out.u).toEqual([[data.users.size, 12], 'float32']);
    expect(out.v).toEqual([[data.items.size, 12], 'float32']);
    expect(out.ids).toEqual(['int32', data.users.rawId(3), data.items.rawId(5)]);
    expect(out.score).toBeCloseTo(dot(model.userFactors, 3, model.itemFactors, 5, 12), 5);
    expect(out.params).toBe(12);
    const loaded = await alsFactory.load(dir);
    models.push(loaded);
    const users = Int32Array.of(0, 1, 2, 3, 4);
    expect(Array.from(loaded.recommend(users, 10, data.matrix).items)).toEqual(Array.from(model.recommend(users, 10, data.matrix).items));
    await expect(alsFactory.load(tempDir())).rejects.toThrow(/not an ALS model/);
  });
});
