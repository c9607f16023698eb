import type { IdMap } from '../../data/id-map.js';
import { csrHas, type Csr } from '../../matrix/csr.js';
import { allocTopK, selectTopK, type TopK } from '../../matrix/topk.js';
import type { Recommender } from '../../models/model.js';
import { PopularityModel } from '../../models/popularity/popularity.js';
import { InputError } from '../../util/errors.js';
import { DAY_SECONDS, lastEventTime, upperBound, type UserHistory } from '../history.js';

/** A window's best items, best first, with their scores; `complete` when no window item was cut. */
interface WindowRanking {
  readonly items: Int32Array;
  readonly scores: Float32Array;
  readonly complete: boolean;
}

/**
 * Cached window rankings keep k + this many items: enough for every user who has seen fewer of
 * them; the rare user who has seen more gets the full ranking, so results stay exact.
 */
const RANKING_SLACK = 256;

/**
 * Positions of `times` in time order (ties: lower position first): a counting sort over the
 * distinct times, found by binary search in their natively sorted copy (a comparison sort of
 * 20M positions through a JavaScript comparator took seconds).
 */
function timeOrder(times: Float64Array): Int32Array {
  const distinct = Float64Array.from(times).sort();
  let m = 0;
  for (let p = 0; p < distinct.length; p++) if (m === 0 || distinct[p] !== distinct[m - 1]) distinct[m++] = distinct[p];
  const rank = new Int32Array(times.length);
  const start = new Int32Array(m + 1);
  for (let p = 0; p < times.length; p++) {
    rank[p] = upperBound(distinct, 0, m, times[p]) - 1;
    start[rank[p] + 1]++;
  }
  for (let r = 0; r < m; r++) start[r + 1] += start[r];
  const order = new Int32Array(times.length);
  for (let p = 0; p < times.length; p++) order[start[rank[p]]++] = p;
  return order;
}

/**
 * Popularity in a recent window, the channel that always answers: score(u, i) = the number of
 * events of item i in the `windowDays` days up to the end of the day of user u's last event,
 * plus i's all-time share of events (a number below 1) so that every item has a score and
 * ties follow all-time popularity (then the lower index). Each user's window ends at their own
 * last event, so a user last active in 1999 gets what was popular in 1999. windowDays = 0
 * gives all-time popularity.
 */
export class RecentPopularityModel implements Recommender {
  readonly kind = 'recent-popularity';
  /** Every event's item and time, in time order. */
  private readonly eventItems: Int32Array;
  private readonly eventTimes: Float64Array;
  private readonly share: Float32Array;
  /** All items by all-time popularity, best first. */
  private readonly allTime: Int32Array;
  private readonly allTimeModel: PopularityModel;
  /**
   * The counted window, events [windowLo, windowHi) of eventItems: per item its events there,
   * and its score (events + share; NaN for an item without events there, "not a candidate"),
   * moved from one window end to the next by adding and removing the events in between.
   */
  private windowLo = 0;
  private windowHi = 0;
  private readonly windowCounts: Float32Array;
  private readonly windowScores: Float32Array;
  /** Items with an event in the counted window. */
  private windowItems = 0;
  /**
   * Rankings per window end (a day; at most one per distinct day of users' last events), cut
   * to `rankingsCut` items: users whose windows end the same day share one count of the window.
   */
  private readonly rankings = new Map<number, WindowRanking>();
  private rankingsCut = -1;

  constructor(
    readonly users: IdMap,
    readonly items: IdMap,
    private readonly history: UserHistory,
    readonly windowDays: number,
  ) {
    if (!(windowDays >= 0) || !Number.isFinite(windowDays)) throw new InputError(`popularity window must be ≥ 0 days, got ${windowDays}`);
    const n = history.items.length;
    const order = timeOrder(history.times);
    this.eventItems = Int32Array.from(order, (p) => history.items[p]);
    this.eventTimes = Float64Array.from(order, (p) => history.times[p]);
    const counts = new Float64Array(items.size);
    for (let p = 0; p < n; p++) counts[history.items[p]]++;
    this.share = Float32Array.from(counts, (c) => c / (n + 1));
    this.allTime = Int32Array.from({ length: items.size }, (_, i) => i).sort((a, b) => counts[b] - counts[a] || a - b);
    this.allTimeModel = new PopularityModel(users, items, Float32Array.from(counts));
    this.windowCounts = new Float32Array(items.size);
    this.windowScores = new Float32Array(items.size).fill(NaN);
  }

  /** End of user u's window: the end of the day of their last event (NaN for an unknown user). */
  windowEnd(u: number): number {
    const inRange = u >= 0 && u + 1 < this.history.indptr.length;
    const t = inRange ? lastEventTime(this.history, u) : NaN;
    return Math.ceil(t / DAY_SECONDS) * DAY_SECONDS;
  }

  /** Adds `delta` (1 or −1) to the window counts of events [from, to). */
  private count(from: number, to: number, delta: number): void {
    for (let p = from; p < to; p++) {
      const i = this.eventItems[p];
      const c = this.windowCounts[i] + delta;
      this.windowCounts[i] = c;
      if (c === 0) {
        this.windowScores[i] = NaN;
        this.windowItems--;
      } else {
        if (c === 1 && delta > 0) this.windowItems++;
        this.windowScores[i] = c + this.share[i];
      }
    }
  }

