// WebAssembly SIMD kernels of one two-tower training step (src/models/two-tower/step.ts).
// Every pointer is a byte offset into the imported shared memory; matrices are row-major
// float32. Every kernel has the worker pool's signature prefix (chunk, begin, end, scratch)
// and works on the rows (or columns) [begin, end) of its output only, computing each output
// element with the same operations in the same order whatever the chunk bounds: results are
// therefore identical for any number of threads. Widths need not be multiples of 4: each
// vector loop has a scalar tail doing the same arithmetic as one lane.

const ACCUMULATE: i32 = 1;
const RELU: i32 = 2;
/** Logit of an accidental hit: a column holding the row's own positive item. */
const MASKED: f32 = -1e9;
const ADAM_BETA1: f32 = 0.9;
const ADAM_BETA2: f32 = 0.999;
const ADAM_EPS: f32 = 1e-8;
const NORM_EPS: f32 = 1e-12;

@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

@inline function f32At(base: usize, i: i32): f32 {
  return load<f32>(base + ((<usize>i) << 2));
}

@inline function i32At(base: usize, i: i32): i32 {
  return load<i32>(base + ((<usize>i) << 2));
}

@inline function rowPtr(base: usize, row: i32, width: i32): usize {
  return base + (((<usize>row) * (<usize>width)) << 2);
}

/** The GEMM epilogue of 4 outputs: (C +) acc (+ bias), then ReLU or the mask step(mask > 0). */
@inline function finish4(acc: v128, c: usize, bias: usize, mask: usize, mode: i32): void {
  let r = acc;
  if (mode & ACCUMULATE) r = f32x4.add(v128.load(c), r);
  if (bias) r = f32x4.add(r, v128.load(bias));
  if (mode & RELU) r = f32x4.max(r, f32x4.splat(0));
  if (mask) r = v128.and(r, f32x4.gt(v128.load(mask), f32x4.splat(0)));
  v128.store(c, r);
}

/** finish4 for one output. */
@inline function finish1(acc: f32, c: usize, bias: usize, mask: usize, mode: i32): void {
  let r = acc;
  if (mode & ACCUMULATE) r = load<f32>(c) + r;
  if (bias) r = r + load<f32>(bias);
  if (mode & RELU) r = max<f32>(r, 0);
  if (mask) r = load<f32>(mask) > 0 ? r : 0;
  store<f32>(c, r);
}

/**
 * C[i, 0..n) = Σ_kk A(i, kk) · B[kk, 0..n) for the rows i in [begin, end), then the epilogue
 * (finish4). A(i, kk) sits at a + i·aRow + kk·aCol (byte strides), so one kernel serves A·B
 * (aRow = 4k, aCol = 4) and Aᵀ·B (aRow = 4, aCol = 4m) without a transposed copy. B is k × n,
 * C and the optional mask m × n, the optional bias n floats (0 = none). Blocks of 4 rows × 8
 * columns keep 8 accumulators in registers; A values are splatted, B rows loaded as vectors.
 * Scratch: 16·k bytes.
 */
