import type { Csr } from '../matrix/csr.js';
import { allocTopK, type TopK } from '../matrix/topk.js';
import type { Embeddings } from '../matrix/embeddings.js';
import { InputError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { checkPositiveInt, type AnnIndex } from './ann-index.js';
import { checkFinite, checkShape, takeRows } from './vectors.js';

/**
 * The k nearest labels of each query, best first (`labels[q*k + j]`, -1 where the index
 * returned fewer than k), with FAISS's distances: inner products (descending) for ip,
 * squared distances (ascending) for l2.
 */
export interface NeighborLists {
  readonly rows: number;
  readonly k: number;
  readonly labels: Int32Array;
  readonly distances: Float32Array;
}

const DEFAULT_BATCH_ROWS = 16_384;

function checkQueries(index: AnnIndex, queries: Embeddings): void {
  checkShape(queries, 'query vectors');
  if (queries.dim !== index.dim) {
    throw new InputError(`query vectors have dimension ${queries.dim} but ${index.source} has ${index.dim}`);
  }
}

/** Batched k-nearest-neighbour search of every query row. */
export function searchIndex(index: AnnIndex, queries: Embeddings, k: number, opts: { batchRows?: number } = {}): NeighborLists {
  checkPositiveInt('k', k);
  checkQueries(index, queries);
  // Every row is searched: every row is checked.
  checkFinite(queries.data, queries.dim, 'query vectors');
  const batchRows = opts.batchRows ?? DEFAULT_BATCH_ROWS;
  const { rows, dim } = queries;
  const labels = new Int32Array(rows * k);
  const distances = new Float32Array(rows * k);
  const progress = new Progress('index search', rows, 'queries');
  for (let r = 0; r < rows; r += batchRows) {
    const end = Math.min(rows, r + batchRows);
    const found = index.native.searchTyped(queries.data.subarray(r * dim, end * dim), k);
    labels.set(found.labels, r * k);
    distances.set(found.distances, r * k);
    progress.tick(end - r);
  }
  progress.finish({ k });
  return { rows, k, labels, distances };
}

/**
 * Top-k items for the given query rows (e.g. users, whose vectors are `queries` rows), best
 * first, never returning an item of the row's `exclude` entries (e.g. items seen in
 * training): each batch searches k plus its largest exclusion count, then filters. Scores
 * are inner products for ip and negated squared distances for l2, so higher is better.
 */
export function searchExcluding(
  index: AnnIndex,
  queries: Embeddings,
  rows: Int32Array,
  k: number,
  exclude: Csr | null,
  opts: { batchRows?: number } = {},
): TopK {
  checkPositiveInt('k', k);
  checkQueries(index, queries);
  for (const r of rows) {
    if (!Number.isInteger(r) || r < 0 || r >= queries.rows) throw new InputError(`query row ${r} is not in 0..${queries.rows - 1}`);
  }
  const batchRows = opts.batchRows ?? DEFAULT_BATCH_ROWS;
  const out = allocTopK(rows.length, k);
  const sign = index.metric === 'ip' ? 1 : -1;
  const progress = new Progress('index recommend', rows.length, 'queries');
  for (let b = 0; b < rows.length; b += batchRows) {
    const batch = rows.subarray(b, Math.min(rows.length, b + batchRows));
    let maxExcluded = 0;
    if (exclude !== null) {
      for (const r of batch) {
        if (r < exclude.nRows) maxExcluded = Math.max(maxExcluded, exclude.indptr[r + 1] - exclude.indptr[r]);
      }
    }
    const kSearch = Math.min(k + maxExcluded, Math.max(index.count, k));
    // Only the rows searched are checked: a server asks for one user among millions of rows.
    const vectors = takeRows(queries, batch).data;
    checkFinite(vectors, queries.dim, 'query vectors', (j) => batch[j]);
    const found = index.native.searchTyped(vectors, kSearch);
    for (let q = 0; q < batch.length; q++) {
      const r = batch[q];
      const hasRow = exclude !== null && r < exclude.nRows;
      const lo = hasRow ? exclude.indptr[r] : 0;
      const hi = hasRow ? exclude.indptr[r + 1] : 0;
      let kept = 0;
      for (let j = 0; j < kSearch && kept < k; j++) {
        const item = found.labels[q * kSearch + j];
        if (item < 0) break;
        if (hasRow && sortedContains(exclude.indices, lo, hi, item)) continue;
        out.items[(b + q) * k + kept] = item;
        out.scores[(b + q) * k + kept] = sign * found.distances[q * kSearch + j];
        kept++;
      }
    }
    progress.tick(batch.length);
  }
  progress.finish({ k });
  return out;
}

function sortedContains(a: Int32Array, lo: number, hi: number, value: number): boolean {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < value) lo = mid + 1;
    else if (a[mid] > value) hi = mid;
    else return true;
  }
  return false;
}
