import { Rng } from '../util/rng.js';
import { AliasTable } from './alias.js';

export type NegativeDistribution = 'uniform' | 'popularity';

export interface NegativeSamplerOptions {
  /** 'uniform' over the catalogue, or proportional to count^alpha. */
  readonly distribution: NegativeDistribution;
  /** Exponent on the popularity counts (default 0.75, word2vec's choice); unused for 'uniform'. */
  readonly alpha?: number;
  readonly seed: number;
}

export const DEFAULT_NEGATIVE_ALPHA = 0.75;

/**
 * Draws negative items for a user: independent draws (with replacement) from the uniform or
 * popularity^alpha distribution conditioned on not being one of the user's positives.
 *
 * Draws are rejection-sampled against the positives (binary search). When a user's positives
 * hold most of the probability mass, rejections pile up; past a budget the remaining draws come
 * from an explicit cumulative table over the items the user has not seen, which is exact too
 * (the number of rejections before an acceptance says nothing about which item is accepted).
 */
export class NegativeSampler {
  readonly itemCount: number;
  readonly distribution: NegativeDistribution;
  readonly alpha: number;
  private readonly weights: Float64Array;
  private readonly totalWeight: number;
  private readonly table: AliasTable | null;
  private readonly rng: Rng;
  private complementCdf = new Float64Array(0);
  private complementItems = new Int32Array(0);

  /** `itemCounts[i]` is the popularity (e.g. training interactions) of dense item i. */
  constructor(itemCounts: Float64Array | Int32Array, opts: NegativeSamplerOptions) {
    const n = itemCounts.length;
    if (n === 0) throw new Error('NegativeSampler: empty catalogue');
    this.itemCount = n;
    this.distribution = opts.distribution;
    this.alpha = opts.alpha ?? DEFAULT_NEGATIVE_ALPHA;
    if (!Number.isFinite(this.alpha) || this.alpha < 0) throw new Error(`NegativeSampler: alpha must be >= 0, got ${this.alpha}`);
    this.weights = new Float64Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const c = itemCounts[i];
      if (!(c >= 0) || !Number.isFinite(c)) throw new Error(`NegativeSampler: count of item ${i} is ${c}; counts must be finite and >= 0`);
      const w = opts.distribution === 'uniform' ? 1 : c ** this.alpha;
      this.weights[i] = w;
      total += w;
    }
    if (!(total > 0)) throw new Error('NegativeSampler: every item has zero popularity');
    this.totalWeight = total;
    this.table = opts.distribution === 'uniform' ? null : new AliasTable(this.weights);
    this.rng = new Rng(opts.seed);
  }

  /** Probability of drawing `item` before positives are excluded. */
  probability(item: number): number {
    return this.weights[item] / this.totalWeight;
  }

  /**
   * Fills `out[0 .. count)` with items not in `positives` (dense indices, sorted ascending,
   * as in a CSR row) and returns that view. Throws when no item with a positive weight is left.
   */
  sample(positives: Int32Array, count: number, out: Int32Array): Int32Array {
    if (!Number.isInteger(count) || count < 0)
      throw new Error(`NegativeSampler.sample: count must be a non-negative integer, got ${count}`);
    if (out.length < count) throw new Error(`NegativeSampler.sample: out holds ${out.length} items, ${count} asked`);
    for (let i = 1; i < positives.length; i++) {
      if (positives[i] <= positives[i - 1])
        throw new Error(`NegativeSampler.sample: positives must be sorted ascending and unique (index ${i})`);
    }
    let filled = 0;
    let budget = 16 * count + 64;
    while (filled < count && budget > 0) {
      budget--;
      const item = this.table === null ? this.rng.int(this.itemCount) : this.table.sample(this.rng);
      if (!containsSorted(positives, item)) out[filled++] = item;
    }
    if (filled < count) this.sampleFromComplement(positives, count - filled, out.subarray(filled, count));
    return out.subarray(0, count);
  }

  /** Exact draws from the distribution restricted to items outside `positives`. */
  private sampleFromComplement(positives: Int32Array, count: number, out: Int32Array): void {
    const n = this.itemCount;
    const free = n - positives.length;
    if (this.complementItems.length < free) {
      this.complementItems = new Int32Array(free);
      this.complementCdf = new Float64Array(free);
    }
    let m = 0;
    let cumulative = 0;
    let p = 0;
    for (let item = 0; item < n; item++) {
      if (p < positives.length && positives[p] === item) {
        p++;
        continue;
      }
      const w = this.weights[item];
      if (w === 0) continue;
      cumulative += w;
      this.complementItems[m] = item;
      this.complementCdf[m] = cumulative;
      m++;
    }
    if (m === 0)
      throw new Error(
        `NegativeSampler.sample: no negatives left; the ${positives.length} positives cover every item with a nonzero weight`,
      );
    for (let k = 0; k < count; k++) {
      const target = this.rng.next() * cumulative;
      // First index whose cumulative weight exceeds the target.
      let lo = 0;
      let hi = m - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.complementCdf[mid] > target) hi = mid;
        else lo = mid + 1;
      }
      out[k] = this.complementItems[lo];
    }
  }
}

function containsSorted(sorted: Int32Array, value: number): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = sorted[mid];
    if (v === value) return true;
    if (v < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
