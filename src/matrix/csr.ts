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
 * Rows or columns < 0 are skipped (unknown ids). O(nnz + nRows) with a counting sort.
 */
export function csrFromCoo(
  nRows: number,
  nCols: number,
  rows: Int32Array,
  cols: Int32Array,
  values: Float32Array | null,
): Csr {
  const counts = new Int32Array(nRows + 1);
  for (let i = 0; i < rows.length; i++) if (rows[i] >= 0 && cols[i] >= 0) counts[rows[i] + 1]++;
  for (let r = 0; r < nRows; r++) counts[r + 1] += counts[r];
  const fill = counts.slice(0, nRows);
  const nnzRaw = counts[nRows];
  const idx = new Int32Array(nnzRaw);
  const val = new Float32Array(nnzRaw);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const c = cols[i];
    if (r < 0 || c < 0) continue;
    const p = fill[r]++;
    idx[p] = c;
    val[p] = values ? values[i] : 1;
  }
  // Sort each row by column and merge duplicates.
  const indptr = new Int32Array(nRows + 1);
  let out = 0;
  for (let r = 0; r < nRows; r++) {
    const start = counts[r];
    const end = counts[r + 1];
    sortRowByColumn(idx, val, start, end);
    indptr[r] = out;
    for (let p = start; p < end; p++) {
      if (p > start && idx[p] === idx[out - 1] && out > indptr[r]) {
        val[out - 1] += val[p];
      } else {
        idx[out] = idx[p];
        val[out] = val[p];
        out++;
      }
    }
  }
  indptr[nRows] = out;
  return { nRows, nCols, indptr, indices: idx.slice(0, out), data: val.slice(0, out) };
}

function sortRowByColumn(idx: Int32Array, val: Float32Array, start: number, end: number): void {
  // Insertion sort for short rows; index sort for long ones.
  const n = end - start;
  if (n < 32) {
    for (let i = start + 1; i < end; i++) {
      const c = idx[i];
      const v = val[i];
      let j = i - 1;
      while (j >= start && idx[j] > c) {
        idx[j + 1] = idx[j];
        val[j + 1] = val[j];
        j--;
      }
      idx[j + 1] = c;
      val[j + 1] = v;
    }
    return;
  }
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = start + i;
  order.sort((a, b) => idx[a] - idx[b]);
  const c2 = new Int32Array(n);
  const v2 = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    c2[i] = idx[order[i]];
    v2[i] = val[order[i]];
  }
  idx.set(c2, start);
  val.set(v2, start);
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
