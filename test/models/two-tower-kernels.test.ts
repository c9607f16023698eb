import { afterAll, describe, expect, it } from 'vitest';
import { ADAM_BETA1, ADAM_BETA2, ADAM_EPS } from '../../src/models/two-tower/adam.js';
import { mat, TowerKernels, TWO_TOWER_KERNELS, type Mat } from '../../src/models/two-tower/kernels.js';
import { WasmArena } from '../../src/wasm/arena.js';
import { KernelPool } from '../../src/wasm/pool.js';
import { Rng } from '../../src/util/rng.js';

/**
 * Each kernel of asm/two-tower.ts against a plain float64 JavaScript reference, on odd shapes
 * (widths not multiples of 4 exercise the scalar tails; rows not multiples of 4 the row tails),
 * and on one and two threads: the results must be the same bits.
 */
const rng = new Rng(11);
const SCRATCH = 1 << 16;

/** A kernel pool over a fresh arena, with a bump allocator for the test's arrays. */
class Bench {
  private readonly arena = new WasmArena<'heap' | 'scratch'>('kernel test', { heap: 1 << 22, scratch: 2 * SCRATCH });
  private top: number;
  readonly k: TowerKernels;

  constructor(threads: number) {
    this.top = this.arena.at.heap;
    this.k = new TowerKernels(new KernelPool(TWO_TOWER_KERNELS, this.arena.memory, threads, this.arena.at.scratch, SCRATCH));
  }

  f32(values: ArrayLike<number> | number): Float32Array {
    const n = typeof values === 'number' ? values : values.length;
    const v = new Float32Array(this.arena.memory.buffer, this.alloc(n), n);
    if (typeof values !== 'number') v.set(values);
    return v;
  }

  i32(values: ArrayLike<number>): Int32Array {
    const v = new Int32Array(this.arena.memory.buffer, this.alloc(values.length), values.length);
    v.set(values);
    return v;
  }

  mat(values: ArrayLike<number> | number, rows: number, cols: number): { m: Mat; v: Float32Array } {
    const v = this.f32(values);
    return { m: mat(v.byteOffset, rows, cols), v };
  }

  close(): void {
    this.k.pool.close();
  }

  private alloc(n: number): number {
    const at = this.top;
    this.top += Math.ceil((n * 4) / 16) * 16;
    return at;
  }
}

const benches = [new Bench(1), new Bench(2)];
afterAll(() => {
  for (const b of benches) b.close();
});

const random = (n: number, scale = 1): Float32Array => Float32Array.from({ length: n }, () => scale * rng.normal());

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i])));
  expect(worst).toBeLessThan(tol);
}

/** Runs `f` on both benches and checks they give the same bits; returns the result. */
function onBothThreadCounts(f: (b: Bench) => Float32Array): Float32Array {
  const [one, two] = benches.map((b) => Float32Array.from(f(b)));
  expect(Buffer.from(two.buffer).equals(Buffer.from(one.buffer))).toBe(true);
  return one;
}

