import { allocTopK, type TopK } from '../matrix/topk.js';
import { InputError } from '../util/errors.js';
import type { CandidateSet } from './candidates.js';
import type { ItemGenres } from './item-genres.js';

export interface RerankSettings {
  /** MMR trade-off: 1 keeps the ranked order, 0 picks by diversity alone. */
  readonly mmrLambda: number;
  /** Most items per genre in a list (an item counts for each of its genres); 0 = no cap. */
  readonly genreCap: number;
  /** Weight of the freshness boost added to the normalised score; 0 = off. */
  readonly freshness: number;
  /** Item age (days since its first event, at the user's time) at which the boost halves. */
  readonly freshnessHalfLifeDays: number;
}

export const DEFAULT_RERANK: RerankSettings = { mmrLambda: 1, genreCap: 0, freshness: 0, freshnessHalfLifeDays: 365 };

export function checkRerankSettings(s: RerankSettings): void {
  if (!(s.mmrLambda >= 0 && s.mmrLambda <= 1)) throw new InputError(`mmr lambda must be in [0, 1], got ${s.mmrLambda}`);
  if (!Number.isInteger(s.genreCap) || s.genreCap < 0) throw new InputError(`genre cap must be an integer ≥ 0, got ${s.genreCap}`);
  if (!(s.freshness >= 0)) throw new InputError(`freshness must be ≥ 0, got ${s.freshness}`);
  if (!(s.freshnessHalfLifeDays > 0)) throw new InputError(`freshness half-life must be > 0 days, got ${s.freshnessHalfLifeDays}`);
}

/** Similarity of two dense items in [0, 1] (genre cosine, embedding cosine). */
export type ItemSimilarity = (a: number, b: number) => number;

/** Whether dense item `item` must not be shown to dense user `user` (seen in training). */
export type SeenFilter = (user: number, item: number) => boolean;

/** The ranked stage: each user's unseen candidates by score, best first (ties: lower item index). */
export function rankByScore(set: CandidateSet, scores: Float64Array, k: number, seen: SeenFilter): TopK {
  const out = allocTopK(set.users.length, k);
  for (let b = 0; b < set.users.length; b++) {
    const rows: number[] = [];
    for (let r = set.offsets[b]; r < set.offsets[b + 1]; r++) if (!seen(set.users[b], set.items[r])) rows.push(r);
    rows.sort((x, y) => scores[y] - scores[x] || set.items[x] - set.items[y]);
    for (let j = 0; j < Math.min(k, rows.length); j++) {
      out.items[b * k + j] = set.items[rows[j]];
      out.scores[b * k + j] = scores[rows[j]];
    }
  }
  return out;
}

/**
 * The re-ranked stage, per user: (1) seen items are filtered; (2) scores are min-max normalised
 * to [0, 1] over the user's candidates and the freshness boost freshness · 2^(−age/half-life)
 * is added; (3) maximal marginal relevance (Carbonell & Goldstein 1998) starts from the most
 * relevant item, then picks greedily the item maximising λ · rel − (1 − λ) · max similarity to
 * the items already picked (ties: lower item index), among items whose genres are all below the cap. Lists may be shorter than k when
 * the cap rules out the remaining candidates. `scores` of the output are the normalised
 * relevance (plus boost) of each pick.
 */
export function rerank(
  set: CandidateSet,
  scores: Float64Array,
  k: number,
  seen: SeenFilter,
  settings: RerankSettings,
  similarity: ItemSimilarity,
  genres: ItemGenres | null,
  /** Per candidate row: item age in days (NaN when unknown: no boost). */
  ageDays: Float32Array | null,
): TopK {
  checkRerankSettings(settings);
  const out = allocTopK(set.users.length, k);
  const lambda = settings.mmrLambda;
  const genreCount = new Int32Array(genres?.names.length ?? 0);
  for (let b = 0; b < set.users.length; b++) {
    const u = set.users[b];
    const rows: number[] = [];
    let lo = Infinity;
    let hi = -Infinity;
    for (let r = set.offsets[b]; r < set.offsets[b + 1]; r++) {
      if (seen(u, set.items[r])) continue;
      rows.push(r);
      lo = Math.min(lo, scores[r]);
      hi = Math.max(hi, scores[r]);
    }
    const n = rows.length;
    const rel = new Float64Array(n);
    const maxSim = new Float64Array(n);
    const taken = new Uint8Array(n);
    for (let c = 0; c < n; c++) {
      rel[c] = hi > lo ? (scores[rows[c]] - lo) / (hi - lo) : 1;
      const age = ageDays ? ageDays[rows[c]] : NaN;
      if (settings.freshness > 0 && !Number.isNaN(age))
        rel[c] += settings.freshness * 2 ** (-Math.max(0, age) / settings.freshnessHalfLifeDays);
    }
    genreCount.fill(0);
    for (let j = 0; j < k; j++) {
      let best = -1;
      let bestValue = -Infinity;
      for (let c = 0; c < n; c++) {
        if (taken[c] || !underCap(genres, genreCount, settings.genreCap, set.items[rows[c]])) continue;
        const value = j === 0 ? rel[c] : lambda * rel[c] - (1 - lambda) * maxSim[c];
        if (value > bestValue || (value === bestValue && set.items[rows[c]] < set.items[rows[best]])) {
          best = c;
          bestValue = value;
        }
      }
      if (best < 0) break;
      taken[best] = 1;
      const item = set.items[rows[best]];
      out.items[b * k + j] = item;
      out.scores[b * k + j] = rel[best];
      if (genres) for (let q = genres.genreStart[item]; q < genres.genreStart[item + 1]; q++) genreCount[genres.genreIds[q]]++;
      if (lambda < 1) for (let c = 0; c < n; c++) if (!taken[c]) maxSim[c] = Math.max(maxSim[c], similarity(set.items[rows[c]], item));
    }
  }
  return out;
}

function underCap(genres: ItemGenres | null, counts: Int32Array, cap: number, item: number): boolean {
  if (cap === 0 || !genres) return true;
  for (let q = genres.genreStart[item]; q < genres.genreStart[item + 1]; q++) if (counts[genres.genreIds[q]] >= cap) return false;
  return true;
}