export function gemm(chunk: i32, begin: i32, end: i32, scratch: usize,
  a: usize, aRow: i32, aCol: i32, b: usize, n: i32, k: i32, c: usize, bias: usize, mask: usize, mode: i32): f64 {
  const ldb = (<usize>n) << 2;
  const zero = f32x4.splat(0);
  let i = begin;
  for (; i + 4 <= end; i += 4) {
    let a0 = a + (<usize>i) * (<usize>aRow);
    let step = <usize>aRow;
    let sa = <usize>aCol;
    if (aRow == 4) {
      // Aᵀ·B: the block's 4 values per kk are adjacent, but successive kk are a row of A
      // apart; packing them into scratch (4 floats per kk) reads each line of A once per
      // block instead of once per column block.
      for (let kk = 0, o: usize = 0; kk < k; kk++, o += sa) v128.store(scratch + ((<usize>kk) << 4), v128.load(a0 + o));
      a0 = scratch;
      step = 4;
      sa = 16;
    }
    const a1 = a0 + step;
    const a2 = a1 + step;
    const a3 = a2 + step;
    const c0 = rowPtr(c, i, n);
    const m0 = mask ? rowPtr(mask, i, n) : 0;
    let j = 0;
    for (; j + 8 <= n; j += 8) {
      let x00 = zero, x01 = zero, x10 = zero, x11 = zero, x20 = zero, x21 = zero, x30 = zero, x31 = zero;
      let pb = b + ((<usize>j) << 2);
      let o: usize = 0;
      for (let kk = 0; kk < k; kk++) {
        const b0 = v128.load(pb);
        const b1 = v128.load(pb, 16);
        let s = v128.load32_splat(a0 + o);
        x00 = f32x4.add(x00, f32x4.mul(s, b0));
        x01 = f32x4.add(x01, f32x4.mul(s, b1));
        s = v128.load32_splat(a1 + o);
        x10 = f32x4.add(x10, f32x4.mul(s, b0));
        x11 = f32x4.add(x11, f32x4.mul(s, b1));
        s = v128.load32_splat(a2 + o);
        x20 = f32x4.add(x20, f32x4.mul(s, b0));
        x21 = f32x4.add(x21, f32x4.mul(s, b1));
        s = v128.load32_splat(a3 + o);
        x30 = f32x4.add(x30, f32x4.mul(s, b0));
        x31 = f32x4.add(x31, f32x4.mul(s, b1));
        pb += ldb;
        o += sa;
      }
      const cj = c0 + ((<usize>j) << 2);
      const bj = bias ? bias + ((<usize>j) << 2) : 0;
      const mj = mask ? m0 + ((<usize>j) << 2) : 0;
      finish4(x00, cj, bj, mj, mode);
      finish4(x01, cj + 16, bj ? bj + 16 : 0, mj ? mj + 16 : 0, mode);
      finish4(x10, cj + ldb, bj, mj ? mj + ldb : 0, mode);
      finish4(x11, cj + ldb + 16, bj ? bj + 16 : 0, mj ? mj + ldb + 16 : 0, mode);
      finish4(x20, cj + 2 * ldb, bj, mj ? mj + 2 * ldb : 0, mode);
      finish4(x21, cj + 2 * ldb + 16, bj ? bj + 16 : 0, mj ? mj + 2 * ldb + 16 : 0, mode);
      finish4(x30, cj + 3 * ldb, bj, mj ? mj + 3 * ldb : 0, mode);
      finish4(x31, cj + 3 * ldb + 16, bj ? bj + 16 : 0, mj ? mj + 3 * ldb + 16 : 0, mode);
    }
    // Remaining columns, one row at a time.
    for (let r = 0; r < 4; r++) gemmRowTail(a0 + (<usize>r) * step, sa, b, n, k, j, c, i + r, bias, mask, mode);
  }
  for (; i < end; i++) gemmRowTail(a + (<usize>i) * (<usize>aRow), <usize>aCol, b, n, k, 0, c, i, bias, mask, mode);
  return 0;
}

