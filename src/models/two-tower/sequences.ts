import type { TrainingData } from '../../data/training-data.js';
import { rowsByUserThenTime } from '../../split/split.js';

/**
 * Each user's training events in time order: what the user tower pools. The example at
 * position p is "the user, having seen the items before p, picks items[p]", so the history of
 * an example never holds its own target or anything later.
 */
export interface UserSequences {
  readonly nUsers: number;
  /** Dense item of each event, grouped by dense user, each group in (timestamp, item) order. */
  readonly items: Int32Array;
  /** User u's events are positions start[u] .. start[u+1]. */
  readonly start: Int32Array;
  /** Dense user of each position. */
  readonly user: Int32Array;
}

export function buildSequences(data: TrainingData): UserSequences {
  const order = rowsByUserThenTime(data.train);
  const n = order.length;
  const nUsers = data.users.size;
  const items = new Int32Array(n);
  const user = new Int32Array(n);
  const start = new Int32Array(nUsers + 1);
  for (let p = 0; p < n; p++) {
    const row = order[p];
    items[p] = data.itemIndex[row];
    user[p] = data.userIndex[row];
    start[user[p] + 1]++;
  }
  for (let u = 0; u < nUsers; u++) start[u + 1] += start[u];
  return { nUsers, items, start, user };
}

/**
 * Where each user's held-out tail begins: the last floor(frac × n_u) events of user u are
 * positions fitEnd[u] .. start[u+1] (none when frac is 0).
 */
export function holdOutTails(seq: UserSequences, frac: number): Int32Array {
  const fitEnd = new Int32Array(seq.nUsers);
  for (let u = 0; u < seq.nUsers; u++) {
    const n = seq.start[u + 1] - seq.start[u];
    fitEnd[u] = seq.start[u + 1] - Math.floor(frac * n);
  }
  return fitEnd;
}

/** Positions of the events before each user's `fitEnd`: the training examples. */
export function examplePositions(seq: UserSequences, fitEnd: Int32Array): Int32Array {
  let count = 0;
  for (let u = 0; u < seq.nUsers; u++) count += fitEnd[u] - seq.start[u];
  const out = new Int32Array(count);
  let j = 0;
  for (let u = 0; u < seq.nUsers; u++) for (let p = seq.start[u]; p < fitEnd[u]; p++) out[j++] = p;
  return out;
}
