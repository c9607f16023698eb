/**
 * Adam (Kingma & Ba 2015) on Float32Array parameters, with the bias correction folded into
 * the step size: p -= lr_t · m / (√v + ε), lr_t = lr · √(1 − β2^t) / (1 − β1^t).
 * Embedding tables use it row by row on the rows a batch touched ("lazy" Adam, as TensorFlow
 * Addons' LazyAdam): an untouched row keeps its moments, so a step costs O(batch), not O(table).
 */
export const ADAM_BETA1 = 0.9;
export const ADAM_BETA2 = 0.999;
export const ADAM_EPS = 1e-8;

export function adamStepSize(lr: number, step: number): number {
  return (lr * Math.sqrt(1 - ADAM_BETA2 ** step)) / (1 - ADAM_BETA1 ** step);
}

/** Updates params/m/v[offset .. offset+len) with grad[gradOffset .. gradOffset+len). */
export function adamUpdate(
  params: Float32Array,
  m: Float32Array,
  v: Float32Array,
  offset: number,
  grad: Float32Array,
  gradOffset: number,
  len: number,
  stepSize: number,
): void {
  for (let i = 0; i < len; i++) {
    const g = grad[gradOffset + i];
    const j = offset + i;
    const mi = ADAM_BETA1 * m[j] + (1 - ADAM_BETA1) * g;
    const vi = ADAM_BETA2 * v[j] + (1 - ADAM_BETA2) * g * g;
    m[j] = mi;
    v[j] = vi;
    params[j] -= (stepSize * mi) / (Math.sqrt(vi) + ADAM_EPS);
  }
}

/**
 * An embedding table trained outside the autodiff graph: rows are gathered into the batch
 * input in JavaScript, the input gradient comes back from the towers, and each touched row's
 * gradient is summed here before one Adam update per row.
 */
export class EmbeddingTable {
  readonly data: Float32Array;
  /** Optimiser state, allocated at the first gradient (a loaded model never needs it). */
  private m = new Float32Array(0);
  private v = new Float32Array(0);
  /** Slot of a row in `grad`, or -1 when the row has no gradient this step. */
  private slot = new Int32Array(0);
  private touched = new Int32Array(1024);
  private grad: Float32Array;
  private count = 0;

  constructor(
    readonly rows: number,
    readonly dim: number,
    data?: Float32Array,
  ) {
    this.data = data ?? new Float32Array(rows * dim);
    if (this.data.length !== rows * dim) throw new Error('EmbeddingTable: data does not match rows × dim');
    this.grad = new Float32Array(1024 * dim);
  }

  /** Copies row `row` (zeros for -1: an unknown or hidden id) into out[offset ..]. */
  gather(row: number, out: Float32Array, offset: number): void {
    if (row < 0) out.fill(0, offset, offset + this.dim);
    else out.set(this.data.subarray(row * this.dim, (row + 1) * this.dim), offset);
  }

  /** Adds scale × src[offset .. offset+dim) to the gradient of `row`. */
  addGradient(row: number, src: Float32Array, offset: number, scale: number): void {
    if (row < 0) return;
    if (this.slot.length === 0) {
      this.m = new Float32Array(this.rows * this.dim);
      this.v = new Float32Array(this.rows * this.dim);
      this.slot = new Int32Array(this.rows).fill(-1);
    }
    let s = this.slot[row];
    if (s < 0) {
      if (this.count === this.touched.length) this.grow();
      s = this.count++;
      this.slot[row] = s;
      this.touched[s] = row;
      this.grad.fill(0, s * this.dim, (s + 1) * this.dim);
    }
    addRow(this.grad, s * this.dim, src, offset, this.dim, scale);
  }

  /** One Adam update of every row with a gradient; clears the gradients. */
  applyAdam(stepSize: number): void {
    const d = this.dim;
    for (let s = 0; s < this.count; s++) {
      const row = this.touched[s];
      adamUpdate(this.data, this.m, this.v, row * d, this.grad, s * d, d, stepSize);
      this.slot[row] = -1;
    }
    this.count = 0;
  }

  private grow(): void {
    const touched = new Int32Array(this.touched.length * 2);
    touched.set(this.touched);
    const grad = new Float32Array(this.grad.length * 2);
    grad.set(this.grad);
    this.touched = touched;
    this.grad = grad;
  }
}

/** dst[di .. di+n) += scale × src[si .. si+n), unrolled by four (the hot loop of pooling and gradients). */
export function addRow(dst: Float32Array, di: number, src: Float32Array, si: number, n: number, scale: number): void {
  let c = 0;
  for (; c + 3 < n; c += 4) {
    dst[di + c] += scale * src[si + c];
    dst[di + c + 1] += scale * src[si + c + 1];
    dst[di + c + 2] += scale * src[si + c + 2];
    dst[di + c + 3] += scale * src[si + c + 3];
  }
  for (; c < n; c++) dst[di + c] += scale * src[si + c];
}