/** Row i of gemm from column `from` on: blocks of 4 columns, then single columns. */
@inline function gemmRowTail(ai: usize, sa: usize, b: usize, n: i32, k: i32, from: i32, c: usize, i: i32, bias: usize, mask: usize, mode: i32): void {
  const ldb = (<usize>n) << 2;
  const ci = rowPtr(c, i, n);
  const mi = mask ? rowPtr(mask, i, n) : 0;
  let j = from;
  for (; j + 8 <= n; j += 8) {
    let x0 = f32x4.splat(0);
    let x1 = x0;
    let pb = b + ((<usize>j) << 2);
    let o: usize = 0;
    for (let kk = 0; kk < k; kk++) {
      const s = v128.load32_splat(ai + o);
      x0 = f32x4.add(x0, f32x4.mul(s, v128.load(pb)));
      x1 = f32x4.add(x1, f32x4.mul(s, v128.load(pb, 16)));
      pb += ldb;
      o += sa;
    }
    const off = (<usize>j) << 2;
    finish4(x0, ci + off, bias ? bias + off : 0, mask ? mi + off : 0, mode);
    finish4(x1, ci + off + 16, bias ? bias + off + 16 : 0, mask ? mi + off + 16 : 0, mode);
  }
  for (; j + 4 <= n; j += 4) {
    let x = f32x4.splat(0);
    let pb = b + ((<usize>j) << 2);
    let o: usize = 0;
    for (let kk = 0; kk < k; kk++) {
      x = f32x4.add(x, f32x4.mul(v128.load32_splat(ai + o), v128.load(pb)));
      pb += ldb;
      o += sa;
    }
    const off = (<usize>j) << 2;
    finish4(x, ci + off, bias ? bias + off : 0, mask ? mi + off : 0, mode);
  }
  for (; j < n; j++) {
    let x: f32 = 0;
    let pb = b + ((<usize>j) << 2);
    let o: usize = 0;
    for (let kk = 0; kk < k; kk++) {
      x = x + load<f32>(ai + o) * load<f32>(pb);
      pb += ldb;
      o += sa;
    }
    const off = (<usize>j) << 2;
    finish1(x, ci + off, bias ? bias + off : 0, mask ? mi + off : 0, mode);
  }
}

/** dst (cols × rows) = srcᵀ for the source rows [begin, end); src is rows × cols. */
export function transpose(chunk: i32, begin: i32, end: i32, scratch: usize, src: usize, rows: i32, cols: i32, dst: usize): f64 {
  for (let r = begin; r < end; r++) {
    const s = rowPtr(src, r, cols);
    for (let c = 0; c < cols; c++) store<f32>(rowPtr(dst, c, rows) + ((<usize>r) << 2), f32At(s, c));
  }
  return 0;
}

/** out[j] = Σ_r m[r, j] over all `rows` rows, for the columns [begin, end). */
export function columnSums(chunk: i32, begin: i32, end: i32, scratch: usize, m: usize, rows: i32, cols: i32, out: usize): f64 {
  let j = begin;
  for (; j + 4 <= end; j += 4) {
    let acc = f32x4.splat(0);
    for (let r = 0; r < rows; r++) acc = f32x4.add(acc, v128.load(rowPtr(m, r, cols) + ((<usize>j) << 2)));
    v128.store(out + ((<usize>j) << 2), acc);
  }
  for (; j < end; j++) {
    let acc: f32 = 0;
    for (let r = 0; r < rows; r++) acc = acc + f32At(rowPtr(m, r, cols), j);
    store<f32>(out + ((<usize>j) << 2), acc);
  }
  return 0;
}

// Row helpers over w floats (vector blocks, then a scalar tail).

@inline function zeroRow(dst: usize, w: i32): void {
  memory.fill(dst, 0, (<usize>w) << 2);
}

/** dst += s · src */
@inline function axpyRow(dst: usize, src: usize, s: f32, w: i32): void {
  const sv = f32x4.splat(s);
  let c = 0;
  for (; c + 4 <= w; c += 4) {
    const o = (<usize>c) << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), f32x4.mul(sv, v128.load(src + o))));
  }
  for (; c < w; c++) {
    const o = (<usize>c) << 2;
    store<f32>(dst + o, load<f32>(dst + o) + s * load<f32>(src + o));
  }
}

/** dst += src */
@inline function addRow(dst: usize, src: usize, w: i32): void {
  let c = 0;
  for (; c + 4 <= w; c += 4) {
    const o = (<usize>c) << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
  }
  for (; c < w; c++) {
    const o = (<usize>c) << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
  }
}

