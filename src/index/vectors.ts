import type { Embeddings } from '../matrix/embeddings.js';
import { InputError } from '../util/errors.js';
import type { Rng } from '../util/rng.js';

/** Checks shape and values: a NaN or infinite coordinate would silently corrupt an index. */
export function checkEmbeddings(emb: Embeddings, what: string): void {
  checkShape(emb, what);
  checkFinite(emb.data, emb.dim, what);
}

/** At least one row and one dimension, and as many values as they make. */
export function checkShape(emb: Embeddings, what: string): void {
  const { rows, dim, data } = emb;
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(dim) || dim < 1) {
    throw new InputError(`${what}: expected at least one row and one dimension, got ${rows} x ${dim}`);
  }
  if (data.length !== rows * dim) {
    throw new InputError(`${what}: ${data.length} values do not make ${rows} rows of dimension ${dim}`);
  }
}

/** Every value finite; `rowName` gives the row a message names for a row of `data` (default: its position). */
export function checkFinite(data: Float32Array, dim: number, what: string, rowName: (row: number) => number = (row) => row): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) throw new InputError(`${what}: row ${rowName(Math.floor(i / dim))}, dimension ${i % dim} is ${v}`);
  }
}

/** `count` distinct indices of 0..n-1 in ascending order (partial Fisher-Yates shuffle). */
export function sampleIndices(n: number, count: number, rng: Rng): Int32Array {
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  const m = Math.min(count, n);
  for (let i = 0; i < m; i++) {
    const j = i + rng.int(n - i);
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  return perm.slice(0, m).sort();
}

/** A copy of the given rows, in the given order. */
export function takeRows(emb: Embeddings, rows: Int32Array): Embeddings {
  const { dim } = emb;
  const data = new Float32Array(rows.length * dim);
  for (let r = 0; r < rows.length; r++) data.set(emb.data.subarray(rows[r] * dim, (rows[r] + 1) * dim), r * dim);
  return { rows: rows.length, dim, data };
}

/** A seeded sample of `count` distinct rows (all rows, uncopied, when count >= rows). */
export function sampleRows(emb: Embeddings, count: number, rng: Rng): Embeddings {
  if (count >= emb.rows) return emb;
  return takeRows(emb, sampleIndices(emb.rows, count, rng));
}
