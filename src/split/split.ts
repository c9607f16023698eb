import { InputError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { selectRows, type Interactions } from '../data/interactions.js';

/**
 * Leakage-safe train/test splits with exact, documented definitions (docs/splits.md), so
 * results compare across tools:
 * - temporal: sort by (timestamp, user, item); cutoff = timestamp at index floor(frac × N);
 *   train = timestamp < cutoff, test = timestamp ≥ cutoff.
 * - temporal-user: per user, sort by (timestamp, item); the last floor((1 − frac) × n_u) are test.
 * - random-user: per user, a seeded random floor((1 − frac) × n_u) are test.
 * - leave-last-n: per user, the last n by (timestamp, item) are test.
 * Remaining ties (duplicate events) are broken by row order, so splits are deterministic.
 */
export const SPLIT_STRATEGIES = ['temporal', 'temporal-user', 'random-user', 'leave-last-n'] as const;
export type SplitStrategy = (typeof SPLIT_STRATEGIES)[number];

export interface SplitParams {
  readonly strategy: SplitStrategy;
  /** Train fraction (temporal, temporal-user, random-user). */
  readonly frac: number;
  /** leave-last-n: test events per user. */
  readonly n?: number;
  /** random-user only. */
  readonly seed?: number;
}

export interface Split {
  readonly params: SplitParams;
  readonly train: Interactions;
  readonly test: Interactions;
  /** Row numbers of the input that went to each side, ascending. */
  readonly trainRows: Int32Array;
  readonly testRows: Int32Array;
  /** temporal: the cutoff timestamp; null otherwise. */
  readonly cutoff: number | null;
}

export function validateSplitParams(p: SplitParams): void {
  if (!SPLIT_STRATEGIES.includes(p.strategy)) {
    throw new InputError(`split strategy "${p.strategy}" is not one of ${SPLIT_STRATEGIES.join(', ')}`);
  }
  if (p.strategy === 'leave-last-n') {
    if (!Number.isInteger(p.n) || (p.n ?? 0) < 1) throw new InputError('leave-last-n needs --n N with N ≥ 1');
  } else if (!(p.frac > 0 && p.frac < 1)) {
    throw new InputError(`--frac must be between 0 and 1 (exclusive), got ${p.frac}`);
  }
}

/**
 * floor((1 − frac) × n), evaluated in IEEE double arithmetic exactly as written, as
 * Python/NumPy-based tools do. Note 1 − 0.8 = 0.19999999999999996, so a user with 10 events
 * gets 1 test event at frac 0.8, not 2: matching this is what makes results comparable
 * with those tools (docs/splits.md).
 */
export function testCount(frac: number, n: number): number {
  return Math.floor((1 - frac) * n);
}

export function splitInteractions(x: Interactions, params: SplitParams): Split {
  validateSplitParams(params);
  const n = x.userId.length;
  const isTest = new Uint8Array(n);
  let cutoff: number | null = null;
  if (params.strategy === 'temporal') {
    // The timestamp at index k of the (timestamp, user, item) order is the k-th smallest
    // timestamp: the tie-breakers never change which timestamp sits there.
    const at = Math.floor(params.frac * n);
    cutoff = at < n ? Float64Array.from(x.timestamp).sort()[at] : Infinity;
    for (let i = 0; i < n; i++) isTest[i] = x.timestamp[i] >= cutoff ? 1 : 0;
  } else {
    // Rows grouped by user, each group in (timestamp, item, row) order.
    const order = rowsByUserThenTime(x);
    const rng = new Rng(params.seed ?? 42);
    for (let start = 0; start < n; ) {
      let end = start + 1;
      while (end < n && x.userId[order[end]] === x.userId[order[start]]) end++;
      const nu = end - start;
      if (params.strategy === 'random-user') {
        const k = testCount(params.frac, nu);
        // Partial Fisher-Yates over the user's rows (in time order, so the draw does not depend on input order).
        const rows = order.slice(start, end);
        for (let i = 0; i < k; i++) {
          const j = i + rng.int(nu - i);
          const t = rows[i];
          rows[i] = rows[j];
          rows[j] = t;
          isTest[rows[i]] = 1;
        }
      } else {
        const k = params.strategy === 'leave-last-n' ? Math.min(params.n ?? 1, nu) : testCount(params.frac, nu);
        for (let i = end - k; i < end; i++) isTest[order[i]] = 1;
      }
      start = end;
    }
  }
  let nTest = 0;
  for (let i = 0; i < n; i++) nTest += isTest[i];
  const trainRows = new Int32Array(n - nTest);
  const testRows = new Int32Array(nTest);
  for (let i = 0, a = 0, b = 0; i < n; i++) {
    if (isTest[i]) testRows[b++] = i;
    else trainRows[a++] = i;
  }
  return { params, train: selectRows(x, trainRows), test: selectRows(x, testRows), trainRows, testRows, cutoff };
}

/**
 * Row numbers grouped by user (ascending raw id), each group sorted by (timestamp, item, row).
 * Grouping is a counting sort over dense user ranks; only the small per-user groups are
 * sorted with a comparator, which keeps 25M rows to a few seconds.
 */
export function rowsByUserThenTime(x: Interactions): Int32Array {
  const n = x.userId.length;
  const users = Int32Array.from(x.userId).sort();
  const distinct: number[] = [];
  for (let i = 0; i < n; i++) if (i === 0 || users[i] !== users[i - 1]) distinct.push(users[i]);
  const rank = new Map<number, number>();
  distinct.forEach((u, i) => rank.set(u, i));
  const start = new Int32Array(distinct.length + 1);
  const userRank = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    userRank[i] = rank.get(x.userId[i]) as number;
    start[userRank[i] + 1]++;
  }
  for (let u = 0; u < distinct.length; u++) start[u + 1] += start[u];
  const fill = start.slice(0, distinct.length);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[fill[userRank[i]]++] = i; // rows stay in input order within a user
  const byTime = (a: number, b: number): number => x.timestamp[a] - x.timestamp[b] || x.itemId[a] - x.itemId[b] || a - b;
  for (let u = 0; u < distinct.length; u++) order.subarray(start[u], start[u + 1]).sort(byTime);
  return order;
}