/** dst *= s */
@inline function scaleRow(dst: usize, s: f32, w: i32): void {
  const sv = f32x4.splat(s);
  let c = 0;
  for (; c + 4 <= w; c += 4) {
    const o = (<usize>c) << 2;
    v128.store(dst + o, f32x4.mul(v128.load(dst + o), sv));
  }
  for (; c < w; c++) {
    const o = (<usize>c) << 2;
    store<f32>(dst + o, load<f32>(dst + o) * s);
  }
}

/** Σ a·b over w floats. */
@inline function dotRow(a: usize, b: usize, w: i32): f32 {
  let acc = f32x4.splat(0);
  let c = 0;
  for (; c + 4 <= w; c += 4) {
    const o = (<usize>c) << 2;
    acc = f32x4.add(acc, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  }
  let s = hsum(acc);
  for (; c < w; c++) s = s + f32At(a, c) * f32At(b, c);
  return s;
}

/**
 * User tower inputs of the rows [begin, end): x[b] = [user row | mean of the history rows],
 * d floats each; a user of -1 (unknown or dropped out) gives zeros, as do histories that are
 * all padding (-1). history is rows × len item indices.
 */
export function gatherUsers(chunk: i32, begin: i32, end: i32, scratch: usize,
  users: usize, history: usize, len: i32, userTable: usize, historyTable: usize, d: i32, x: usize): f64 {
  for (let b = begin; b < end; b++) {
    const xu = rowPtr(x, b, 2 * d);
    const u = i32At(users, b);
    if (u < 0) zeroRow(xu, d);
    else memory.copy(xu, rowPtr(userTable, u, d), (<usize>d) << 2);
    const pooled = xu + ((<usize>d) << 2);
    zeroRow(pooled, d);
    let count = 0;
    const h = rowPtr(history, b, len);
    for (let j = 0; j < len; j++) {
      const item = i32At(h, j);
      if (item < 0) continue;
      count++;
      addRow(pooled, rowPtr(historyTable, item, d), d);
    }
    if (count > 1) scaleRow(pooled, <f32>1 / <f32>count, d);
  }
  return 0;
}

/**
 * Item tower inputs of the rows [begin, end): the id embedding x[j] (zeros for an id of -1)
 * and the first layer's content part pre[j] = b1 + Σ_f content_f · W1c[f] over the item's
 * sparse content row (CSR: indptr, indices, values by item); the dense product with the id
 * embedding is added to pre by gemm (ACCUMULATE).
 */
export function gatherItems(chunk: i32, begin: i32, end: i32, scratch: usize,
  ids: usize, items: usize, itemTable: usize, d: i32, x: usize,
  indptr: usize, indices: usize, values: usize, w1c: usize, b1: usize, hidden: i32, pre: usize): f64 {
  for (let j = begin; j < end; j++) {
    const xe = rowPtr(x, j, d);
    const id = i32At(ids, j);
    if (id < 0) zeroRow(xe, d);
    else memory.copy(xe, rowPtr(itemTable, id, d), (<usize>d) << 2);
    const p = rowPtr(pre, j, hidden);
    memory.copy(p, b1, (<usize>hidden) << 2);
    const item = i32At(items, j);
    for (let q = i32At(indptr, item), e = i32At(indptr, item + 1); q < e; q++) {
      axpyRow(p, rowPtr(w1c, i32At(indices, q), hidden), f32At(values, q), hidden);
    }
  }
  return 0;
}

/**
 * Gradient of the content rows [begin, end) of the item tower's W1:
 * dW1c[f] = Σ_j content_jf · dh[j] over the `rows` item rows, in row order.
 */
export function contentGradient(chunk: i32, begin: i32, end: i32, scratch: usize,
  items: usize, rows: i32, indptr: usize, indices: usize, values: usize, dh: usize, hidden: i32, dw1c: usize): f64 {
  for (let f = begin; f < end; f++) zeroRow(rowPtr(dw1c, f, hidden), hidden);
  for (let j = 0; j < rows; j++) {
    const item = i32At(items, j);
    for (let q = i32At(indptr, item), e = i32At(indptr, item + 1); q < e; q++) {
      const f = i32At(indices, q);
      if (f >= begin && f < end) axpyRow(rowPtr(dw1c, f, hidden), rowPtr(dh, j, hidden), f32At(values, q), hidden);
    }
  }
  return 0;
}

/** out[r] = y[r] / max(‖y[r]‖, ε) and norms[r] = max(‖y[r]‖, ε) for the rows [begin, end). */
export function normalizeRows(chunk: i32, begin: i32, end: i32, scratch: usize, y: usize, d: i32, out: usize, norms: usize): f64 {
  for (let r = begin; r < end; r++) {
    const yr = rowPtr(y, r, d);
    const norm = max<f32>(sqrt<f32>(dotRow(yr, yr, d)), NORM_EPS);
    store<f32>(norms + ((<usize>r) << 2), norm);
    const o = rowPtr(out, r, d);
    const nv = f32x4.splat(norm);
    let c = 0;
    for (; c + 4 <= d; c += 4) v128.store(o + ((<usize>c) << 2), f32x4.div(v128.load(yr + ((<usize>c) << 2)), nv));
    for (; c < d; c++) store<f32>(o + ((<usize>c) << 2), f32At(yr, c) / norm);
  }
  return 0;
}

/** Back through the normalisation: dy = (dOut − out·⟨dOut, out⟩) / norm, rows [begin, end). */
export function normalizeBackward(chunk: i32, begin: i32, end: i32, scratch: usize, out: usize, norms: usize, dOut: usize, d: i32, dy: usize): f64 {
  for (let r = begin; r < end; r++) {
    const o = rowPtr(out, r, d);
    const g = rowPtr(dOut, r, d);
    const dst = rowPtr(dy, r, d);
    const dot = dotRow(g, o, d);
    const norm = f32At(norms, r);
    const dv = f32x4.splat(dot);
    const nv = f32x4.splat(norm);
    let c = 0;
    for (; c + 4 <= d; c += 4) {
      const off = (<usize>c) << 2;
      v128.store(dst + off, f32x4.div(f32x4.sub(v128.load(g + off), f32x4.mul(v128.load(o + off), dv)), nv));
    }
    for (; c < d; c++) store<f32>(dst + ((<usize>c) << 2), (f32At(g, c) - f32At(o, c) * dot) / norm);
  }
  return 0;
}

/**
 * e^x for x ≤ 0 (0 below −87): 2^n · p(r) with r = x − n·ln 2, p Taylor to degree 6 (relative
 * error < 2e-7). n is rounded by adding 1.5·2^23, which also leaves n in the low mantissa bits
 * of the sum: cheaper in V8 than f32x4.nearest and a saturating float → int conversion.
 */
@inline function expNonPositive(x: v128): v128 {
  const lo = f32x4.splat(-87);
  const xc = f32x4.max(x, lo);
  const shifter = f32x4.splat(12582912);
  const t = f32x4.add(f32x4.mul(xc, f32x4.splat(1.4426950408889634)), shifter);
  const n = f32x4.sub(t, shifter);
  let r = f32x4.sub(xc, f32x4.mul(n, f32x4.splat(0.693145751953125)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(1.4286068203094173e-6)));
  let p = f32x4.splat(1.0 / 720);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 120));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 24));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 6));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(0.5));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1));
  // The bits of t are those of 1.5·2^23 plus n; 2^n has the exponent field n + 127.
  const scale = i32x4.shl(i32x4.add(t, i32x4.splat(127 - 0x4b400000)), 23);
  return v128.and(f32x4.mul(p, scale), f32x4.ge(x, lo));
}

