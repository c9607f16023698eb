/**
 * A bijection between raw ids (as in the data) and dense row indices 0..n-1 (as in matrices).
 * Dense indices follow ascending raw id, so the mapping does not depend on row order.
 * Lookups go through a dense table when the raw ids are non-negative and not too sparse
 * (MovieLens-like ids), which maps 25M rows in a fraction of a second; a Map otherwise.
 */
export class IdMap {
  private readonly table: Int32Array | null;
  private readonly index: Map<number, number> | null;

  constructor(readonly ids: Int32Array) {
    const n = ids.length;
    const tableSize = n === 0 ? 0 : denseTableSize(ids);
    if (tableSize !== null) {
      this.index = null;
      this.table = new Int32Array(tableSize).fill(-1);
      for (let i = 0; i < n; i++) {
        if (this.table[ids[i]] !== -1) throw new Error('IdMap: duplicate raw ids');
        this.table[ids[i]] = i;
      }
    } else {
      this.table = null;
      this.index = new Map();
      for (let i = 0; i < n; i++) this.index.set(ids[i], i);
      if (this.index.size !== n) throw new Error('IdMap: duplicate raw ids');
    }
  }

  /** Distinct values of `raw`, sorted ascending. */
  static fromValues(raw: Int32Array): IdMap {
    const tableSize = denseTableSize(raw);
    if (tableSize !== null) {
      // Dense ids: mark and collect, O(n + max).
      const present = new Uint8Array(tableSize);
      for (let i = 0; i < raw.length; i++) present[raw[i]] = 1;
      let n = 0;
      for (let v = 0; v < tableSize; v++) n += present[v];
      const ids = new Int32Array(n);
      for (let v = 0, j = 0; v < tableSize; v++) if (present[v]) ids[j++] = v;
      return new IdMap(ids);
    }
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
    if (this.table) return rawId >= 0 && rawId < this.table.length ? this.table[rawId] : -1;
    return (this.index as Map<number, number>).get(rawId) ?? -1;
  }

  rawId(index: number): number {
    return this.ids[index];
  }

  /** Dense indices for a column of raw ids (-1 for unknown ids). */
  mapAll(raw: Int32Array): Int32Array {
    const out = new Int32Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = this.indexOf(raw[i]);
    return out;
  }

  /** The dense indices of the known raw ids, in order, and the unknown raw ids (e.g. a history's items). */
  split(raw: readonly number[]): { known: Int32Array; unknown: number[] } {
    const known: number[] = [];
    const unknown: number[] = [];
    for (const id of raw) {
      const i = this.indexOf(id);
      if (i >= 0) known.push(i);
      else unknown.push(id);
    }
    return { known: Int32Array.from(known), unknown };
  }
}

/** max + 1 when the ids are non-negative and not too sparse for a lookup table; null otherwise (or when empty). */
function denseTableSize(ids: Int32Array): number | null {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] < min) min = ids[i];
    if (ids[i] > max) max = ids[i];
  }
  return ids.length > 0 && min >= 0 && max < Math.max(1 << 20, 8 * ids.length) ? max + 1 : null;
}
