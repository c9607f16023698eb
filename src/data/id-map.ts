/**
 * A bijection between raw ids (as in the data) and dense row indices 0..n-1 (as in matrices).
 * Dense indices follow ascending raw id, so the mapping does not depend on row order.
 */
export class IdMap {
  private readonly index: Map<number, number>;

  constructor(readonly ids: Int32Array) {
    this.index = new Map();
    for (let i = 0; i < ids.length; i++) this.index.set(ids[i], i);
    if (this.index.size !== ids.length) throw new Error('IdMap: duplicate raw ids');
  }

  /** Distinct values of `raw`, sorted ascending. */
  static fromValues(raw: Int32Array): IdMap {
    const sorted = Int32Array.from(raw).sort();
    let n = 0;
    for (let i = 0; i < sorted.length; i++) {
      if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[n++] = sorted[i];
    }
    return new IdMap(sorted.slice(0, n));
  }

  get size(): number {
    return this.ids.length;
  }

  /** Dense index of a raw id, or -1 when unknown. */
  indexOf(rawId: number): number {
    return this.index.get(rawId) ?? -1;
  }

  rawId(index: number): number {
    return this.ids[index];
  }

  /** Dense indices for a column of raw ids (-1 for unknown ids). */
  mapAll(raw: Int32Array): Int32Array {
    const out = new Int32Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = this.index.get(raw[i]) ?? -1;
    return out;
  }
}
