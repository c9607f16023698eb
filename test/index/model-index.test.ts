import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readManifest } from '../../src/artifacts/store.js';
import { importDataset } from '../../src/data/import.js';
import { augmentItems, wantsMipsTransform } from '../../src/index/mips.js';
import { evaluateRun } from '../../src/pipeline/evaluate.js';
import { INDEX_FILE } from '../../src/index/artifact-index.js';
import { indexModel } from '../../src/pipeline/index-model.js';
import { trainModel } from '../../src/pipeline/train.js';
import { ML_SMALL, SYSTEM_PYTHON, tempDir } from '../helpers.js';

/** `recsys index` on a real ALS artifact, and retrieval through the index it writes. */
describe('recsys index on an ALS artifact', () => {
  const work = tempDir();
  let alsDir = '';
  beforeAll(async () => {
    const data = join(work, 'ml');
    await importDataset({ format: 'movielens', input: ML_SMALL, out: data });
    alsDir = (
      await trainModel({
        kind: 'als',
        datasetDir: data,
        split: { strategy: 'temporal-user', frac: 0.8 },
        params: {},
        seed: 5,
        out: join(work, 'artifacts/als'),
        ks: [10],
      })
    ).dir;
  });

  it('the MIPS transform keeps inner-product order: python3-faiss reads the 65-d index and finds the exact top-10', async () => {
    const { dir, report } = await indexModel({ model: alsDir, factory: 'IVF64,Flat', nprobe: 64, out: join(work, 'artifacts/als-ivf') });
    const config = readManifest(dir).config.index as { transform: { kind: string } | null; index_metric: string };
    expect(config.transform?.kind).toBe('mips-l2');
    expect(config.index_metric).toBe('l2');
    // nprobe = nlist: the index is exact
    expect(report.measurement.recall).toBe(1);
    const script = [
      'import faiss, numpy as np, sys',
      `d = '${dir}'`,
      `index = faiss.read_index(d + '/${INDEX_FILE}'); index.nprobe = 64`,
      "U = np.load(d + '/user_factors.npy')[:20]; X = np.load(d + '/item_factors.npy')",
      'Q = np.hstack([U, np.zeros((len(U), 1), np.float32)])',
      '_, I = index.search(Q, 10)',
      'E = np.argsort(-(U @ X.T), axis=1, kind="stable")[:, :10]',
      'print(index.d, np.mean([len(set(a) & set(b)) / 10 for a, b in zip(I, E)]))',
    ].join('\n');
    const [d, overlap] = execFileSync(SYSTEM_PYTHON, ['-c', script]).toString().trim().split(' ').map(Number);
    expect(d).toBe(65);
    expect(overlap).toBeGreaterThanOrEqual(0.99);
    // the augmented coordinate makes every item's norm the largest item norm
    const aug = augmentItems({ rows: 2, dim: 2, data: Float32Array.of(3, 4, 1, 0) });
    expect(Array.from(aug.items.data)).toEqual([3, 4, 0, 1, 0, Math.fround(Math.sqrt(24))]);
  });

  it('IVF-PQ stays on inner product when PQ cannot split the extra dimension, and `on` says why', async () => {
    // 64 factors + 1 = 65 = 5 × 13: PQ13 can take the transform, PQ16 and OPQ16 cannot.
    expect(wantsMipsTransform('IVF256,PQ13', 64, 'ip', 'auto')).toBe(true);
    expect(wantsMipsTransform('IVF256,PQ16np', 64, 'ip', 'auto')).toBe(false);
    expect(wantsMipsTransform('OPQ16,IVF256,PQ16', 64, 'ip', 'auto')).toBe(false);
    expect(wantsMipsTransform('HNSW32', 64, 'ip', 'auto')).toBe(false);
    expect(wantsMipsTransform('IVF256,Flat', 64, 'l2', 'auto')).toBe(false);
    const { dir, report } = await indexModel({
      model: alsDir,
      factory: 'IVF16,PQ16np',
      nprobe: 16,
      out: join(work, 'artifacts/als-ivfpq'),
    });
    const config = readManifest(dir).config.index as { transform: unknown; index_metric: string };
    expect(config).toMatchObject({ transform: null, index_metric: 'ip' });
    expect(report.measurement.recall).toBeGreaterThan(0.3);
    await expect(
      indexModel({ model: alsDir, factory: 'IVF16,PQ16np', mipsTransform: 'on', out: join(work, 'artifacts/als-ivfpq-on') }),
    ).rejects.toThrow(
      /makes the vectors 65-dimensional, which "IVF16,PQ16np" cannot index \(PQ16 needs a dimension that is a multiple of 16, not 65\)/,
    );
  });

  it('eval --via-index on an exact IVF index equals exact evaluation', async () => {
    const { dir } = await indexModel({ model: alsDir, factory: 'IVF32,Flat', nprobe: 32, out: join(work, 'artifacts/als-ivf32') });
    const exact = await evaluateRun({ model: dir, ks: [10] });
    const viaIndex = await evaluateRun({ model: dir, ks: [10], viaIndex: {} });
    expect(viaIndex.protocol).toBe('temporal-user frac=0.8 via-index');
    expect(viaIndex.metrics['ndcg@10']).toBeCloseTo(exact.metrics['ndcg@10'], 6);
    expect(viaIndex.metrics['recall@10']).toBeCloseTo(exact.metrics['recall@10'], 6);
  });
});