describe('gemm', () => {
  const shapes = [
    { m: 1, k: 1, n: 1 },
    { m: 7, k: 13, n: 11 },
    { m: 37, k: 9, n: 21 },
    { m: 64, k: 33, n: 16 },
  ];
  for (const { m, k, n } of shapes) {
    it(`C = A·B and Aᵀ·B with bias, ReLU, accumulate and mask match float64 (${m}×${k} by ${k}×${n})`, () => {
      const a = random(m * k);
      const at = new Float32Array(k * m);
      for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) at[j * m + i] = a[i * k + j];
      const bm = random(k * n);
      const bias = random(n);
      const c0 = random(m * n);
      const mask = random(m * n);
      const reference = (mode: { bias?: boolean; relu?: boolean; accumulate?: boolean; mask?: boolean }): Float64Array => {
        const out = new Float64Array(m * n);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let s = 0;
            for (let q = 0; q < k; q++) s += a[i * k + q] * bm[q * n + j];
            if (mode.accumulate) s += c0[i * n + j];
            if (mode.bias) s += bias[j];
            if (mode.relu) s = Math.max(0, s);
            if (mode.mask && !(mask[i * n + j] > 0)) s = 0;
            out[i * n + j] = s;
          }
        }
        return out;
      };
      for (const mode of [{}, { bias: true, relu: true }, { accumulate: true, bias: true }, { mask: true }]) {
        for (const transposeA of [false, true]) {
          const c = onBothThreadCounts((bench) => {
            const A = transposeA ? bench.mat(at, k, m) : bench.mat(a, m, k);
            const B = bench.mat(bm, k, n);
            const C = bench.mat(c0, m, n);
            bench.k.matmul(C.m, A.m, B.m, {
              transposeA,
              bias: 'bias' in mode ? bench.f32(bias).byteOffset : 0,
              relu: 'relu' in mode,
              accumulate: 'accumulate' in mode,
              mask: 'mask' in mode ? bench.f32(mask).byteOffset : 0,
            });
            return C.v;
          });
          expectClose(c, reference(mode), 1e-5);
        }
      }
    });
  }

  it('refuses shapes that do not fit', () => {
    const b = benches[0];
    expect(() => b.k.matmul(b.mat(6, 2, 3).m, b.mat(6, 2, 3).m, b.mat(6, 2, 3).m)).toThrow(/do not fit/);
  });
});

describe('transpose and column sums', () => {
  it('transpose equals the index swap, column sums the float64 sums', () => {
    const rows = 9;
    const cols = 7;
    const src = random(rows * cols);
    const t = onBothThreadCounts((b) => {
      const out = b.mat(rows * cols, cols, rows);
      b.k.transpose(out.m, b.mat(src, rows, cols).m);
      return out.v;
    });
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) expect(t[c * rows + r]).toBe(src[r * cols + c]);
    const sums = onBothThreadCounts((b) => {
      const out = b.f32(cols);
      b.k.columnSums(out.byteOffset, b.mat(src, rows, cols).m);
      return out;
    });
    const expected = Array.from({ length: cols }, (_, c) =>
      Array.from({ length: rows }, (_, r) => src[r * cols + c]).reduce((x, y) => x + y),
    );
    expectClose(sums, expected, 1e-6);
  });
});

describe('normalisation', () => {
  const rows = 6;
  const d = 7;
  const y = random(rows * d);
  y.fill(0, 0, d); // a zero row: the norm is floored, not divided by 0

  it('normalizeRows gives unit rows and their norms; normalizeBackward the Jacobian-vector product', () => {
    const dOut = random(rows * d);
    const [out, norms, dy] = benches.map((b) => {
      const o = b.mat(rows * d, rows, d);
      const n = b.f32(rows);
      const g = b.mat(rows * d, rows, d);
      b.k.normalizeRows(o.m, b.mat(y, rows, d).m, n.byteOffset);
      b.k.normalizeBackward(g.m, o.m, n.byteOffset, b.mat(dOut, rows, d).m);
      return [o.v.slice(), n.slice(), g.v.slice()];
    })[0];
    for (let r = 0; r < rows; r++) {
      const row = y.subarray(r * d, (r + 1) * d);
      const norm = Math.max(Math.hypot(...row), 1e-12);
      expect(norms[r]).toBeCloseTo(norm, 5);
      // d/dy of ⟨dOut, y/‖y‖⟩ by central differences.
      for (let c = 0; c < d; c++) {
        expect(out[r * d + c]).toBeCloseTo(row[c] / norm, 6);
        if (r === 0) continue;
        const h = 1e-3;
        const f = (delta: number): number => {
          const v = Float64Array.from(row);
          v[c] += delta;
          const nv = Math.hypot(...v);
          return v.reduce((s, x, i) => s + (dOut[r * d + i] * x) / nv, 0);
        };
        expect(dy[r * d + c]).toBeCloseTo((f(h) - f(-h)) / (2 * h), 3);
      }
    }
  });
});

