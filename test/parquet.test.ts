import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNumericParquet, withDuckDb, writeNumericParquet } from '../src/data/parquet.js';

describe('numeric Parquet I/O', () => {
  it('round-trips typed arrays across chunk boundaries and is readable by plain DuckDB SQL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recsys-pq-'));
    const path = join(dir, 'x.parquet');
    const n = 5000; // more than two 2048-row vectors
    const a = Int32Array.from({ length: n }, (_, i) => i * 3 - 7);
    const b = Float32Array.from({ length: n }, (_, i) => i / 4);
    const t = Float64Array.from({ length: n }, (_, i) => 1_500_000_000 + i * 1000);
    await writeNumericParquet(path, [
      { name: 'a', type: 'INTEGER', data: a },
      { name: 'b', type: 'FLOAT', data: b },
      { name: 'ts', type: 'BIGINT', data: t },
    ]);
    // An independent reader: DuckDB's SQL aggregates over the file.
    const sums = await withDuckDb(async (con) => {
      const r = await con.runAndReadAll(
        `SELECT sum(a)::BIGINT, sum(b)::DOUBLE, sum(ts)::BIGINT, typeof(any_value(ts)) FROM read_parquet('${path}')`,
      );
      return r.getRows()[0];
    });
    expect(Number(sums[0])).toBe((3 * n * (n - 1)) / 2 - 7 * n);
    expect(Number(sums[1])).toBeCloseTo((n * (n - 1)) / 8, 6);
    expect(Number(sums[2])).toBe(1_500_000_000 * n + (1000 * n * (n - 1)) / 2);
    expect(sums[3]).toBe('BIGINT');
    const back = await readNumericParquet(path, [
      { name: 'a', as: 'int32' },
      { name: 'b', as: 'float32' },
      { name: 'ts', as: 'float64' },
    ]);
    expect(Array.from(back.a)).toEqual(Array.from(a));
    expect(Array.from(back.b)).toEqual(Array.from(b));
    expect(Array.from(back.ts)).toEqual(Array.from(t));
    const filtered = await readNumericParquet(path, [{ name: 'a', as: 'int32' }], 'WHERE a < 0');
    expect(Array.from(filtered.a)).toEqual([-7, -4, -1]);
  });
});
