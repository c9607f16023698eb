// WebAssembly SIMD kernels for implicit ALS (src/models/als/). Every pointer is a byte
// offset into the imported shared memory. Factor rows of the fit kernels have `k` floats,
// k a multiple of 16 (the caller pads with zeros, which stay zero). Kernels called through
// the worker pool share one signature prefix (chunk, begin, end, scratch, ...) and return
// an f64 partial result that the caller sums in chunk order, so results do not depend on
// which thread ran which chunk.

@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** Element i of a 4-byte array at `base`. */
@inline function at<T>(base: usize, i: i32): T {
  return load<T>(base + ((<usize>i) << 2));
}

/** a·b over k floats. */
@inline function dot(a: usize, b: usize, k: i32): f32 {
  let s0 = f32x4.splat(0);
  let s1 = s0;
  let s2 = s0;
  let s3 = s0;
  const bytes = (<usize>k) << 2;
  for (let o: usize = 0; o < bytes; o += 64) {
    s0 = f32x4.add(s0, f32x4.mul(v128.load(a + o), v128.load(b + o)));
    s1 = f32x4.add(s1, f32x4.mul(v128.load(a + o, 16), v128.load(b + o, 16)));
    s2 = f32x4.add(s2, f32x4.mul(v128.load(a + o, 32), v128.load(b + o, 32)));
    s3 = f32x4.add(s3, f32x4.mul(v128.load(a + o, 48), v128.load(b + o, 48)));
  }
  return hsum(f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)));
}

/** y += a·x over k floats. */
@inline function axpy(y: usize, x: usize, a: f32, k: i32): void {
  const s = f32x4.splat(a);
  const bytes = (<usize>k) << 2;
  for (let o: usize = 0; o < bytes; o += 64) {
    v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(s, v128.load(x + o))));
    v128.store(y + o, f32x4.add(v128.load(y + o, 16), f32x4.mul(s, v128.load(x + o, 16))), 16);
    v128.store(y + o, f32x4.add(v128.load(y + o, 32), f32x4.mul(s, v128.load(x + o, 32))), 32);
    v128.store(y + o, f32x4.add(v128.load(y + o, 48), f32x4.mul(s, v128.load(x + o, 48))), 48);
  }
}

/** p = r + b·p over k floats (the conjugate-gradient direction update). */
@inline function xpby(p: usize, r: usize, b: f32, k: i32): void {
  const s = f32x4.splat(b);
  const bytes = (<usize>k) << 2;
  for (let o: usize = 0; o < bytes; o += 16) {
    v128.store(p + o, f32x4.add(v128.load(r + o), f32x4.mul(s, v128.load(p + o))));
  }
}

/** out = sign · M v for a k × k row-major matrix M. */
@inline function matvec(m: usize, v: usize, out: usize, sign: f32, k: i32): void {
  const row = (<usize>k) << 2;
  for (let a = 0; a < k; a++) {
    store<f32>(out + ((<usize>a) << 2), sign * dot(m + (<usize>a) * row, v, k));
  }
}

/**
 * Conjugate-gradient update (Takács et al. 2011, as in benfred/implicit) of the rows
 * [begin, end) of X against the fixed factors Y, for the implicit-feedback objective of Hu,
 * Koren and Volinsky (2008): row u solves (G + Σ_i (c_ui − 1) y_i y_iᵀ) x = Σ_i c_ui y_i with
 * G = YᵀY + λI, starting from the current x (warm start). `conf` holds c_ui = 1 + α·w_ui
 * alongside the CSR `indices`. Scratch: 4 vectors. Returns Σ ‖x_new − x_old‖².
 */
