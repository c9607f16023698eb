import type { IdMap } from '../data/id-map.js';
import type { Interactions } from '../data/interactions.js';
import { csrFromCoo, csrHas, type Csr } from '../matrix/csr.js';

/**
 * Who is evaluated and what counts as relevant (docs/metrics.md):
 * - evaluated users: users with ≥ 1 training interaction and ≥ 1 relevant test item;
 * - relevant items of a user: distinct test items not among that user's training items
 *   (items unseen in training count in |rel| although no model can return them);
 * - candidates: items seen in training minus the user's training items.
 */
export interface EvalTargets {
  /** Dense (training) indices of the evaluated users, ascending. */
  readonly users: Int32Array;
  /** Relevant items per evaluated user: row i belongs to users[i]; columns are dense item indices of training items. */
  readonly relevant: Csr;
  /** |rel| per evaluated user, including relevant items unseen in training. */
  readonly relevantCount: Int32Array;
}

/**
 * @param seen users × items training matrix (dense indices of `users` and `items`)
 */
export function buildTargets(test: Interactions, users: IdMap, items: IdMap, seen: Csr): EvalTargets {
  const n = test.userId.length;
  const userIdx = users.mapAll(test.userId);
  // Distinct (user, raw item) pairs of test rows, excluding items the user saw in training.
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => userIdx[a] - userIdx[b] || test.itemId[a] - test.itemId[b]);
  const relUsers: number[] = [];
  const relCount: number[] = [];
  const rows: number[] = [];
  const cols: number[] = [];
  let prevUser = -1;
  let prevItem = NaN;
  for (const row of order) {
    const u = userIdx[row];
    if (u < 0) continue; // no training interactions: not evaluated
    const raw = test.itemId[row];
    if (u === prevUser && raw === prevItem) continue;
    prevItem = raw;
    const item = items.indexOf(raw);
    if (item >= 0 && csrHas(seen, u, item)) continue;
    if (u !== prevUser) {
      relUsers.push(u);
      relCount.push(0);
      prevUser = u;
    }
    relCount[relCount.length - 1]++;
    if (item >= 0) {
      rows.push(relUsers.length - 1);
      cols.push(item);
    }
  }
  const relevant = csrFromCoo(relUsers.length, items.size, Int32Array.from(rows), Int32Array.from(cols), null);
  return { users: Int32Array.from(relUsers), relevant, relevantCount: Int32Array.from(relCount) };
}