/**
 * The in-batch sampled softmax, rows [begin, end) of the B × n score matrix s (raw dot
 * products u_b · v_j), in place: logit z_bj = s_bj / τ + colBias_j, or MASKED where column j ≠ b
 * holds row b's own item (colItem_j = colItem_b); the positive of row b is column b. s becomes
 * d(loss)/d(s) = (softmax(z_b) − onehot(b)) · gradScale with gradScale = 1 / (τ · B), for
 * loss = −mean_b log softmax(z_b)_b. Returns the chunk's Σ_b −log softmax(z_b)_b.
 */
export function softmaxRows(chunk: i32, begin: i32, end: i32, scratch: usize,
  s: usize, n: i32, invT: f32, colBias: usize, colItem: usize, gradScale: f32): f64 {
  let loss: f64 = 0;
  const it = f32x4.splat(invT);
  const masked = f32x4.splat(MASKED);
  for (let b = begin; b < end; b++) {
    const row = rowPtr(s, b, n);
    const own = i32x4.splat(i32At(colItem, b));
    const zb = f32At(row, b) * invT + f32At(colBias, b);
    // Logits in place, the maximum alongside.
    let mx = f32x4.splat(MASKED);
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const o = (<usize>j) << 2;
      const z = f32x4.add(f32x4.mul(v128.load(row + o), it), v128.load(colBias + o));
      const zm = v128.bitselect(masked, z, i32x4.eq(v128.load(colItem + o), own));
      v128.store(row + o, zm);
      mx = f32x4.max(mx, zm);
    }
    let m = max<f32>(max<f32>(f32x4.extract_lane(mx, 0), f32x4.extract_lane(mx, 1)), max<f32>(f32x4.extract_lane(mx, 2), f32x4.extract_lane(mx, 3)));
    for (; j < n; j++) {
      const z = i32At(colItem, j) == i32At(colItem, b) ? MASKED : f32At(row, j) * invT + f32At(colBias, j);
      store<f32>(row + ((<usize>j) << 2), z);
      m = max<f32>(m, z);
    }
    // The positive's own column is never masked.
    store<f32>(row + ((<usize>b) << 2), zb);
    m = max<f32>(m, zb);
    // Exponentials in place, their sum alongside.
    const mv = f32x4.splat(m);
    let sum = f32x4.splat(0);
    j = 0;
    for (; j + 4 <= n; j += 4) {
      const o = (<usize>j) << 2;
      const e = expNonPositive(f32x4.sub(v128.load(row + o), mv));
      v128.store(row + o, e);
      sum = f32x4.add(sum, e);
    }
    let total = hsum(sum);
    for (; j < n; j++) {
      const o = (<usize>j) << 2;
      const e = f32x4.extract_lane(expNonPositive(f32x4.splat(load<f32>(row + o) - m)), 0);
      store<f32>(row + o, e);
      total = total + e;
    }
    loss += Math.log(<f64>total) - <f64>(zb - m);
    // Gradient: softmax · gradScale, minus gradScale on the positive.
    const inv: f32 = <f32>1 / total;
    const pb = f32At(row, b) * inv;
    scaleRow(row, inv * gradScale, n);
    store<f32>(row + ((<usize>b) << 2), (pb - 1) * gradScale);
  }
  return loss;
}