export function cgSolve(chunk: i32, begin: i32, end: i32, scratch: usize,
  indptr: usize, indices: usize, conf: usize, x0: usize, y0: usize, g: usize, k: i32, steps: i32): f64 {
  const row = (<usize>k) << 2;
  const r = scratch;
  const p = r + row;
  const ap = p + row;
  const old = ap + row;
  let change: f64 = 0;
  for (let u = begin; u < end; u++) {
    const x = x0 + (<usize>u) * row;
    const qBegin = at<i32>(indptr, u);
    const qEnd = at<i32>(indptr, u + 1);
    // r = b − A x
    matvec(g, x, r, -1, k);
    for (let q = qBegin; q < qEnd; q++) {
      const y = y0 + (<usize>at<i32>(indices, q)) * row;
      const c = at<f32>(conf, q);
      axpy(r, y, c - (c - 1) * dot(y, x, k), k);
    }
    let rsOld = dot(r, r, k);
    if (rsOld < 1e-20) continue;
    memory.copy(p, r, row);
    memory.copy(old, x, row);
    for (let s = 0; s < steps; s++) {
      // ap = A p
      matvec(g, p, ap, 1, k);
      for (let q = qBegin; q < qEnd; q++) {
        const y = y0 + (<usize>at<i32>(indices, q)) * row;
        const c = at<f32>(conf, q);
        axpy(ap, y, (c - 1) * dot(y, p, k), k);
      }
      const alpha = rsOld / dot(p, ap, k);
      axpy(x, p, alpha, k);
      axpy(r, ap, -alpha, k);
      const rsNew = dot(r, r, k);
      if (rsNew < 1e-20) break;
      xpby(p, r, rsNew / rsOld, k);
      rsOld = rsNew;
    }
    for (let o: usize = 0; o < row; o += 4) {
      const d = load<f32>(x + o) - load<f32>(old + o);
      change += <f64>(d * d);
    }
  }
  return change;
}

/**
 * The rows [begin, end) of X's share of the training loss
 * Σ_u Σ_i c_ui (p_ui − x_u·y_i)² + λ‖x_u‖², using xᵀ(YᵀY + λI)x for the sum over all items
 * and correcting the observed ones: (c − 1)s² − 2cs + c with s = x·y. Scratch: 1 vector.
 */
export function lossRows(chunk: i32, begin: i32, end: i32, scratch: usize,
  indptr: usize, indices: usize, conf: usize, x0: usize, y0: usize, g: usize, k: i32): f64 {
  const row = (<usize>k) << 2;
  let total: f64 = 0;
  for (let u = begin; u < end; u++) {
    const x = x0 + (<usize>u) * row;
    matvec(g, x, scratch, 1, k);
    total += <f64>dot(x, scratch, k);
    const qEnd = at<i32>(indptr, u + 1);
    for (let q = at<i32>(indptr, u); q < qEnd; q++) {
      const y = y0 + (<usize>at<i32>(indices, q)) * row;
      const c = <f64>at<f32>(conf, q);
      const s = <f64>dot(y, x, k);
      total += (c - 1) * s * s - 2 * c * s + c;
    }
  }
  return total;
}

/**
 * Gram matrix of the rows [begin, end) of F (k floats each) into the k × k block
 * `partials + chunk·k²` (f32): Σ f fᵀ. Four rows per pass cut the loads and stores of the
 * output block by four.
 */
export function gramRows(chunk: i32, begin: i32, end: i32, scratch: usize, f0: usize, k: i32, partials: usize): f64 {
  const row = (<usize>k) << 2;
  const out = partials + (<usize>chunk) * (<usize>k) * row;
  memory.fill(out, 0, (<usize>k) * row);
  let u = begin;
  for (; u + 4 <= end; u += 4) {
    const a = f0 + (<usize>u) * row;
    const b = a + row;
    const c = b + row;
    const d = c + row;
    for (let i = 0; i < k; i++) {
      const o = (<usize>i) << 2;
      const sa = v128.load32_splat(a + o);
      const sb = v128.load32_splat(b + o);
      const sc = v128.load32_splat(c + o);
      const sd = v128.load32_splat(d + o);
      const line = out + (<usize>i) * row;
      for (let j: usize = 0; j < row; j += 16) {
        const ab = f32x4.add(f32x4.mul(sa, v128.load(a + j)), f32x4.mul(sb, v128.load(b + j)));
        const cd = f32x4.add(f32x4.mul(sc, v128.load(c + j)), f32x4.mul(sd, v128.load(d + j)));
        v128.store(line + j, f32x4.add(v128.load(line + j), f32x4.add(ab, cd)));
      }
    }
  }
  for (; u < end; u++) {
    const a = f0 + (<usize>u) * row;
    for (let i = 0; i < k; i++) axpy(out + (<usize>i) * row, a, load<f32>(a + ((<usize>i) << 2)), k);
  }
  return 0;
}

