import type { IdMap } from '../data/id-map.js';
import type { ItemCatalog } from '../data/interactions.js';
import type { Csr } from '../matrix/csr.js';

/**
 * What a list does besides hitting test items (formulas in docs/metrics.md):
 * - diversity: intra-list distance, mean over pairs of 1 − cos(genres_i, genres_j) with
 *   genre multi-hot vectors (an item without genres has cosine 0 to everything); absent
 *   (null) without an item catalogue;
 * - novelty: mean self-information −log2(p_i) of recommended items, p_i = share of
 *   training users who interacted with item i;
 * - ARP: average recommendation popularity, mean p_i of recommended items;
 * - APLT: share of recommended items from the long tail (items outside the short head,
 *   the most popular items that together hold 20 % of training interactions).
 */
export interface ItemStats {
  /** Share of training users who interacted with each item (dense item index). */
  readonly userShare: Float64Array;
  readonly selfInformation: Float64Array;
  readonly longTail: Uint8Array;
  /** Genre ids per item (CSR-like), or null without a catalog. */
  readonly genreStart: Int32Array | null;
  readonly genreIds: Int32Array | null;
  /** Distinct genres (the length of a genre vector). */
  readonly genreCount: number;
}

export function itemStats(seen: Csr, items: IdMap, catalog: ItemCatalog | null): ItemStats {
  const nItems = items.size;
  const users = new Float64Array(nItems);
  const counts = new Float64Array(nItems);
  for (let p = 0; p < seen.indices.length; p++) {
    users[seen.indices[p]] += 1;
    counts[seen.indices[p]] += seen.data[p];
  }
  const nUsers = Math.max(1, seen.nRows);
  const userShare = users.map((u) => u / nUsers);
  const selfInformation = userShare.map((p) => (p > 0 ? -Math.log2(p) : 0));
  // Short head: most popular items (by interactions, ties by index) holding 20 % of interactions.
  const order = Int32Array.from({ length: nItems }, (_, i) => i).sort((a, b) => counts[b] - counts[a] || a - b);
  const total = counts.reduce((a, b) => a + b, 0);
  const longTail = new Uint8Array(nItems).fill(1);
  let acc = 0;
  for (const i of order) {
    if (acc >= 0.2 * total) break;
    longTail[i] = 0;
    acc += counts[i];
  }
  let genreStart: Int32Array | null = null;
  let genreIds: Int32Array | null = null;
  let genreCount = 0;
  if (catalog) {
    const genreIndex = new Map<string, number>();
    const byRaw = new Map<number, string[]>();
    catalog.itemId.forEach((id, r) => byRaw.set(id, catalog.genres[r]));
    genreStart = new Int32Array(nItems + 1);
    const ids: number[] = [];
    for (let i = 0; i < nItems; i++) {
      for (const g of byRaw.get(items.rawId(i)) ?? []) {
        if (!genreIndex.has(g)) genreIndex.set(g, genreIndex.size);
        ids.push(genreIndex.get(g) as number);
      }
      genreStart[i + 1] = ids.length;
    }
    genreIds = Int32Array.from(ids);
    genreCount = genreIndex.size;
  }
  return { userShare, selfInformation, longTail, genreStart, genreIds, genreCount };
}

/** Cosine similarity of two items' genre sets. */
export function genreCosine(stats: Pick<ItemStats, 'genreStart' | 'genreIds'>, a: number, b: number): number {
  const start = stats.genreStart;
  const ids = stats.genreIds;
  if (!start || !ids) return 0;
  const na = start[a + 1] - start[a];
  const nb = start[b + 1] - start[b];
  if (na === 0 || nb === 0) return 0;
  let common = 0;
  for (let p = start[a]; p < start[a + 1]; p++) {
    for (let q = start[b]; q < start[b + 1]; q++) if (ids[p] === ids[q]) common++;
  }
  return common / Math.sqrt(na * nb);
}

export interface ListBeyondAccuracy {
  /** Null without genres to compare (no item catalogue). */
  diversity: number | null;
  novelty: number;
  arp: number;
  aplt: number;
}

/**
 * Intra-list diversity of `n` items, exactly as the mean over pairs of 1 − cos but in
 * O(n · genres per item): with u_i the unit genre vector of item i (0 without genres),
 * Σ_{a<b} cos(a, b) = Σ_{a<b} u_a·u_b = (‖Σ u_i‖² − Σ ‖u_i‖²) / 2, and ‖u_i‖² is 1 or 0.
 * (The pairwise loop took 587 s for 8,249-item lists.)
 */
function intraListDiversity(stats: ItemStats, items: ArrayLike<number>, from: number, n: number): number | null {
  const start = stats.genreStart;
  const ids = stats.genreIds;
  if (!start || !ids) return null;
  if (n < 2) return 0;
  const sum = new Float64Array(stats.genreCount);
  let withGenres = 0;
  for (let j = 0; j < n; j++) {
    const i = items[from + j];
    const count = start[i + 1] - start[i];
    if (count === 0) continue;
    withGenres++;
    const weight = 1 / Math.sqrt(count);
    for (let p = start[i]; p < start[i + 1]; p++) sum[ids[p]] += weight;
  }
  let squared = 0;
  for (const v of sum) squared += v * v;
  const pairs = (n * (n - 1)) / 2;
  return 1 - (squared - withGenres) / 2 / pairs;
}

/** Beyond-accuracy metrics of one list (items: dense indices, -1 for empty slots). */
export function listBeyondAccuracy(stats: ItemStats, items: ArrayLike<number>, from: number, count: number): ListBeyondAccuracy {
  let n = 0;
  let novelty = 0;
  let arp = 0;
  let tail = 0;
  for (let j = 0; j < count; j++) {
    const i = items[from + j];
    if (i < 0) break;
    n++;
    novelty += stats.selfInformation[i];
    arp += stats.userShare[i];
    tail += stats.longTail[i];
  }
  return {
    diversity: intraListDiversity(stats, items, from, n),
    novelty: n > 0 ? novelty / n : 0,
    arp: n > 0 ? arp / n : 0,
    aplt: n > 0 ? tail / n : 0,
  };
}
