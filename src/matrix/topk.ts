import type { Csr } from './csr.js';

/**
 * Top-k lists for a batch of rows: `items[r*k + j]` is the j-th best item of row r (-1 where
 * fewer than k candidates), `scores` alongside. Ties rank the lower item index first, which
 * is the lower raw id because dense indices follow ascending raw ids.
 */
export interface TopK {
  readonly rows: number;
  readonly k: number;
  readonly items: Int32Array;
  readonly scores: Float32Array;
}

export function allocTopK(rows: number, k: number): TopK {
  return { rows, k, items: new Int32Array(rows * k).fill(-1), scores: new Float32Array(rows * k).fill(-Infinity) };
}

/** `a` ranks below `b`: lower score, or equal score and higher index. */
function worse(sa: number, ia: number, sb: number, ib: number): boolean {
  return sa < sb || (sa === sb && ia > ib);
}

/**
 * Selects the k best entries of `scores[offset .. offset+n)` into row `row` of `out`, skipping
 * the columns listed in `exclude` (sorted ascending) and NaN scores. A bounded min-heap keeps
 * this O(n log k) with no full sort of the catalog.
 */
export function selectTopK(
  scores: Float32Array,
  offset: number,
  n: number,
  exclude: Int32Array | null,
  excludeStart: number,
  excludeEnd: number,
  out: TopK,
  row: number,
  heapItems: Int32Array = new Int32Array(out.k),
  heapScores: Float32Array = new Float32Array(out.k),
): void {
  const k = out.k;
  let size = 0;
  let ex = excludeStart;
  for (let i = 0; i < n; i++) {
    const s = scores[offset + i];
    // Once the heap is full, most entries lose to its worst with one comparison. Indices only
    // grow, so an equal score never displaces a heap entry; NaN ("not a candidate") fails too.
    if (size === k && !(s > heapScores[0])) continue;
    if (exclude !== null && ex < excludeEnd) {
      while (ex < excludeEnd && exclude[ex] < i) ex++;
      if (ex < excludeEnd && exclude[ex] === i) continue;
    }
    if (s !== s) continue; // NaN marks "not a candidate"
    if (size < k) {
      // sift up
      let c = size++;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (!worse(s, i, heapScores[p], heapItems[p])) break;
        heapScores[c] = heapScores[p];
        heapItems[c] = heapItems[p];
        c = p;
      }
      heapScores[c] = s;
      heapItems[c] = i;
    } else if (worse(heapScores[0], heapItems[0], s, i)) {
      siftDownReplace(heapScores, heapItems, size, s, i);
    }
  }
  // Pop the heap from worst to best into the output row.
  const base = row * k;
  for (let j = size - 1; j >= 0; j--) {
    out.items[base + j] = heapItems[0];
    out.scores[base + j] = heapScores[0];
    size--;
    if (size > 0) siftDownReplace(heapScores, heapItems, size, heapScores[size], heapItems[size]);
  }
}

function siftDownReplace(hs: Float32Array, hi: Int32Array, size: number, s: number, item: number): void {
  let c = 0;
  for (;;) {
    const l = 2 * c + 1;
    if (l >= size) break;
    const r = l + 1;
    let m = l;
    if (r < size && worse(hs[r], hi[r], hs[l], hi[l])) m = r;
    if (!worse(hs[m], hi[m], s, item)) break;
    hs[c] = hs[m];
    hi[c] = hi[m];
    c = m;
  }
  hs[c] = s;
  hi[c] = item;
}

/**
 * Top-k of each row of a dense score block (`users.length × nItems`, row-major), excluding
 * each user's row of `exclude` (e.g. the items they saw in training).
 */
export function topKOfScoreBlock(
  scores: Float32Array,
  nItems: number,
  users: Int32Array,
  k: number,
  exclude: Csr | null,
  out: TopK = allocTopK(users.length, k),
  rowOffset = 0,
): TopK {
  const heapItems = new Int32Array(k);
  const heapScores = new Float32Array(k);
  for (let b = 0; b < users.length; b++) {
    const u = users[b];
    const hasRow = exclude !== null && u >= 0 && u < exclude.nRows;
    selectTopK(
      scores,
      b * nItems,
      nItems,
      hasRow ? exclude.indices : null,
      hasRow ? exclude.indptr[u] : 0,
      hasRow ? exclude.indptr[u + 1] : 0,
      out,
      rowOffset + b,
      heapItems,
      heapScores,
    );
  }
  return out;
}