/** −log softmax and its gradient in float64, with the kernel's masking rule. */
function softmaxReference(
  s: Float32Array,
  B: number,
  N: number,
  invT: number,
  colBias: Float32Array,
  colItem: Int32Array,
): { loss: number; grad: Float64Array } {
  const grad = new Float64Array(B * N);
  let loss = 0;
  for (let b = 0; b < B; b++) {
    const z = Array.from({ length: N }, (_, j) => (j !== b && colItem[j] === colItem[b] ? -1e9 : s[b * N + j] * invT + colBias[j]));
    const max = Math.max(...z);
    const sum = z.reduce((acc, x) => acc + Math.exp(x - max), 0);
    loss += Math.log(sum) - (z[b] - max);
    for (let j = 0; j < N; j++) grad[b * N + j] = ((Math.exp(z[j] - max) / sum - (j === b ? 1 : 0)) * invT) / B;
  }
  return { loss, grad };
}

describe('softmaxRows', () => {
  it('gives the loss and d(loss)/d(scores) of the in-batch softmax with logQ and accidental-hit masking', () => {
    const B = 10;
    const N = 13; // 10 positives, 3 extra negatives
    const invT = 1 / 0.05;
    const s = Float32Array.from({ length: B * N }, () => 2 * rng.next() - 1);
    const colBias = random(N, 2);
    // Rows 2 and 7 share their positive; negative column 11 holds row 4's item.
    const colItem = Int32Array.from({ length: N }, (_, j) => 100 + j);
    colItem[7] = colItem[2];
    colItem[11] = colItem[4];
    const ref = softmaxReference(s, B, N, invT, colBias, colItem);
    let losses: number[] = [];
    const grad = onBothThreadCounts((b) => {
      const m = b.mat(s, B, N);
      losses.push(b.k.run('softmaxRows', B, [m.m.at, N, invT, b.f32(colBias).byteOffset, b.i32(colItem).byteOffset, invT / B]));
      return m.v;
    });
    expect(losses[0]).toBe(losses[1]);
    expect(losses[0] / B).toBeCloseTo(ref.loss / B, 5);
    expectClose(grad, ref.grad, 2e-6);
    // Masked columns get no gradient; the positive's own column is never masked.
    expect(grad[2 * N + 7]).toBe(0);
    expect(grad[7 * N + 2]).toBe(0);
    expect(grad[4 * N + 11]).toBe(0);
    expect(grad[2 * N + 2]).toBeLessThan(0);
    losses = [];
  });

  it('softmaxBlock (scores, softmax and du by blocks of 4 rows) gives the bits of the three kernels run apart', () => {
    const B = 10;
    const N = 13;
    const d = 7;
    const u = random(B * d);
    const v = random(N * d);
    const vT = new Float32Array(d * N);
    for (let j = 0; j < N; j++) for (let c = 0; c < d; c++) vT[c * N + j] = v[j * d + c];
    const colBias = random(N);
    const colItem = Int32Array.from({ length: N }, (_, j) => j % 11);
    const args = (b: Bench) => ({
      u: b.mat(u, B, d),
      vT: b.mat(vT, d, N),
      v: b.mat(v, N, d),
      colBias: b.f32(colBias),
      colItem: b.i32(colItem),
    });
    const apart = onBothThreadCounts((b) => {
      const a = args(b);
      const s = b.mat(B * N, B, N);
      const du = b.mat(B * d, B, d);
      b.k.matmul(s.m, a.u.m, a.vT.m);
      const loss = b.k.run('softmaxRows', B, [s.m.at, N, 3, a.colBias.byteOffset, a.colItem.byteOffset, 0.1]);
      b.k.matmul(du.m, s.m, a.v.m);
      return Float32Array.from([...s.v, ...du.v, loss]);
    });
    const fused = onBothThreadCounts((b) => {
      const a = args(b);
      const s = b.f32(B * N);
      const du = b.f32(B * d);
      const loss = b.k.run('softmaxBlock', B, [
        a.u.m.at,
        a.vT.m.at,
        a.v.m.at,
        N,
        d,
        s.byteOffset,
        3,
        a.colBias.byteOffset,
        a.colItem.byteOffset,
        0.1,
        du.byteOffset,
      ]);
      return Float32Array.from([...s, ...du, loss]);
    });
    expect(fused).toEqual(apart);
  });

  it('computes exp to float32 precision over the whole range it sees (one-hot rows, underflow)', () => {
    const B = 1;
    const N = 41;
    const invT = 1;
    // Logits from 0 down to −100: exp(−100) underflows float32 and must give 0, not garbage.
    const s = Float32Array.from({ length: N }, (_, j) => -2.5 * j);
    s[0] = 0;
    const colItem = Int32Array.from({ length: N }, (_, j) => j);
    const b = benches[0];
    const m = b.mat(s, B, N);
    b.k.run('softmaxRows', B, [m.m.at, N, invT, b.f32(N).byteOffset, b.i32(colItem).byteOffset, 1]);
    const sum = s.reduce((acc, x) => acc + Math.exp(x), 0);
    for (let j = 1; j < N; j++) {
      const p = Math.exp(s[j]) / sum;
      if (s[j] < -87) expect(m.v[j]).toBe(0);
      else expect(Math.abs(m.v[j] - p) / p).toBeLessThan(1e-6);
    }
  });
});

