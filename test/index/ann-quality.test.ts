import { describe, expect, it } from 'vitest';
import { csrFromCoo } from '../../src/matrix/csr.js';
import { topKOfScoreBlock } from '../../src/matrix/topk.js';
import { buildIndex } from '../../src/index/build.js';
import { clusteredVectors } from '../../src/index/clustered-vectors.js';
import { exactBaseline, measureIndex, recallAtK } from '../../src/index/measure.js';
import { setFaissThreads } from '../../src/index/native.js';
import { searchExcluding, searchIndex } from '../../src/index/search.js';

// One FAISS thread: vitest runs two test files at once on the two cores, and OpenMP
// barriers waiting for a thread without a free core make k-means many times slower.
setFaissThreads(1);

const K = 10;
const items = clusteredVectors({ rows: 5000, dim: 24, clusters: 60, centreSeed: 11, seed: 1 });
const queries = clusteredVectors({ rows: 200, dim: 24, clusters: 60, centreSeed: 11, seed: 2 });
const timing = { singleQueries: 20, minSeconds: 0.01 };
const baseline = exactBaseline(items, queries, K, 'ip', timing);

describe('ANN indexes against exact search', () => {
  it('an IVF index probing all its lists is exact search', () => {
    for (const metric of ['ip', 'l2'] as const) {
      const exact = searchIndex(buildIndex(items, { factory: 'Flat', metric }).index, queries, K);
      const { index } = buildIndex(items, { factory: 'IVF64,Flat', metric, nprobe: 64 });
      expect(index.settings()).toMatchObject({ nlist: 64, nprobe: 64 });
      const found = searchIndex(index, queries, K);
      expect(Array.from(found.labels)).toEqual(Array.from(exact.labels));
    }
  });

  it('recall grows with nprobe, from approximate to 1 at nprobe = nlist', () => {
    const { index } = buildIndex(items, { factory: 'IVF64,Flat' });
    const recalls = [1, 4, 16, 64].map((nprobe) => {
      index.setSearchParams({ nprobe });
      return measureIndex(index, baseline, queries, K, timing).recall;
    });
    expect(recalls[0]).toBeLessThan(0.9);
    for (let i = 1; i < recalls.length; i++) expect(recalls[i]).toBeGreaterThanOrEqual(recalls[i - 1]);
    expect(recalls[3]).toBe(1);
  });

  it('HNSW finds nearly all exact neighbours, more with a larger efSearch', () => {
    const { index, stats } = buildIndex(items, { factory: 'HNSW32', efSearch: 16 });
    expect(stats.trainRows).toBe(0);
    const low = measureIndex(index, baseline, queries, K, timing);
    index.setSearchParams({ efSearch: 128 });
    const high = measureIndex(index, items, queries, K, timing);
    expect(high.recall).toBeGreaterThan(0.97);
    expect(high.recall).toBeGreaterThanOrEqual(low.recall);
    expect(high.index.singleQps).toBeGreaterThan(0);
    expect(high.exact.batchedQps).toBeGreaterThan(0);
  });

  it('IVF-PQ compresses the vectors and still finds most neighbours', () => {
    const { index, stats } = buildIndex(items, { factory: 'IVF32,PQ8np', nprobe: 32 });
    expect(stats.trainRows).toBe(5000);
    const m = measureIndex(index, baseline, queries, K, timing);
    expect(m.recall).toBeGreaterThan(0.5);
    expect(m.recall).toBeLessThan(1);
    const indexBytes = index.native.toBuffer().length;
    expect(indexBytes).toBeLessThan(items.data.byteLength / 4);
  });

  it('the same seed gives the same trained index, another seed another one', () => {
    const bytes = (seed: number) => buildIndex(items, { factory: 'IVF16,Flat', seed, trainRows: 1000 }).index.native.toBuffer();
    expect(bytes(5).equals(bytes(5))).toBe(true);
    expect(bytes(5).equals(bytes(6))).toBe(false);
  });

  it('searchExcluding equals brute-force top-k with seen items removed', () => {
    const { index } = buildIndex(items, { factory: 'Flat' });
    // Each query "saw" its 3 exact nearest items and item 0.
    const rows: number[] = [];
    const cols: number[] = [];
    for (let q = 0; q < queries.rows; q++) {
      for (const item of [0, ...baseline.truth.labels.subarray(q * K, q * K + 3)]) {
        rows.push(q);
        cols.push(item);
      }
    }
    const seen = csrFromCoo(queries.rows, items.rows, Int32Array.from(rows), Int32Array.from(cols), null);
    const users = Int32Array.from({ length: queries.rows }, (_, q) => queries.rows - 1 - q);
    const got = searchExcluding(index, queries, users, K, seen, { batchRows: 64 });

    const scores = new Float32Array(users.length * items.rows);
    for (let b = 0; b < users.length; b++) {
      for (let i = 0; i < items.rows; i++) {
        let s = 0;
        for (let d = 0; d < items.dim; d++) s += queries.data[users[b] * items.dim + d] * items.data[i * items.dim + d];
        scores[b * items.rows + i] = s;
      }
    }
    const want = topKOfScoreBlock(scores, items.rows, users, K, seen);
    expect(Array.from(got.items)).toEqual(Array.from(want.items));
    for (let i = 0; i < want.scores.length; i++) expect(got.scores[i]).toBeCloseTo(want.scores[i], 3);
  });
});

describe('recallAtK', () => {
  it('counts the share of exact labels found, ignoring padding', () => {
    const truth = { rows: 2, k: 3, labels: Int32Array.from([1, 2, 3, 7, -1, -1]), distances: new Float32Array(6) };
    const found = { rows: 2, k: 3, labels: Int32Array.from([3, 9, 1, 8, 7, -1]), distances: new Float32Array(6) };
    // Row 0: 2 of 3 found; row 1: 1 of 1 found.
    expect(recallAtK(found, truth)).toBeCloseTo((2 / 3 + 1) / 2, 12);
  });
});
