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
  // Test rows grouped by user (counting sort), each group's raw items sorted and de-duplicated.
  const start = new Int32Array(users.size + 1);
  for (let i = 0; i < n; i++) if (userIdx[i] >= 0) start[userIdx[i] + 1]++;
  for (let u = 0; u < users.size; u++) start[u + 1] += start[u];
  const fill = start.slice(0, users.size);
  const rawItems = new Int32Array(start[users.size]);
  for (let i = 0; i < n; i++) if (userIdx[i] >= 0) rawItems[fill[userIdx[i]]++] = test.itemId[i];
  const relUsers: number[] = [];
  const relCount: number[] = [];
  const rows: number[] = [];
  const cols: number[] = [];
  for (let u = 0; u < users.size; u++) {
    const group = rawItems.subarray(start[u], start[u + 1]).sort();
    let count = 0;
    for (let p = 0; p < group.length; p++) {
      if (p > 0 && group[p] === group[p - 1]) continue;
      const item = items.indexOf(group[p]);
      if (item >= 0 && csrHas(seen, u, item)) continue;
      if (count === 0) relUsers.push(u);
      count++;
      if (item >= 0) {
        rows.push(relUsers.length - 1);
        cols.push(item);
      }
    }
    if (count > 0) relCount.push(count);
  }
  const relevant = csrFromCoo(relUsers.length, items.size, Int32Array.from(rows), Int32Array.from(cols), null);
  return { users: Int32Array.from(relUsers), relevant, relevantCount: Int32Array.from(relCount) };
}
