/**
 * Chunk boundaries for the kernel pool: `bounds[c] .. bounds[c+1]` is chunk c's row range.
 * Boundaries depend only on the data and the requested count, never on the thread count.
 */

/** `count` near-equal contiguous ranges over n rows (fewer when n is small). */
export function evenChunks(n: number, count: number): Int32Array {
  const chunks = Math.max(1, Math.min(count, n));
  const bounds = new Int32Array(chunks + 1);
  for (let c = 0; c <= chunks; c++) bounds[c] = Math.floor((c * n) / chunks);
  return bounds;
}

/**
 * Contiguous ranges of CSR rows with near-equal work, where a row costs
 * `rowCost + nnzCost × nnz`: a few very active users must not make one chunk the straggler.
 */
export function balancedChunks(indptr: Int32Array, count: number, rowCost: number, nnzCost: number): Int32Array {
  const n = indptr.length - 1;
  const total = rowCost * n + nnzCost * indptr[n];
  const chunks = Math.max(1, Math.min(count, n));
  const bounds: number[] = [0];
  let next = total / chunks;
  for (let r = 0; r < n && bounds.length < chunks; r++) {
    const doneCost = rowCost * (r + 1) + nnzCost * indptr[r + 1];
    if (doneCost >= next) {
      bounds.push(r + 1);
      next = (total * bounds.length) / chunks;
    }
  }
  if (bounds[bounds.length - 1] !== n) bounds.push(n);
  return Int32Array.from(bounds);
}
