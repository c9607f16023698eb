import { csrHas, type Csr } from '../matrix/csr.js';
import { allocTopK, selectTopK, type TopK } from '../matrix/topk.js';

/**
 * Top-k over the few items a score vector touches (a co-occurrence scatter, a window's counts)
 * rather than the whole catalogue: the touched items are sorted ascending, so the shared heap
 * selection breaks ties by the lower item index as every other top-k in the project does.
 */
export class SparseTopK {
  private buffer = new Float32Array(1024);
  private bufferItems = new Int32Array(1024);
  private readonly row: TopK;

  constructor(readonly k: number) {
    this.row = allocTopK(1, k);
  }

  /**
   * Writes the best k of `scores[touched[0 .. n))` into row `outRow` of `out` (whose k must be
   * this k), leaving out items in row `user` of `exclude`. Sorts `touched[0 .. n)` in place.
   */
  select(scores: Float32Array, touched: Int32Array, n: number, exclude: Csr | null, user: number, out: TopK, outRow: number): void {
    const items = touched.subarray(0, n).sort();
    if (this.buffer.length < n) {
      this.buffer = new Float32Array(n);
      this.bufferItems = new Int32Array(n);
    }
    const canExclude = exclude !== null && user >= 0 && user < exclude.nRows;
    let m = 0;
    for (let p = 0; p < n; p++) {
      const item = items[p];
      if (canExclude && csrHas(exclude, user, item)) continue;
      this.buffer[m] = scores[item];
      this.bufferItems[m++] = item;
    }
    this.row.items.fill(-1);
    this.row.scores.fill(-Infinity);
    selectTopK(this.buffer, 0, m, null, 0, 0, this.row, 0);
    const base = outRow * this.k;
    for (let j = 0; j < this.k; j++) {
      const b = this.row.items[j];
      out.items[base + j] = b < 0 ? -1 : this.bufferItems[b];
      out.scores[base + j] = b < 0 ? -Infinity : this.row.scores[j];
    }
  }
}
