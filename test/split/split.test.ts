import { describe, expect, it } from 'vitest';
import { splitInteractions, testCount } from '../../src/split/split.js';
import { InputError } from '../../src/util/errors.js';
import { interactionsOf } from '../helpers.js';

const rowsOf = (r: Int32Array): number[] => Array.from(r);

describe('splits', () => {
  it('temporal: cutoff is the timestamp at index floor(frac × N) of the time order; ties at the cutoff go to test', () => {
    // timestamps 1,2,3,4,5,6,7,7,7,8 (shuffled rows): index floor(0.8 × 10) = 8 holds 7.
    const ts = [7, 1, 8, 2, 7, 3, 4, 5, 6, 7];
    const x = interactionsOf(ts.map((t, i) => [i % 3, 100 + i, 4, t]));
    const s = splitInteractions(x, { strategy: 'temporal', frac: 0.8 });
    expect(s.cutoff).toBe(7);
    expect(rowsOf(s.testRows)).toEqual([0, 2, 4, 9]);
    expect(rowsOf(s.trainRows)).toEqual([1, 3, 5, 6, 7, 8]);
  });

  it('temporal-user: the last floor((1 − frac) × n_u) events of each user by (timestamp, item) are test', () => {
    // user 1: 6 events → floor(0.19999999999999996 × 6) = 1 test; user 2: 3 events → 0 test.
    const x = interactionsOf([
      [1, 50, 4, 10],
      [1, 40, 4, 60],
      [1, 30, 4, 30],
      [1, 20, 4, 60],
      [1, 10, 4, 50],
      [1, 60, 4, 20],
      [2, 10, 4, 5],
      [2, 11, 4, 6],
      [2, 12, 4, 7],
    ]);
    const s = splitInteractions(x, { strategy: 'temporal-user', frac: 0.8 });
    // user 1 order: (10,50) (20,60) (30,30) (50,10) (60,20) (60,40): the last is row 1 (t=60, item 40).
    expect(rowsOf(s.testRows)).toEqual([1]);
    const half = splitInteractions(x, { strategy: 'temporal-user', frac: 0.5 });
    // user 1: 3 test → rows 4 (t=50), 3 (t=60, item 20), 1 (t=60, item 40); user 2: floor(0.5 × 3) = 1 → row 8.
    expect(rowsOf(half.testRows)).toEqual([1, 3, 4, 8]);
  });

  it('the test size is floor((1 − frac) × n) in double arithmetic, as NumPy-based tools compute it', () => {
    // 1 − 0.8 = 0.19999999999999996: 5 events → 0 test, 10 → 1, 15 → 2, 50 → 9 (see docs/splits.md).
    expect([5, 6, 10, 15, 20, 50].map((n) => testCount(0.8, n))).toEqual([0, 1, 1, 2, 3, 9]);
    expect([4, 5, 10].map((n) => testCount(0.5, n))).toEqual([2, 2, 5]);
  });

  it('leave-last-n: each user’s last n by (timestamp, item) are test', () => {
    const x = interactionsOf([
      [1, 3, 4, 5],
      [1, 2, 4, 5],
      [1, 1, 4, 1],
      [2, 9, 4, 3],
    ]);
    const s = splitInteractions(x, { strategy: 'leave-last-n', frac: 0, n: 1 });
    // user 1: tie at t=5 broken by item → item 3 (row 0) is last; user 2's only event is test.
    expect(rowsOf(s.testRows)).toEqual([0, 3]);
    expect(() => splitInteractions(x, { strategy: 'leave-last-n', frac: 0 })).toThrow(InputError);
  });

  it('random-user: a seeded random floor((1 − frac) × n_u) per user, reproducible by seed', () => {
    const rows: Array<[number, number, number, number]> = [];
    for (let u = 0; u < 20; u++) for (let i = 0; i < 11; i++) rows.push([u, i, 3, i]);
    const x = interactionsOf(rows);
    const a = splitInteractions(x, { strategy: 'random-user', frac: 0.5, seed: 7 });
    const b = splitInteractions(x, { strategy: 'random-user', frac: 0.5, seed: 7 });
    const c = splitInteractions(x, { strategy: 'random-user', frac: 0.5, seed: 8 });
    expect(rowsOf(a.testRows)).toEqual(rowsOf(b.testRows));
    expect(rowsOf(a.testRows)).not.toEqual(rowsOf(c.testRows));
    const perUser = new Map<number, number>();
    for (const r of a.testRows) perUser.set(x.userId[r], (perUser.get(x.userId[r]) ?? 0) + 1);
    expect([...perUser.values()]).toEqual(Array(20).fill(5));
    // not simply the last events
    expect(rowsOf(a.testRows).some((r) => x.timestamp[r] < 6)).toBe(true);
  });

  it('rejects a fraction outside (0, 1) and an unknown strategy', () => {
    const x = interactionsOf([[1, 1, 1, 1]]);
    expect(() => splitInteractions(x, { strategy: 'temporal', frac: 1.2 })).toThrow(/--frac must be between 0 and 1/);
    expect(() => splitInteractions(x, { strategy: 'bogus' as 'temporal', frac: 0.5 })).toThrow(/not one of/);
  });
});