/**
 * The in-batch softmax block, fused by 4 rows of the score matrix so each row block stays in
 * the first-level cache from its product to its use: for the rows [begin, end) of u (B × d),
 * s = u · vT (vT: d × n), then softmaxRows, then du = s · v (v: n × d). Returns the chunk's
 * loss sum (softmaxRows). The arithmetic per element is that of the three kernels run apart.
 */
export function softmaxBlock(chunk: i32, begin: i32, end: i32, scratch: usize,
  u: usize, vT: usize, v: usize, n: i32, d: i32, s: usize, invT: f32, colBias: usize, colItem: usize, gradScale: f32, du: usize): f64 {
  let loss: f64 = 0;
  for (let i = begin; i < end; i += 4) {
    const e = min(i + 4, end);
    gemm(chunk, i, e, scratch, u, d << 2, 4, vT, n, d, s, 0, 0, 0);
    loss += softmaxRows(chunk, i, e, scratch, s, n, invT, colBias, colItem, gradScale);
    gemm(chunk, i, e, scratch, s, n << 2, 4, v, d, n, du, 0, 0, 0);
  }
  return loss;
}

/**
 * Adam on the rows of an embedding table a batch touched ("lazy" Adam), slots [begin, end):
 * slot t updates table row rows[t] with the gradient Σ scale_c · src[from_c] over the
 * contributions c in start[t] .. start[t+1] (src rows of srcStride floats, d used). The
 * contributions are listed in batch order, so the sum has a fixed order. Scratch: d floats.
 */
