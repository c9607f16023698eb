import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../../src/artifacts/npy.js';
import type { Metric } from '../../src/index/ann-index.js';
import { buildIndex } from '../../src/index/build.js';
import { clusteredVectors } from '../../src/index/clustered-vectors.js';
import { readIndex, writeIndex } from '../../src/index/io.js';
import { setFaissThreads } from '../../src/index/native.js';
import { searchIndex } from '../../src/index/search.js';

// Indexes written here must be read by Debian's python3-faiss (what a Python serving stack
// uses) and answer the same queries with the same neighbours.
const dir = mkdtempSync(join(tmpdir(), 'recsys-index-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

setFaissThreads(1); // see ann-quality.test.ts
const K = 10;
const items = clusteredVectors({ rows: 3000, dim: 16, clusters: 40, centreSeed: 7, seed: 1 });
const queries = clusteredVectors({ rows: 40, dim: 16, clusters: 40, centreSeed: 7, seed: 2 });

const PYTHON = `
import sys, json, faiss, numpy as np
d = sys.argv[1]
q = np.load(d + '/queries.npy')
x = np.load(d + '/items.npy')
out = {}
for name in sys.argv[2:]:
    index = faiss.read_index(d + '/' + name + '.faiss')
    D, I = index.search(q, ${K})
    np.save(d + '/' + name + '.labels.npy', I.astype(np.int32))
    np.save(d + '/' + name + '.distances.npy', D)
    info = {'ntotal': index.ntotal, 'd': index.d, 'metric': int(index.metric_type)}
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        info['nprobe'] = ivf.nprobe
    if hasattr(index, 'hnsw'):
        info['efSearch'] = index.hnsw.efSearch
    out[name] = info
# Exact inner-product top-k by brute force, independent of FAISS.
scores = q @ x.T
np.save(d + '/numpy-ip.labels.npy', np.argsort(-scores, axis=1, kind='stable')[:, :${K}].astype(np.int32))
print(json.dumps(out))
`;

interface Case {
  name: string;
  factory: string;
  metric: Metric;
  nprobe?: number;
  efSearch?: number;
}
const CASES: Case[] = [
  { name: 'flat-ip', factory: 'Flat', metric: 'ip' },
  { name: 'flat-l2', factory: 'Flat', metric: 'l2' },
  { name: 'ivf-ip', factory: 'IVF32,Flat', metric: 'ip', nprobe: 4 },
  { name: 'hnsw-ip', factory: 'HNSW16', metric: 'ip', efSearch: 24 },
  { name: 'ivfpq-l2', factory: 'IVF16,PQ4np', metric: 'l2', nprobe: 3 },
];

describe('FAISS index files and python3-faiss', () => {
  const ours = new Map<string, { labels: Int32Array; distances: Float32Array }>();
  for (const c of CASES) {
    const { index } = buildIndex(items, { factory: c.factory, metric: c.metric, nprobe: c.nprobe, efSearch: c.efSearch, seed: 3 });
    const bytes = writeIndex(index, join(dir, `${c.name}.faiss`));
    expect(bytes).toBeGreaterThan(0);
    ours.set(c.name, searchIndex(index, queries, K));
  }
  writeNpy(join(dir, 'queries.npy'), queries.data, [queries.rows, queries.dim]);
  writeNpy(join(dir, 'items.npy'), items.data, [items.rows, items.dim]);
  const info = JSON.parse(
    execFileSync('/usr/bin/python3', ['-c', PYTHON, dir, ...CASES.map((c) => c.name)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  ) as Record<string, { ntotal: number; d: number; metric: number; nprobe?: number; efSearch?: number }>;

  it.each(CASES)('$name: Python reads it with its settings and finds the same neighbours', (c) => {
    expect(info[c.name]).toEqual({
      ntotal: 3000,
      d: 16,
      metric: c.metric === 'ip' ? 0 : 1,
      ...(c.nprobe !== undefined ? { nprobe: c.nprobe } : {}),
      ...(c.efSearch !== undefined ? { efSearch: c.efSearch } : {}),
    });
    const mine = ours.get(c.name)!;
    const labels = readNpy(join(dir, `${c.name}.labels.npy`)).data as Int32Array;
    const distances = readNpy(join(dir, `${c.name}.distances.npy`)).data as Float32Array;
    expect(Array.from(mine.labels)).toEqual(Array.from(labels));
    for (let i = 0; i < distances.length; i++) expect(mine.distances[i]).toBeCloseTo(distances[i], 3);
  });

  it('exact inner-product search agrees with numpy brute force', () => {
    const numpy = readNpy(join(dir, 'numpy-ip.labels.npy')).data as Int32Array;
    expect(Array.from(ours.get('flat-ip')!.labels)).toEqual(Array.from(numpy));
  });

  it.each(CASES)('$name: reading the file back gives the same index', (c) => {
    const index = readIndex(join(dir, `${c.name}.faiss`));
    expect([index.count, index.dim, index.metric]).toEqual([3000, 16, c.metric]);
    expect(index.settings().nprobe).toBe(c.nprobe);
    expect(index.settings().efSearch).toBe(c.efSearch);
    expect(Array.from(searchIndex(index, queries, K).labels)).toEqual(Array.from(ours.get(c.name)!.labels));
  });
});
