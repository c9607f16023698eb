import type { Rng } from '../util/rng.js';

/**
 * Vose's alias method: O(n) to build, O(1) per draw from a fixed discrete distribution.
 * Column c (chosen uniformly) keeps c with probability `keep[c]`, else yields `alias[c]`.
 */
export class AliasTable {
  readonly size: number;
  private readonly keep: Float64Array;
  private readonly alias: Int32Array;

  /** `weights` are non-negative and finite, with a positive sum; they need not be normalised. */
  constructor(weights: ArrayLike<number>) {
    const n = weights.length;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const w = weights[i];
      if (!(w >= 0) || !Number.isFinite(w)) throw new Error(`AliasTable: weight ${i} is ${w}; weights must be finite and >= 0`);
      total += w;
    }
    if (!(total > 0)) throw new Error('AliasTable: the weights sum to 0');
    this.size = n;
    this.keep = new Float64Array(n);
    this.alias = new Int32Array(n);
    // Scaled so the mean is 1: columns below 1 borrow their remainder from one above 1.
    const scaled = new Float64Array(n);
    const small = new Int32Array(n);
    const large = new Int32Array(n);
    let nSmall = 0;
    let nLarge = 0;
    for (let i = 0; i < n; i++) {
      scaled[i] = (weights[i] * n) / total;
      if (scaled[i] < 1) small[nSmall++] = i;
      else large[nLarge++] = i;
    }
    while (nSmall > 0 && nLarge > 0) {
      const s = small[--nSmall];
      const l = large[--nLarge];
      this.keep[s] = scaled[s];
      this.alias[s] = l;
      scaled[l] = scaled[l] + scaled[s] - 1;
      if (scaled[l] < 1) small[nSmall++] = l;
      else large[nLarge++] = l;
    }
    // What is left is 1 up to rounding error.
    while (nLarge > 0) this.keep[large[--nLarge]] = 1;
    while (nSmall > 0) this.keep[small[--nSmall]] = 1;
  }

  /** The draw made by two independent uniforms in [0, 1): one picks the column, one the side. */
  draw(uColumn: number, uSide: number): number {
    const c = Math.floor(uColumn * this.size);
    return uSide < this.keep[c] ? c : this.alias[c];
  }

  sample(rng: Rng): number {
    return this.draw(rng.next(), rng.next());
  }
}
