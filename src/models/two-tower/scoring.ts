import * as tf from '@tensorflow/tfjs-core';
import type { Csr } from '../../matrix/csr.js';
import { allocTopK, topKOfScoreBlock, type TopK } from '../../matrix/topk.js';
import type { Embeddings } from '../model.js';

/** Score block size: query rows × items kept at about 64 MB of float32. */
const BLOCK_SCORES = 16 * 1024 * 1024;

/**
 * Exact top-k by inner product of each query row with every item row, excluding per query
 * the items in row `excludeRows[q]` of `exclude`. Scores are computed block by block as one
 * matrix product on the TensorFlow.js backend (items transposed once, so the product is a
 * plain A·B, XNNPACK's fast path on wasm), then reduced with the shared heap top-k.
 */
export function dotTopK(queries: Embeddings, items: Embeddings, k: number, excludeRows: Int32Array, exclude: Csr | null): TopK {
  if (queries.dim !== items.dim) throw new Error(`dotTopK: query dimension ${queries.dim} differs from item dimension ${items.dim}`);
  const out = allocTopK(queries.rows, k);
  if (queries.rows === 0 || items.rows === 0) return out;
  const d = items.dim;
  const itemsT = tf.tidy(() => tf.transpose(tf.tensor2d(items.data, [items.rows, d])));
  try {
    const block = Math.max(1, Math.floor(BLOCK_SCORES / items.rows));
    for (let start = 0; start < queries.rows; start += block) {
      const n = Math.min(block, queries.rows - start);
      const scores = tf.tidy(() => tf.matMul(tf.tensor2d(queries.data.subarray(start * d, (start + n) * d), [n, d]), itemsT));
      topKOfScoreBlock(scores.dataSync() as Float32Array, items.rows, excludeRows.subarray(start, start + n), k, exclude, out, start);
      scores.dispose();
    }
  } finally {
    itemsT.dispose();
  }
  return out;
}
