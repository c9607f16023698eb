import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseMetric } from '../../src/index/ann-index.js';
import { buildIndex } from '../../src/index/build.js';
import { clusteredVectors } from '../../src/index/clustered-vectors.js';
import { readIndex, writeIndex } from '../../src/index/io.js';
import { setFaissThreads } from '../../src/index/native.js';
import { searchExcluding, searchIndex } from '../../src/index/search.js';
import { EXIT_BAD_INPUT, InputError, RecsysError } from '../../src/util/errors.js';

setFaissThreads(1); // see ann-quality.test.ts
const dir = mkdtempSync(join(tmpdir(), 'recsys-index-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const items = clusteredVectors({ rows: 500, dim: 8, clusters: 10, centreSeed: 3, seed: 1 });

function inputError(fn: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(InputError);
  expect((caught as InputError).exitCode).toBe(EXIT_BAD_INPUT);
  expect((caught as Error).message).toMatch(message);
}

describe('index input errors', () => {
  it('names a bad factory string, metric or vector', () => {
    inputError(() => buildIndex(items, { factory: 'IVF12,Nonsense' }), /invalid FAISS factory string "IVF12,Nonsense"/);
    inputError(() => parseMetric('cosine'), /unknown metric "cosine": expected ip or l2/);
    const bad = { rows: 2, dim: 3, data: Float32Array.from([0, 1, 2, 3, Number.NaN, 5]) };
    inputError(() => buildIndex(bad, { factory: 'Flat' }), /item embeddings: row 1, dimension 1 is NaN/);
    inputError(
      () => buildIndex({ rows: 2, dim: 3, data: new Float32Array(5) }, { factory: 'Flat' }),
      /5 values do not make 2 rows of dimension 3/,
    );
  });

  it('refuses more IVF lists than training vectors', () => {
    inputError(() => buildIndex(items, { factory: 'IVF1024,Flat' }), /1024 lists but only 500 vectors/);
  });

  it('refuses search settings the index type does not have', () => {
    const { index: hnsw } = buildIndex(items, { factory: 'HNSW8' });
    inputError(() => hnsw.setSearchParams({ nprobe: 4 }), /nprobe applies to IVF indexes; HNSW8 is not one/);
    const { index: ivf } = buildIndex(items, { factory: 'IVF8,Flat' });
    inputError(() => ivf.setSearchParams({ efSearch: 4 }), /efSearch applies to HNSW indexes/);
    inputError(() => ivf.setSearchParams({ nprobe: 9 }), /nprobe 9 exceeds the 8 lists of IVF8,Flat/);
    inputError(() => ivf.setSearchParams({ nprobe: 0 }), /nprobe must be an integer >= 1, got 0/);
  });

  it('refuses queries of another dimension or rows out of range', () => {
    const { index } = buildIndex(items, { factory: 'Flat' });
    const queries = { rows: 1, dim: 4, data: new Float32Array(4) };
    inputError(() => searchIndex(index, queries, 5), /query vectors have dimension 4 but Flat has 8/);
    inputError(() => searchExcluding(index, items, Int32Array.from([500]), 5, null), /query row 500 is not in 0..499/);
  });

  it('pads with -1 when k exceeds the vectors in the index', () => {
    const { index } = buildIndex({ rows: 3, dim: 8, data: items.data.slice(0, 24) }, { factory: 'Flat' });
    const found = searchIndex(index, { rows: 1, dim: 8, data: items.data.slice(0, 8) }, 5);
    expect(Array.from(found.labels.slice(3))).toEqual([-1, -1]);
    expect(new Set(found.labels.slice(0, 3))).toEqual(new Set([0, 1, 2]));
  });

  it('names the file it cannot read, and leaves no temporary file when a write fails', () => {
    inputError(() => readIndex(join(dir, 'missing.faiss')), /missing\.faiss: no such index file/);
    writeFileSync(join(dir, 'garbage.faiss'), 'not an index');
    inputError(() => readIndex(join(dir, 'garbage.faiss')), /garbage\.faiss: not a readable FAISS index/);

    const { index } = buildIndex(items, { factory: 'Flat' });
    writeFileSync(join(dir, 'a-file'), '');
    expect(() => writeIndex(index, join(dir, 'a-file', 'x.faiss'))).toThrow(RecsysError);
    const target = join(dir, 'sub');
    expect(writeIndex(index, join(target, 'ok.faiss'))).toBeGreaterThan(500 * 8 * 4);
    // Renaming the finished file onto a directory fails: the temporary file must go.
    expect(() => writeIndex(index, target)).toThrow(/writing the index to .*sub failed/);
    expect(readdirSync(dir).sort()).toEqual(['a-file', 'garbage.faiss', 'sub']);
    expect(readdirSync(target)).toEqual(['ok.faiss']);
  });
});