describe('gathers', () => {
  const d = 5;
  const L = 4;
  const users = Int32Array.of(2, -1, 0);
  const history = Int32Array.of(-1, -1, 3, 1, -1, -1, -1, -1, 0, 1, 2, 3);
  const userTable = random(3 * d);
  const historyTable = random(4 * d);

  it('gatherUsers: the user row (zeros for -1) and the mean of the history rows (zeros for none)', () => {
    const x = onBothThreadCounts((b) => {
      const out = b.f32(users.length * 2 * d);
      b.k.run('gatherUsers', users.length, [
        b.i32(users).byteOffset,
        b.i32(history).byteOffset,
        L,
        b.f32(userTable).byteOffset,
        b.f32(historyTable).byteOffset,
        d,
        out.byteOffset,
      ]);
      return out;
    });
    for (let r = 0; r < users.length; r++) {
      for (let c = 0; c < d; c++) {
        expect(x[r * 2 * d + c]).toBe(users[r] < 0 ? 0 : userTable[users[r] * d + c]);
        const items = Array.from(history.subarray(r * L, (r + 1) * L)).filter((i) => i >= 0);
        const mean = items.length === 0 ? 0 : items.reduce((s, i) => s + historyTable[i * d + c], 0) / items.length;
        expect(x[r * 2 * d + d + c]).toBeCloseTo(mean, 6);
      }
    }
  });

  it('gatherItems: the id row (zeros for -1) and b1 + the sparse content row times W1c', () => {
    const H = 6;
    const W = 4;
    const ids = Int32Array.of(1, -1, 0);
    const items = Int32Array.of(1, 2, 0);
    const itemTable = random(3 * d);
    // Content rows (3 items × 4 features): item 0 has none.
    const dense = Float32Array.of(0, 0, 0, 0, 1, 0, 1, 0, 0, 0.5, 0, 1);
    const indptr = Int32Array.of(0, 0, 2, 4);
    const indices = Int32Array.of(0, 2, 1, 3);
    const values = Float32Array.of(1, 1, 0.5, 1);
    const w1c = random(W * H);
    const b1 = random(H);
    const [x, pre] = benches.map((b) => {
      const xe = b.f32(ids.length * d);
      const p = b.f32(ids.length * H);
      b.k.run('gatherItems', ids.length, [
        b.i32(ids).byteOffset,
        b.i32(items).byteOffset,
        b.f32(itemTable).byteOffset,
        d,
        xe.byteOffset,
        b.i32(indptr).byteOffset,
        b.i32(indices).byteOffset,
        b.f32(values).byteOffset,
        b.f32(w1c).byteOffset,
        b.f32(b1).byteOffset,
        H,
        p.byteOffset,
      ]);
      return [xe.slice(), p.slice()];
    })[1];
    for (let r = 0; r < ids.length; r++) {
      for (let c = 0; c < d; c++) expect(x[r * d + c]).toBe(ids[r] < 0 ? 0 : itemTable[ids[r] * d + c]);
      for (let h = 0; h < H; h++) {
        let s = b1[h];
        for (let f = 0; f < W; f++) s += dense[items[r] * W + f] * w1c[f * H + h];
        expect(pre[r * H + h]).toBeCloseTo(s, 5);
      }
    }
  });

  it('contentGradient: dW1c = contentᵀ · dh over the item rows', () => {
    const H = 6;
    const W = 5;
    const items = Int32Array.of(1, 0, 1, 2);
    const indptr = Int32Array.of(0, 1, 3, 5);
    const indices = Int32Array.of(4, 0, 2, 2, 3);
    const values = Float32Array.of(1, 1, 2, 1, 0.25);
    const dh = random(items.length * H);
    const g = onBothThreadCounts((b) => {
      const out = b.f32(W * H).fill(Number.NaN); // every row is written, used or not
      b.k.run('contentGradient', W, [
        b.i32(items).byteOffset,
        items.length,
        b.i32(indptr).byteOffset,
        b.i32(indices).byteOffset,
        b.f32(values).byteOffset,
        b.f32(dh).byteOffset,
        H,
        out.byteOffset,
      ]);
      return out;
    });
    const expected = new Float64Array(W * H);
    items.forEach((item, r) => {
      for (let q = indptr[item]; q < indptr[item + 1]; q++)
        for (let h = 0; h < H; h++) expected[indices[q] * H + h] += values[q] * dh[r * H + h];
    });
    expectClose(g, expected, 1e-6);
  });
});