/**
 * Dense scores of nQ query rows (Q: nQ × f row-major, nQ a multiple of 4) against the items
 * of panels [begin, end) into out (nQ × nItems row-major). Items are packed in panels of 8:
 * panel p holds f rows of 8 floats, the factor j of items 8p..8p+7. A 4 × 8 block of
 * scores lives in 8 registers while j runs, so each loaded panel row serves 4 queries.
 */
export function scorePanels(
  chunk: i32,
  begin: i32,
  end: i32,
  scratch: usize,
  q0: usize,
  nQ: i32,
  panels: usize,
  nItems: i32,
  f: i32,
  out: usize,
): f64 {
  const qRow = (<usize>f) << 2;
  const outRow = (<usize>nItems) << 2;
  const panelBytes = (<usize>f) << 5;
  for (let p = begin; p < end; p++) {
    const panel = panels + (<usize>p) * panelBytes;
    const first = p << 3;
    for (let b = 0; b < nQ; b += 4) {
      const qa = q0 + (<usize>b) * qRow;
      const qb = qa + qRow;
      const qc = qb + qRow;
      const qd = qc + qRow;
      let a0 = f32x4.splat(0);
      let a1 = a0;
      let b0 = a0;
      let b1 = a0;
      let c0 = a0;
      let c1 = a0;
      let d0 = a0;
      let d1 = a0;
      for (let j: usize = 0; j < qRow; j += 4) {
        const y0 = v128.load(panel + (j << 3));
        const y1 = v128.load(panel + (j << 3), 16);
        const sa = v128.load32_splat(qa + j);
        a0 = f32x4.add(a0, f32x4.mul(sa, y0));
        a1 = f32x4.add(a1, f32x4.mul(sa, y1));
        const sb = v128.load32_splat(qb + j);
        b0 = f32x4.add(b0, f32x4.mul(sb, y0));
        b1 = f32x4.add(b1, f32x4.mul(sb, y1));
        const sc = v128.load32_splat(qc + j);
        c0 = f32x4.add(c0, f32x4.mul(sc, y0));
        c1 = f32x4.add(c1, f32x4.mul(sc, y1));
        const sd = v128.load32_splat(qd + j);
        d0 = f32x4.add(d0, f32x4.mul(sd, y0));
        d1 = f32x4.add(d1, f32x4.mul(sd, y1));
      }
      const o = out + (<usize>b) * outRow + ((<usize>first) << 2);
      const n = nItems - first;
      store8(o, a0, a1, n);
      store8(o + outRow, b0, b1, n);
      store8(o + 2 * outRow, c0, c1, n);
      store8(o + 3 * outRow, d0, d1, n);
    }
  }
  return 0;
}

/** Stores the 8 scores lo:hi, or only the first n when n < 8 (the last, partial panel). */
@inline function store8(o: usize, lo: v128, hi: v128, n: i32): void {
  if (n >= 8) {
    v128.store(o, lo);
    v128.store(o, hi, 16);
  } else {
    storeTail(o, lo, hi, n);
  }
}

/** Stores the first n (< 8) lanes of the 8 scores lo:hi (no allocation: the stub runtime never frees). */
function storeTail(o: usize, lo: v128, hi: v128, n: i32): void {
  if (n > 0) store<f32>(o, f32x4.extract_lane(lo, 0));
  if (n > 1) store<f32>(o, f32x4.extract_lane(lo, 1), 4);
  if (n > 2) store<f32>(o, f32x4.extract_lane(lo, 2), 8);
  if (n > 3) store<f32>(o, f32x4.extract_lane(lo, 3), 12);
  if (n > 4) store<f32>(o, f32x4.extract_lane(hi, 0), 16);
  if (n > 5) store<f32>(o, f32x4.extract_lane(hi, 1), 20);
  if (n > 6) store<f32>(o, f32x4.extract_lane(hi, 2), 24);
}
