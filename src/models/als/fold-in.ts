import { InputError } from '../../util/errors.js';
import { csrFromCoo } from '../../matrix/csr.js';

/**
 * Factors of a user not in training, from a list of items and fixed item factors Y: the
 * exact minimiser of the ALS objective for one row, x = (YᵀY + λI + Σ (c_i − 1) y_i y_iᵀ)⁻¹ Σ c_i y_i
 * with c_i = 1 + alpha × w_i, solved by Cholesky in double precision. YᵀY is computed once.
 */
export class FoldIn {
  private gramCache: Float64Array | null = null;
  private readonly nItems: number;

  constructor(
    private readonly itemFactors: Float32Array,
    private readonly f: number,
    private readonly regularization: number,
    private readonly alpha: number,
  ) {
    this.nItems = itemFactors.length / f;
  }

  /**
   * @param items dense item indices; negative ones (ids unknown to the model) are ignored,
   *   repeated ones have their weights summed
   * @param weights w per entry (≥ 0), or null for w = 1 per distinct item
   */
  solve(items: Int32Array, weights: Float32Array | null): Float32Array {
    const f = this.f;
    if (weights !== null && weights.length !== items.length) {
      throw new InputError(`fold-in: ${items.length} items but ${weights.length} weights`);
    }
    for (let i = 0; i < items.length; i++) {
      if (items[i] >= this.nItems) throw new InputError(`fold-in: item index ${items[i]} is out of range (${this.nItems} items)`);
      if (weights !== null && !(weights[i] >= 0 && Number.isFinite(weights[i]))) {
        throw new InputError(`fold-in: weight ${weights[i]} of item index ${items[i]} must be a finite number ≥ 0`);
      }
    }
    const row = csrFromCoo(1, this.nItems, new Int32Array(items.length), items, weights);
    const a = Float64Array.from(this.gram());
    const b = new Float64Array(f);
    const y = this.itemFactors;
    for (let p = 0; p < row.indices.length; p++) {
      const base = row.indices[p] * f;
      const c = 1 + this.alpha * (weights === null ? 1 : row.data[p]);
      for (let r = 0; r < f; r++) {
        const yr = y[base + r];
        b[r] += c * yr;
        const s = (c - 1) * yr;
        for (let col = 0; col <= r; col++) a[r * f + col] += s * y[base + col];
      }
    }
    return Float32Array.from(choleskySolve(a, b, f));
  }

  /** YᵀY + λI (lower triangle used). */
  private gram(): Float64Array {
    if (this.gramCache === null) {
      const f = this.f;
      const g = new Float64Array(f * f);
      const y = this.itemFactors;
      for (let i = 0; i < this.nItems; i++) {
        const base = i * f;
        for (let r = 0; r < f; r++) {
          const yr = y[base + r];
          for (let col = 0; col <= r; col++) g[r * f + col] += yr * y[base + col];
        }
      }
      for (let d = 0; d < f; d++) g[d * f + d] += this.regularization;
      this.gramCache = g;
    }
    return this.gramCache;
  }
}

/** Solves A x = b for symmetric positive definite A (n × n, lower triangle read; overwritten by L). */
export function choleskySolve(a: Float64Array, b: Float64Array, n: number): Float64Array {
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= a[j * n + k] * a[j * n + k];
    if (!(d > 0)) throw new Error('fold-in: the normal equations are not positive definite (regularization 0 with too few items?)');
    const ljj = Math.sqrt(d);
    a[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / ljj;
    }
  }
  const x = Float64Array.from(b);
  for (let i = 0; i < n; i++) {
    let s = x[i];
    for (let k = 0; k < i; k++) s -= a[i * n + k] * x[k];
    x[i] = s / a[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = x[i];
    for (let k = i + 1; k < n; k++) s -= a[k * n + i] * x[k];
    x[i] = s / a[i * n + i];
  }
  return x;
}
