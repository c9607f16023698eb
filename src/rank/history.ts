import type { TrainingData } from '../data/training-data.js';

/** Seconds in a day: feature windows and ages are stated in days. */
export const DAY_SECONDS = 86_400;

/**
 * Every user's events in time order, in the dense spaces of a TrainingData: user u's events
 * are positions indptr[u] .. indptr[u+1], sorted by (timestamp, item). The state channels and
 * features read "the user's recent history" and "the user's time" from.
 */
export interface UserHistory {
  readonly indptr: Int32Array;
  readonly items: Int32Array;
  readonly times: Float64Array;
  readonly ratings: Float32Array;
}

/** Every item's event timestamps, ascending: item i's are times[indptr[i] .. indptr[i+1]). */
export interface ItemTimeline {
  readonly indptr: Int32Array;
  readonly times: Float64Array;
  /** Sum of ratings per item (for the mean rating). */
  readonly ratingSum: Float64Array;
}

/** Row numbers grouped by `key` (counting sort, stable): group g is order[start[g] .. start[g+1]). */
function groupRows(key: Int32Array, nGroups: number): { start: Int32Array; order: Int32Array } {
  const start = new Int32Array(nGroups + 1);
  for (let i = 0; i < key.length; i++) start[key[i] + 1]++;
  for (let g = 0; g < nGroups; g++) start[g + 1] += start[g];
  const fill = start.slice(0, nGroups);
  const order = new Int32Array(key.length);
  for (let i = 0; i < key.length; i++) order[fill[key[i]]++] = i;
  return { start, order };
}

export function buildUserHistory(data: TrainingData): UserHistory {
  const { timestamp, rating } = data.train;
  const { start, order } = groupRows(data.userIndex, data.users.size);
  const item = data.itemIndex;
  for (let u = 0; u < data.users.size; u++) {
    order.subarray(start[u], start[u + 1]).sort((a, b) => timestamp[a] - timestamp[b] || item[a] - item[b] || a - b);
  }
  const n = order.length;
  const history = { indptr: start, items: new Int32Array(n), times: new Float64Array(n), ratings: new Float32Array(n) };
  for (let p = 0; p < n; p++) {
    const r = order[p];
    history.items[p] = item[r];
    history.times[p] = timestamp[r];
    history.ratings[p] = rating[r];
  }
  return history;
}

export function buildItemTimeline(data: TrainingData): ItemTimeline {
  const { timestamp, rating } = data.train;
  const { start, order } = groupRows(data.itemIndex, data.items.size);
  const times = new Float64Array(order.length);
  const ratingSum = new Float64Array(data.items.size);
  for (let i = 0; i < data.items.size; i++) {
    for (let p = start[i]; p < start[i + 1]; p++) {
      times[p] = timestamp[order[p]];
      ratingSum[i] += rating[order[p]];
    }
    times.subarray(start[i], start[i + 1]).sort();
  }
  return { indptr: start, times, ratingSum };
}

/** The user's last event time (their "now" for windowed features), NaN for a user without events. */
export function lastEventTime(h: UserHistory, u: number): number {
  const end = h.indptr[u + 1];
  return end > h.indptr[u] ? h.times[end - 1] : NaN;
}

/** First position p in [lo, hi) with a[p] > value (hi when none). */
export function upperBound(a: Float64Array, lo: number, hi: number, value: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Number of item i's events with time in (to − windowSeconds, to]. */
export function itemEventsInWindow(t: ItemTimeline, i: number, to: number, windowSeconds: number): number {
  const lo = t.indptr[i];
  const hi = t.indptr[i + 1];
  return upperBound(t.times, lo, hi, to) - upperBound(t.times, lo, hi, to - windowSeconds);
}
