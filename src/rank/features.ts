import type { CandidateSet } from './candidates.js';
import type { CooccurrenceModel } from './channels/cooccurrence.js';
import { DAY_SECONDS, itemEventsInWindow, lastEventTime, upperBound, type ItemTimeline, type UserHistory } from './history.js';
import type { ItemGenres } from './item-genres.js';

/**
 * The ranker's features (definitions in docs/features.md). Everything is computed from the
 * "feature data" alone (the early part of train when training, all of train when serving):
 * no test row, and when training no label-window row, is read.
 */
export interface FeatureSources {
  readonly history: UserHistory;
  readonly timeline: ItemTimeline;
  readonly genres: ItemGenres;
  readonly cooccurrence: CooccurrenceModel;
  /** "Now" of a batch run: the latest timestamp of the feature data. */
  readonly referenceTime: number;
}

const YEAR_SECONDS = 365.25 * DAY_SECONDS;
export const USER_WINDOW_DAYS = 30;
export const ITEM_WINDOWS_DAYS = [30, 365] as const;

/** Column names, in column order, for the given channels and genre vocabulary. */
export function featureNames(channels: readonly string[], genres: readonly string[]): string[] {
  return [
    'user_events',
    `user_events_${USER_WINDOW_DAYS}d`,
    'user_tenure_days',
    'user_mean_rating',
    ...genres.map((g) => `user_genre_share:${g}`),
    'days_since_last_event',
    'item_events',
    ...ITEM_WINDOWS_DAYS.map((d) => `item_events_${d}d`),
    'item_age_days',
    'item_mean_rating',
    'item_release_age_years',
    ...genres.map((g) => `item_genre:${g}`),
    ...channels.flatMap((c) => [`${c}_score`, `${c}_rank`]),
    'fused_score',
    'channel_count',
    'genre_affinity',
    'cooc_sum',
    'cooc_max',
  ];
}

/** Per-user values shared by all of the user's rows. */
interface UserProfile {
  readonly time: number;
  readonly values: Float32Array;
  readonly genreShare: Float32Array;
}

function userProfile(src: FeatureSources, u: number): UserProfile {
  const { history, genres } = src;
  const nGenres = genres.names.length;
  const start = history.indptr[u];
  const end = history.indptr[u + 1];
  const n = end - start;
  const time = lastEventTime(history, u);
  const genreShare = new Float32Array(nGenres);
  let ratingSum = 0;
  for (let p = start; p < end; p++) {
    ratingSum += history.ratings[p];
    const i = history.items[p];
    for (let q = genres.genreStart[i]; q < genres.genreStart[i + 1]; q++) genreShare[genres.genreIds[q]] += 1;
  }
  for (let g = 0; g < nGenres; g++) genreShare[g] = n > 0 ? genreShare[g] / n : NaN;
  const recent = end - upperBound(history.times, start, end, time - USER_WINDOW_DAYS * DAY_SECONDS);
  const values = Float32Array.of(n, recent, n > 0 ? (time - history.times[start]) / DAY_SECONDS : NaN, n > 0 ? ratingSum / n : NaN);
  return { time, values, genreShare };
}

/** The feature matrix of a candidate set: rows × featureNames(...).length, row-major, NaN = missing. */
export function buildFeatures(src: FeatureSources, set: CandidateSet): Float32Array {
  const { timeline, genres } = src;
  const nGenres = genres.names.length;
  const nChannels = set.channels.length;
  const nFeatures = featureNames(set.channels, genres.names).length;
  const nRows = set.items.length;
  const x = new Float32Array(nRows * nFeatures);
  let coocSum = new Float32Array(0);
  let coocMax = new Float32Array(0);
  for (let b = 0; b < set.users.length; b++) {
    const u = set.users[b];
    const lo = set.offsets[b];
    const hi = set.offsets[b + 1];
    if (hi === lo) continue;
    const profile = userProfile(src, u);
    const t = profile.time;
    if (coocSum.length < hi - lo) {
      coocSum = new Float32Array(hi - lo);
      coocMax = new Float32Array(hi - lo);
    }
    src.cooccurrence.strength(u, set.items.subarray(lo, hi), coocSum, coocMax);
    for (let r = lo; r < hi; r++) {
      const i = set.items[r];
      let f = r * nFeatures;
      // Element loops: TypedArray.set costs more than the copy for a few values per row.
      for (let v = 0; v < profile.values.length; v++) x[f++] = profile.values[v];
      for (let g = 0; g < nGenres; g++) x[f++] = profile.genreShare[g];
      x[f++] = (src.referenceTime - t) / DAY_SECONDS;
      const nItem = timeline.indptr[i + 1] - timeline.indptr[i];
      x[f++] = nItem;
      for (const days of ITEM_WINDOWS_DAYS) x[f++] = itemEventsInWindow(timeline, i, t, days * DAY_SECONDS);
      x[f++] = nItem > 0 ? (t - timeline.times[timeline.indptr[i]]) / DAY_SECONDS : NaN;
      x[f++] = nItem > 0 ? timeline.ratingSum[i] / nItem : NaN;
      x[f++] = 1970 + t / YEAR_SECONDS - genres.releaseYear[i];
      let affinity = 0;
      const gStart = genres.genreStart[i];
      const gEnd = genres.genreStart[i + 1];
      for (let q = gStart; q < gEnd; q++) {
        x[f + genres.genreIds[q]] = 1;
        affinity += profile.genreShare[genres.genreIds[q]];
      }
      f += nGenres;
      let count = 0;
      for (let c = 0; c < nChannels; c++) {
        const rank = set.channelRanks[r * nChannels + c];
        x[f++] = set.channelScores[r * nChannels + c];
        x[f++] = rank;
        if (!Number.isNaN(rank)) count++;
      }
      x[f++] = set.fused[r];
      x[f++] = count;
      x[f++] = gEnd > gStart ? affinity / (gEnd - gStart) : NaN;
      x[f++] = coocSum[r - lo];
      x[f++] = coocMax[r - lo];
    }
  }
  return x;
}
