import { describe, expect, it } from 'vitest';
import { csrFromCoo, csrHas, transpose } from '../../src/matrix/csr.js';
import { Rng } from '../../src/util/rng.js';

/** The same matrix built naively: a Map per row, summed duplicates. */
function naive(nRows: number, rows: Int32Array, cols: Int32Array, values: Float32Array | null): Array<Array<[number, number]>> {
  const out = Array.from({ length: nRows }, () => new Map<number, number>());
  rows.forEach((r, i) => {
    if (r < 0 || cols[i] < 0) return;
    out[r].set(cols[i], (out[r].get(cols[i]) ?? 0) + (values ? values[i] : 1));
  });
  return out.map((m) => [...m.entries()].sort((a, b) => a[0] - b[0]));
}

function rowsOf(m: ReturnType<typeof csrFromCoo>): Array<Array<[number, number]>> {
  return Array.from({ length: m.nRows }, (_, r) =>
    Array.from({ length: m.indptr[r + 1] - m.indptr[r] }, (_, j): [number, number] => [
      m.indices[m.indptr[r] + j],
      m.data[m.indptr[r] + j],
    ]),
  );
}

describe('CSR', () => {
  it('matches a naive build: rows sorted by column, duplicates summed, unknown (-1) ids skipped', () => {
    const rng = new Rng(5);
    const n = 5000;
    const rows = Int32Array.from({ length: n }, () => rng.int(40) - 1);
    const cols = Int32Array.from({ length: n }, () => rng.int(300) - 1);
    const values = Float32Array.from({ length: n }, () => rng.int(5) + 0.5);
    expect(rowsOf(csrFromCoo(39, 299, rows, cols, values))).toEqual(naive(39, rows, cols, values));
    expect(rowsOf(csrFromCoo(39, 299, rows, cols, null))).toEqual(naive(39, rows, cols, null));
  });

  it('sorts a row longer than the packed-key limit (2^21 entries with values) like the naive build', () => {
    const rng = new Rng(9);
    const n = 2_200_000;
    const rows = Int32Array.from({ length: n }, () => rng.int(2));
    const cols = Int32Array.from({ length: n }, () => rng.int(50_000));
    const values = Float32Array.from({ length: n }, () => rng.int(5) + 1);
    rows.fill(0, 0, 2_150_000); // row 0: more than 2^21 = 2,097,152 entries
    // Compared entry by entry: a diff of two million-entry arrays would take vitest minutes to print.
    const got = rowsOf(csrFromCoo(2, 50_000, rows, cols, values)).flat();
    const want = naive(2, rows, cols, values).flat();
    expect(got.length).toBe(want.length);
    expect(got.findIndex((e, i) => e[0] !== want[i][0] || e[1] !== want[i][1])).toBe(-1);
  });

  it('a hand example, its transpose and membership', () => {
    const m = csrFromCoo(2, 3, Int32Array.of(1, 0, 1, 1), Int32Array.of(2, 1, 0, 2), Float32Array.of(1, 2, 3, 4));
    expect(Array.from(m.indptr)).toEqual([0, 1, 3]);
    expect(Array.from(m.indices)).toEqual([1, 0, 2]);
    expect(Array.from(m.data)).toEqual([2, 3, 5]);
    const t = transpose(m);
    expect(rowsOf(t)).toEqual([[[1, 3]], [[0, 2]], [[1, 5]]]);
    expect(csrHas(m, 1, 2)).toBe(true);
    expect(csrHas(m, 0, 2)).toBe(false);
  });
});