/** One Adam step in float64 from the given moments. */
function adamReference(p: number, m: number, v: number, g: number, stepSize: number): [number, number, number] {
  const m1 = ADAM_BETA1 * m + (1 - ADAM_BETA1) * g;
  const v1 = ADAM_BETA2 * v + (1 - ADAM_BETA2) * g * g;
  return [p - (stepSize * m1) / (Math.sqrt(v1) + ADAM_EPS), m1, v1];
}

describe('Adam', () => {
  it('denseAdam equals the float64 update', () => {
    const n = 23;
    const p = random(n);
    const m = random(n, 0.1);
    const v = Float32Array.from({ length: n }, () => rng.next() * 0.01);
    const g = random(n);
    const out = onBothThreadCounts((b) => {
      const [pp, mm, vv] = [b.f32(p), b.f32(m), b.f32(v)];
      b.k.run('denseAdam', n, [pp.byteOffset, mm.byteOffset, vv.byteOffset, b.f32(g).byteOffset, 0.01]);
      return Float32Array.from([...pp, ...mm, ...vv]);
    });
    for (let i = 0; i < n; i++) {
      const [p1, m1, v1] = adamReference(p[i], m[i], v[i], g[i], 0.01);
      expect(out[i]).toBeCloseTo(p1, 6);
      expect(out[n + i]).toBeCloseTo(m1, 6);
      expect(out[2 * n + i]).toBeCloseTo(v1, 7);
    }
  });

  it('sparseAdam updates only the listed rows, each with the scaled sum of its source rows', () => {
    const d = 6;
    const rows = 5;
    const table = random(rows * d);
    const src = random(4 * 2 * d); // 4 source rows of 2d floats; the kernel reads the first d
    // Table row 3 gets 1·src[0] + 0.5·src[2]; row 0 gets 0.25·src[1]; rows 1, 2, 4 nothing.
    const touched = Int32Array.of(3, 0);
    const start = Int32Array.of(0, 2, 3);
    const from = Int32Array.of(0, 2, 1);
    const scale = Float32Array.of(1, 0.5, 0.25);
    const out = onBothThreadCounts((b) => {
      const t = b.f32(table);
      b.k.run('sparseAdam', touched.length, [
        b.i32(touched).byteOffset,
        b.i32(start).byteOffset,
        b.i32(from).byteOffset,
        b.f32(scale).byteOffset,
        b.f32(src).byteOffset,
        2 * d,
        t.byteOffset,
        b.f32(rows * d).byteOffset,
        b.f32(rows * d).byteOffset,
        d,
        0.01,
      ]);
      return t;
    });
    const grads = new Map([
      [3, (c: number) => src[c] + 0.5 * src[2 * 2 * d + c]],
      [0, (c: number) => 0.25 * src[2 * d + c]],
    ]);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < d; c++) {
        const g = grads.get(r);
        expect(out[r * d + c]).toBeCloseTo(g ? adamReference(table[r * d + c], 0, 0, g(c), 0.01)[0] : table[r * d + c], 6);
      }
    }
  });
});
