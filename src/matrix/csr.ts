/**
 * Compressed sparse rows: row r's entries are indices[indptr[r] .. indptr[r+1]) with the
 * matching values in data. Column indices within a row are sorted ascending and unique.
 */
export interface Csr {
  readonly nRows: number;
  readonly nCols: number;
  readonly indptr: Int32Array;
  readonly indices: Int32Array;
  readonly data: Float32Array;
}

/**
 * Builds a CSR from coordinate triples; duplicate (row, col) pairs are summed.
 * Rows or columns < 0 are skipped (unknown ids). Entries are bucketed by row with a counting
 * sort, then each row is sorted with the engine's native typed-array sort (columns alone, or
 * column and position packed in one float64 when values ride along): O(nnz log(row length)).
 */
export function csrFromCoo(nRows: number, nCols: number, rows: Int32Array, cols: Int32Array, values: Float32Array | null): Csr {
  const n = rows.length;
  const rowStart = new Int32Array(nRows + 1);
  for (let i = 0; i < n; i++) if (rows[i] >= 0 && cols[i] >= 0) rowStart[rows[i] + 1]++;
  for (let r = 0; r < nRows; r++) rowStart[r + 1] += rowStart[r];
  const valid = rowStart[nRows];
  const rowFill = rowStart.slice(0, nRows);
  const idx = new Int32Array(valid);
  const val = new Float32Array(valid);
  for (let i = 0; i < n; i++) {
    const r = rows[i];
    if (r < 0 || cols[i] < 0) continue;
    const q = rowFill[r]++;
    idx[q] = cols[i];
    val[q] = values ? values[i] : 1;
  }
  let longest = 0;
  for (let r = 0; r < nRows; r++) longest = Math.max(longest, rowStart[r + 1] - rowStart[r]);
  const packedLength = Math.min(longest, PACKED_ROW_LIMIT);
  const packed = values ? new Float64Array(packedLength) : null;
  const scratch = values ? new Float32Array(packedLength) : null;
  for (let r = 0; r < nRows; r++) {
    const a = rowStart[r];
    const b = rowStart[r + 1];
    if (b - a < 2) continue;
    if (!packed || !scratch) {
      idx.subarray(a, b).sort();
    } else if (b - a > PACKED_ROW_LIMIT) {
      sortLongRow(idx, val, a, b);
    } else {
      // column × 2^21 + position is exact in a float64 (columns < 2^31, positions < 2^21).
      for (let q = a; q < b; q++) packed[q - a] = idx[q] * PACKED_ROW_LIMIT + (q - a);
      const view = packed.subarray(0, b - a).sort();
      scratch.set(val.subarray(a, b));
      for (let q = 0; q < view.length; q++) {
        const pos = view[q] % PACKED_ROW_LIMIT;
        idx[a + q] = (view[q] - pos) / PACKED_ROW_LIMIT;
        val[a + q] = scratch[pos];
      }
    }
  }
  // Merge duplicates (adjacent now) in place.
  const indptr = new Int32Array(nRows + 1);
  let out = 0;
  for (let r = 0; r < nRows; r++) {
    indptr[r] = out;
    for (let p = rowStart[r]; p < rowStart[r + 1]; p++) {
      if (out > indptr[r] && idx[out - 1] === idx[p]) {
        val[out - 1] += val[p];
      } else {
        idx[out] = idx[p];
        val[out] = val[p];
        out++;
      }
    }
  }
  indptr[nRows] = out;
  return { nRows, nCols, indptr, indices: out === valid ? idx : idx.slice(0, out), data: out === valid ? val : val.slice(0, out) };
}

/** Rows longer than this are sorted by an index sort instead of packed (column, position) keys. */
const PACKED_ROW_LIMIT = 2097152;

/** Rows of more than PACKED_ROW_LIMIT entries (with values): an index sort, ties in position order. */
function sortLongRow(idx: Int32Array, val: Float32Array, a: number, b: number): void {
  const order = Int32Array.from({ length: b - a }, (_, i) => a + i).sort((x, y) => idx[x] - idx[y] || x - y);
  const c = Int32Array.from(order, (o) => idx[o]);
  const v = Float32Array.from(order, (o) => val[o]);
  idx.set(c, a);
  val.set(v, a);
}

/** The transpose (item × user from user × item), itself a valid CSR. */
export function transpose(m: Csr): Csr {
  const counts = new Int32Array(m.nCols + 1);
  for (let p = 0; p < m.indices.length; p++) counts[m.indices[p] + 1]++;
  for (let c = 0; c < m.nCols; c++) counts[c + 1] += counts[c];
  const fill = counts.slice(0, m.nCols);
  const indices = new Int32Array(m.indices.length);
  const data = new Float32Array(m.indices.length);
  for (let r = 0; r < m.nRows; r++) {
    for (let p = m.indptr[r]; p < m.indptr[r + 1]; p++) {
      const q = fill[m.indices[p]]++;
      indices[q] = r;
      data[q] = m.data[p];
    }
  }
  return { nRows: m.nCols, nCols: m.nRows, indptr: counts, indices, data };
}

export function rowNnz(m: Csr, r: number): number {
  return m.indptr[r + 1] - m.indptr[r];
}

/** Binary search for column c in row r. */
export function csrHas(m: Csr, r: number, c: number): boolean {
  let lo = m.indptr[r];
  let hi = m.indptr[r + 1] - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = m.indices[mid];
    if (v === c) return true;
    if (v < c) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