  /** Makes events [lo, hi) the counted window, walking only the events that enter or leave it. */
  private moveWindow(lo: number, hi: number): void {
    if (lo >= this.windowHi || hi <= this.windowLo) {
      // Disjoint: emptying the old window is cheaper than walking across the gap.
      this.count(this.windowLo, this.windowHi, -1);
      this.windowLo = lo;
      this.windowHi = lo;
    }
    if (lo < this.windowLo) this.count(lo, this.windowLo, 1);
    if (hi > this.windowHi) this.count(this.windowHi, hi, 1);
    if (lo > this.windowLo) this.count(this.windowLo, lo, -1);
    if (hi < this.windowHi) this.count(hi, this.windowHi, -1);
    this.windowLo = lo;
    this.windowHi = hi;
  }

  /** The best `limit` items with at least one event in (end − window, end], best first. */
  private windowRanking(end: number, limit: number): WindowRanking {
    if (this.windowDays === 0 || Number.isNaN(end)) return { items: new Int32Array(0), scores: new Float32Array(0), complete: true };
    const lo = upperBound(this.eventTimes, 0, this.eventTimes.length, end - this.windowDays * DAY_SECONDS);
    const hi = upperBound(this.eventTimes, lo, this.eventTimes.length, end);
    this.moveWindow(lo, hi);
    const n = this.windowItems;
    if (n === 0) return { items: new Int32Array(0), scores: new Float32Array(0), complete: true };
    const kept = Math.min(limit, n);
    const best = allocTopK(1, kept);
    // Over every item, NaN for those without events: ties go to the lower index, as before.
    selectTopK(this.windowScores, 0, this.windowScores.length, null, 0, 0, best, 0);
    return { items: best.items, scores: best.scores, complete: kept === n };
  }

  /** Computes the uncached window rankings of `ends` in time order, so that the counted window only slides forward. */
  private rankEnds(ends: Iterable<number>, cut: number): void {
    const missing = [...new Set(ends)].filter((end) => !(cut === this.rankingsCut && this.rankings.has(end)));
    for (const end of missing.sort((a, b) => a - b)) this.cachedRanking(end, cut);
  }

  private cachedRanking(end: number, cut: number): WindowRanking {
    if (cut !== this.rankingsCut) {
      this.rankings.clear();
      this.rankingsCut = cut;
    }
    let ranking = this.rankings.get(end);
    if (!ranking) {
      ranking = this.windowRanking(end, cut);
      this.rankings.set(end, ranking);
    }
    return ranking;
  }

  /**
   * Computes now the window ranking of every user's last day, for lists of `k` items: one pass
   * over the catalogue per distinct day (at the 25M scale random users land on thousands of
   * days), which requests would otherwise pay the first time they meet a day.
   */
  prepareRankings(k: number): void {
    this.rankEnds(
      Array.from({ length: this.users.size }, (_, u) => this.windowEnd(u)),
      k + RANKING_SLACK,
    );
  }

  /** Writes the ranking's items user `u` has not seen into row b; returns how many (≤ k). */
  private takeUnseen(ranking: WindowRanking, u: number, exclude: Csr | null, out: TopK, b: number, k: number): number {
    const canExclude = exclude !== null && u >= 0 && u < exclude.nRows;
    let j = 0;
    for (let r = 0; r < ranking.items.length && j < k; r++) {
      const item = ranking.items[r];
      if (canExclude && csrHas(exclude, u, item)) continue;
      out.items[b * k + j] = item;
      out.scores[b * k + j] = ranking.scores[r];
      j++;
    }
    return j;
  }

  recommend(users: Int32Array, k: number, exclude: Csr | null): TopK {
    const out = allocTopK(users.length, k);
    const listed = new Uint8Array(this.items.size);
    this.rankEnds(
      Array.from(users, (u) => this.windowEnd(u)),
      k + RANKING_SLACK,
    );
    for (let b = 0; b < users.length; b++) {
      const u = users[b];
      const end = this.windowEnd(u);
      let ranking = this.cachedRanking(end, k + RANKING_SLACK);
      let j = this.takeUnseen(ranking, u, exclude, out, b, k);
      if (j < k && !ranking.complete) {
        ranking = this.windowRanking(end, Infinity);
        j = this.takeUnseen(ranking, u, exclude, out, b, k);
      }
      if (j === k) continue;
      // Past the window's items (all of them, here), all-time popularity (score = share < 1).
      const canExclude = exclude !== null && u >= 0 && u < exclude.nRows;
      for (const item of ranking.items) listed[item] = 1;
      for (let r = 0; r < this.allTime.length && j < k; r++) {
        const item = this.allTime[r];
        if (listed[item] || (canExclude && csrHas(exclude, u, item))) continue;
        out.items[b * k + j] = item;
        out.scores[b * k + j] = this.share[item];
        j++;
      }
      for (const item of ranking.items) listed[item] = 0;
    }
    return out;
  }

  /** Popularity has no notion of similarity: the most popular other items of all time. */
  similarItems(items: Int32Array, k: number): TopK {
    return this.allTimeModel.similarItems(items, k);
  }

  params(): Record<string, unknown> {
    return { window_days: this.windowDays };
  }

  /** Its state is the training history the ranker saves once for all its parts. */
  async save(): Promise<void> {}
}
