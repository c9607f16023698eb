import { KernelModule } from '../../wasm/arena.js';
import { sumInOrder, type KernelPool } from '../../wasm/pool.js';

/** The kernels of one training step (asm/two-tower.ts). */
export const TWO_TOWER_KERNELS = new KernelModule('two-tower', new URL('../../../wasm/two-tower.wasm', import.meta.url), [
  'gemm',
  'transpose',
  'columnSums',
  'gatherUsers',
  'gatherItems',
  'contentGradient',
  'normalizeRows',
  'normalizeBackward',
  'softmaxRows',
  'softmaxBlock',
  'sparseAdam',
  'denseAdam',
] as const);

export type TwoTowerKernel = (typeof TWO_TOWER_KERNELS.kernels)[number];

/** A row-major float32 matrix at byte offset `at` of the kernels' memory. */
export interface Mat {
  readonly at: number;
  readonly rows: number;
  readonly cols: number;
}

export function mat(at: number, rows: number, cols: number): Mat {
  return { at, rows, cols };
}

/** The matrix of the rows [from, from + rows) of m. */
export function rowsOf(m: Mat, from: number, rows: number): Mat {
  return { at: m.at + from * m.cols * 4, rows, cols: m.cols };
}

export interface MatmulOptions {
  /** C = Aᵀ·B (A is k × m) instead of A·B (A is m × k). */
  readonly transposeA?: boolean;
  /** Byte offset of n floats added to every row; 0 = none. */
  readonly bias?: number;
  readonly relu?: boolean;
  /** C += product instead of C = product. */
  readonly accumulate?: boolean;
  /** Byte offset of an m × n matrix: outputs where it is ≤ 0 become 0 (the ReLU derivative). */
  readonly mask?: number;
}

/**
 * Jobs touching fewer floats than this run on the calling thread: waking the workers and
 * waiting for them costs about as much as 64k float operations here (measured: a 128 × 128
 * transpose took 0.6 ms on two threads, 0.06 ms on one).
 */
const SMALL_JOB = 1 << 16;

const ACCUMULATE = 1;
const RELU = 2;

/**
 * Chunks a job over `count` rows into: about CHUNKS pieces (enough for two threads to balance
 * and for V8 to tier up early), each a multiple of 4 rows, the gemm kernel's row block.
 */
const CHUNKS = 16;

/** The gemm arguments of C = op(A) · B, checked. */
function matmulArgs(c: Mat, a: Mat, b: Mat, opts: MatmulOptions): { m: number; args: number[] } {
  const [m, k] = opts.transposeA ? [a.cols, a.rows] : [a.rows, a.cols];
  if (k !== b.rows || m !== c.rows || b.cols !== c.cols) {
    throw new Error(`matmul: shapes do not fit (${m}×${k} by ${b.rows}×${b.cols} into ${c.rows}×${c.cols})`);
  }
  const [aRow, aCol] = opts.transposeA ? [4, 4 * a.cols] : [4 * a.cols, 4];
  const mode = (opts.accumulate ? ACCUMULATE : 0) | (opts.relu ? RELU : 0);
  return { m, args: [a.at, aRow, aCol, b.at, b.cols, k, c.at, opts.bias ?? 0, opts.mask ?? 0, mode] };
}

/** Typed calls of the two-tower kernels on a pool; every call is one parallel job. */
export class TowerKernels {
  private readonly bounds = new Map<number, Int32Array>();

  constructor(readonly pool: KernelPool<TwoTowerKernel>) {}

  /** Chunk bounds over [0, count), cached per count. */
  chunks(count: number): Int32Array {
    let b = this.bounds.get(count);
    if (!b) {
      const size = Math.max(4, Math.ceil(count / CHUNKS / 4) * 4);
      const n = Math.max(1, Math.ceil(count / size));
      b = Int32Array.from({ length: n + 1 }, (_, i) => Math.min(count, i * size));
      this.bounds.set(count, b);
    }
    return b;
  }

  /**
   * Runs a kernel over [0, count) on all threads, or on this one when `work` (about the
   * floats it touches) is below SMALL_JOB; the results are the same either way.
   */
  run(kernel: TwoTowerKernel, count: number, args: readonly number[], work = Number.POSITIVE_INFINITY): number {
    if (work < SMALL_JOB) return this.pool.runHere(kernel, 0, count, args);
    return sumInOrder(this.pool.run(kernel, this.chunks(count), args));
  }

  /** C = op(A) · B with the epilogue of `opts`; B is k × n, dense. */
  matmul(c: Mat, a: Mat, b: Mat, opts: MatmulOptions = {}): void {
    const { m, args } = matmulArgs(c, a, b, opts);
    this.run('gemm', m, args, m * args[5] * b.cols);
  }

  /** Starts `matmul` on the workers and returns: this thread may do other work, then `finish`. */
  startMatmul(c: Mat, a: Mat, b: Mat, opts: MatmulOptions = {}): void {
    const { m, args } = matmulArgs(c, a, b, opts);
    this.pool.start('gemm', this.chunks(m), args);
  }

  /** Starts a kernel over [0, count) on the workers and returns; `finish` joins it. */
  start(kernel: TwoTowerKernel, count: number, args: readonly number[]): void {
    this.pool.start(kernel, this.chunks(count), args);
  }

  /** Runs the rest of the started job here, waits for the workers; returns the sum of the chunks' results. */
  finish(): number {
    return sumInOrder(this.pool.finish());
  }

  /** dst = srcᵀ. */
  transpose(dst: Mat, src: Mat): void {
    if (dst.rows !== src.cols || dst.cols !== src.rows) throw new Error('transpose: shapes do not fit');
    this.run('transpose', src.rows, [src.at, src.rows, src.cols, dst.at], src.rows * src.cols);
  }

  /** out (m.cols floats) = Σ over the rows of m. */
  columnSums(out: number, m: Mat): void {
    this.run('columnSums', m.cols, [m.at, m.rows, m.cols, out], m.rows * m.cols);
  }

  /** out = rows of y / their norms (≥ 1e-12), norms (y.rows floats) alongside. */
  normalizeRows(out: Mat, y: Mat, norms: number): void {
    this.run('normalizeRows', y.rows, [y.at, y.cols, out.at, norms], 2 * y.rows * y.cols);
  }

  /** dy = d(loss)/dy from d(loss)/d(out) through out = y / ‖y‖. */
  normalizeBackward(dy: Mat, out: Mat, norms: number, dOut: Mat): void {
    this.run('normalizeBackward', out.rows, [out.at, norms, dOut.at, out.cols, dy.at], 3 * out.rows * out.cols);
  }
}