export function sparseAdam(chunk: i32, begin: i32, end: i32, scratch: usize,
  rows: usize, start: usize, from: usize, scale: usize, src: usize, srcStride: i32,
  table: usize, m: usize, v: usize, d: i32, stepSize: f32): f64 {
  for (let t = begin; t < end; t++) {
    zeroRow(scratch, d);
    for (let c = i32At(start, t), e = i32At(start, t + 1); c < e; c++) {
      axpyRow(scratch, rowPtr(src, i32At(from, c), srcStride), f32At(scale, c), d);
    }
    const row = i32At(rows, t);
    adam(rowPtr(table, row, d), rowPtr(m, row, d), rowPtr(v, row, d), scratch, d, stepSize);
  }
  return 0;
}

/** Adam on params[begin, end) with grad[begin, end). */
export function denseAdam(chunk: i32, begin: i32, end: i32, scratch: usize, params: usize, m: usize, v: usize, grad: usize, stepSize: f32): f64 {
  const o = (<usize>begin) << 2;
  adam(params + o, m + o, v + o, grad + o, end - begin, stepSize);
  return 0;
}

/**
 * p -= stepSize · m / (√v + ε) after m = β1·m + (1 − β1)·g, v = β2·v + (1 − β2)·g², over w
 * floats; the bias correction is folded into stepSize (src/models/two-tower/adam.ts).
 */
@inline function adam(p: usize, m: usize, v: usize, g: usize, w: i32, stepSize: f32): void {
  const b1 = f32x4.splat(ADAM_BETA1);
  const c1 = f32x4.splat(1 - ADAM_BETA1);
  const b2 = f32x4.splat(ADAM_BETA2);
  const c2 = f32x4.splat(1 - ADAM_BETA2);
  const eps = f32x4.splat(ADAM_EPS);
  const lr = f32x4.splat(stepSize);
  let c = 0;
  for (; c + 4 <= w; c += 4) {
    const o = (<usize>c) << 2;
    const gv = v128.load(g + o);
    const mv = f32x4.add(f32x4.mul(b1, v128.load(m + o)), f32x4.mul(c1, gv));
    const vv = f32x4.add(f32x4.mul(b2, v128.load(v + o)), f32x4.mul(c2, f32x4.mul(gv, gv)));
    v128.store(m + o, mv);
    v128.store(v + o, vv);
    v128.store(p + o, f32x4.sub(v128.load(p + o), f32x4.div(f32x4.mul(lr, mv), f32x4.add(f32x4.sqrt(vv), eps))));
  }
  for (; c < w; c++) {
    const o = (<usize>c) << 2;
    const gs = load<f32>(g + o);
    const ms = ADAM_BETA1 * load<f32>(m + o) + (1 - ADAM_BETA1) * gs;
    const vs = ADAM_BETA2 * load<f32>(v + o) + (1 - ADAM_BETA2) * (gs * gs);
    store<f32>(m + o, ms);
    store<f32>(v + o, vs);
    store<f32>(p + o, load<f32>(p + o) - (stepSize * ms) / (sqrt<f32>(vs) + ADAM_EPS));
  }
}
