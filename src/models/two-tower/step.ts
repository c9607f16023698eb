import { WasmArena } from '../../wasm/arena.js';
import { KernelPool } from '../../wasm/pool.js';
import { EmbeddingTable, TwoTowerNet } from './net.js';
import { TowerParams, type TowerWeights } from './network.js';
import { mat, TowerKernels, TWO_TOWER_KERNELS, type Mat } from './kernels.js';

/** The shape of a training step's batches. */
export interface StepSettings {
  readonly batch: number;
  /** Extra negative item rows per batch (after the B positives). */
  readonly negatives: number;
  readonly history: number;
  /** Softmax temperature τ. */
  readonly temperature: number;
}

/** Item content features in sparse rows (CSR by dense item): most features are 0/1 and rare. */
export interface SparseContent {
  readonly width: number;
  readonly indptr: Int32Array;
  readonly indices: Int32Array;
  readonly values: Float32Array;
}

export function sparseContent(rows: Float32Array, nItems: number, width: number): SparseContent {
  const indptr = new Int32Array(nItems + 1);
  let nnz = 0;
  for (let i = 0; i < rows.length; i++) if (rows[i] !== 0) nnz++;
  const indices = new Int32Array(nnz);
  const values = new Float32Array(nnz);
  let q = 0;
  for (let r = 0; r < nItems; r++) {
    for (let c = 0; c < width; c++) {
      const x = rows[r * width + c];
      if (x === 0) continue;
      indices[q] = c;
      values[q++] = x;
    }
    indptr[r + 1] = q;
  }
  return { width, indptr, indices, values };
}

/** Wall-clock seconds per phase, summed over steps. */
export interface StepPhases {
  batch: number;
  forward: number;
  backward: number;
  optimizer: number;
}

type Region =
  | 'userTable'
  | 'itemTable'
  | 'historyTable'
  | 'moments'
  | 'flat'
  | 'grad'
  | 'wT'
  | 'contentIndptr'
  | 'contentIndices'
  | 'contentValues'
  | 'inputs'
  | 'xu'
  | 'xe'
  | 'hu'
  | 'hi'
  | 'yu'
  | 'yi'
  | 'u'
  | 'v'
  | 'norms'
  | 'vT'
  | 'scores'
  | 'du'
  | 'dv'
  | 'dyu'
  | 'dyi'
  | 'dhu'
  | 'dhi'
  | 'dxu'
  | 'dxe'
  | 'groups'
  | 'scratch';

function align16(bytes: number): number {
  return Math.ceil(bytes / 16) * 16;
}

/** Byte offsets of consecutive 16-byte-aligned arrays of 4-byte elements from `at`: take(n) → the next one. */
function consecutive(at: number): (n: number) => number {
  let next = at;
  return (n) => {
    const offset = next;
    next += align16(n * 4);
    return offset;
  };
}

/**
 * The rows of one embedding table a batch touched, each with the batch rows whose gradient it
 * receives (CSR, in batch order, with a scale: 1, or 1/count for a pooled history row).
 */
class RowGroups {
  readonly rows: Int32Array;
  readonly start: Int32Array;
  readonly from: Int32Array;
  readonly scale: Float32Array;
  private readonly slot: Int32Array;
  private readonly count: Int32Array;
  touched = 0;

  /** Views at byte offset `at` of `memory`, RowGroups.bytes long. */
  constructor(memory: WebAssembly.Memory, at: number, tableRows: number, entries: number) {
    const take = consecutive(at);
    const rows = Math.min(tableRows, entries);
    this.rows = new Int32Array(memory.buffer, take(rows), rows);
    this.start = new Int32Array(memory.buffer, take(rows + 1), rows + 1);
    this.from = new Int32Array(memory.buffer, take(entries), entries);
    this.scale = new Float32Array(memory.buffer, take(entries), entries);
    this.slot = new Int32Array(tableRows).fill(-1);
    this.count = new Int32Array(rows);
  }

  static bytes(tableRows: number, entries: number): number {
    const rows = Math.min(tableRows, entries);
    return align16(rows * 4) + align16((rows + 1) * 4) + 2 * align16(entries * 4);
  }

  /**
   * Groups entries e = 0 .. n−1 (table row ids[e], -1 = none) by table row, rows in order of
   * first appearance: entry e contributes batch row ⌊e / per⌋ scaled by scaleOf(that row).
   */
  build(ids: Int32Array, n: number, per: number, scaleOf: Float32Array | null): void {
    const { slot, count, rows, start, from, scale } = this;
    let touched = 0;
    for (let e = 0; e < n; e++) {
      const r = ids[e];
      if (r < 0) continue;
      let s = slot[r];
      if (s < 0) {
        s = touched++;
        slot[r] = s;
        rows[s] = r;
        count[s] = 0;
      }
      count[s]++;
    }
    start[0] = 0;
    for (let s = 0; s < touched; s++) {
      start[s + 1] = start[s] + count[s];
      count[s] = start[s];
    }
    for (let e = 0; e < n; e++) {
      const r = ids[e];
      if (r < 0) continue;
      const s = slot[r];
      const at = count[s]++;
      const b = per === 1 ? e : Math.floor(e / per);
      from[at] = b;
      scale[at] = scaleOf ? scaleOf[b] : 1;
    }
    for (let s = 0; s < touched; s++) slot[rows[s]] = -1;
    this.touched = touched;
  }
}

/**
 * The inputs of one batch, filled in JavaScript: per batch row the user (-1 = hidden) and the
 * history (L item indices, -1 padded) with its count of valid entries; per item row (B
 * positives, then the negatives) the id fed to the table (-1 = hidden), the item itself (for
 * its content and accidental-hit masking) and the logit correction.
 */
export class BatchInputs {
  readonly users: Int32Array;
  readonly history: Int32Array;
  readonly historyCount: Float32Array;
  readonly itemIds: Int32Array;
  readonly itemOf: Int32Array;
  readonly colBias: Float32Array;

  /** Views at byte offset `at` of `memory`, BatchInputs.bytes long. */
  constructor(memory: WebAssembly.Memory, at: number, settings: StepSettings) {
    const { batch: B, negatives: M, history: L } = settings;
    const take = consecutive(at);
    this.users = new Int32Array(memory.buffer, take(B), B);
    this.history = new Int32Array(memory.buffer, take(B * L), B * L);
    this.historyCount = new Float32Array(memory.buffer, take(B), B);
    this.itemIds = new Int32Array(memory.buffer, take(B + M), B + M);
    this.itemOf = new Int32Array(memory.buffer, take(B + M), B + M);
    this.colBias = new Float32Array(memory.buffer, take(B + M), B + M);
  }

  static bytes(settings: StepSettings): number {
    const { batch: B, negatives: M, history: L } = settings;
    return 2 * align16(B * 4) + align16(B * L * 4) + 3 * align16((B + M) * 4);
  }
}

/** Byte offsets of Adam's first and second moments of some parameters. */
interface Moments {
  readonly m: number;
  readonly v: number;
}

/** Byte offsets of one tower's weights and gradients (views into the arena share its addresses). */
interface TowerAt {
  readonly w1: number;
  readonly b1: number;
  readonly w2: number;
  readonly b2: number;
  readonly g: { readonly w1: number; readonly b1: number; readonly w2: number; readonly b2: number };
}

function towerAt(t: TowerWeights, flat: Float32Array, grad: number): TowerAt {
  const g = (v: Float32Array): number => grad + (v.byteOffset - flat.byteOffset);
  return {
    w1: t.w1.byteOffset,
    b1: t.b1.byteOffset,
    w2: t.w2.byteOffset,
    b2: t.b2.byteOffset,
    g: { w1: g(t.w1), b1: g(t.b1), w2: g(t.w2), b2: g(t.b2) },
  };
}

/**
 * One training step of the two-tower model on WebAssembly SIMD kernels (asm/two-tower.ts) and
 * `threads` threads sharing one wasm memory: the id tables, the towers' weights, their Adam
 * moments and every batch buffer live in that memory, so a step moves no data between
 * JavaScript and the kernels. Per step:
 *   batch      gather the id embeddings and mean-pool the history rows (user tower input),
 *              the item id embeddings and the sparse content part of the item tower's first layer
 *   forward    both towers (dense products, ReLU, L2 normalisation), the B × N scores, the
 *              in-batch softmax with logQ and accidental-hit masking, the loss
 *   backward   d(scores) → d(u), d(v) → both towers' weight gradients and input gradients
 *   optimizer  Adam on the tower weights, lazy Adam on the table rows the batch touched
 * Each output element is computed by one thread with a fixed order of operations, so the
 * model is the same bit for bit whatever the thread count.
 */
export class TrainingStep {
  /** The network being trained; its tables and weights are views into the kernels' memory. */
  readonly net: TwoTowerNet;
  /** The inputs the next `run` trains on; the caller fills them (or has `run` fill them, see there). */
  inputs: BatchInputs;
  private spare: BatchInputs;
  readonly phases: StepPhases = { batch: 0, forward: 0, backward: 0, optimizer: 0 };

  private readonly arena: WasmArena<Region>;
  private readonly kernels: TowerKernels;
  private readonly groups: { user: RowGroups; item: RowGroups; history: RowGroups };
  private readonly moments: Moments & { readonly tables: { readonly user: Moments; readonly item: Moments; readonly history: Moments } };
  private readonly user: TowerAt;
  private readonly item: TowerAt;
  private readonly invCount: Float32Array;

  /**
   * @param init the initial network (copied in)
   * @param content the items' content rows, sparse
   */
  constructor(
    init: TwoTowerNet,
    private readonly content: SparseContent,
    readonly settings: StepSettings,
    readonly threads: number,
  ) {
    const { batch: B, negatives: M, history: L } = settings;
    const N = B + M;
    const d = init.dim;
    const H = init.towers.userShape.hidden;
    const nUsers = init.userTable.rows;
    const nItems = init.itemTable.rows;
    const flatLength = init.towers.flat.length;
    const f = 4;
    const tableBytes = (rows: number): number => rows * d * f;
    const maxRows = Math.max(B, N);
    const scratchStride = align16(Math.max(16 * maxRows, d * f));
    this.arena = new WasmArena<Region>('Two-tower training', {
      userTable: tableBytes(nUsers),
      itemTable: tableBytes(nItems),
      historyTable: tableBytes(nItems),
      // m and v of the flat weights, then of each table.
      moments: 2 * (flatLength + (nUsers + 2 * nItems) * d) * f,
      flat: flatLength * f,
      grad: flatLength * f,
      wT: Math.max(init.towers.userShape.input, init.towers.itemShape.input) * H * f,
      contentIndptr: content.indptr.length * f,
      contentIndices: content.indices.length * f,
      contentValues: content.values.length * f,
      inputs: 2 * BatchInputs.bytes(settings),
      xu: B * 2 * d * f,
      xe: N * d * f,
      hu: B * H * f,
      hi: N * H * f,
      yu: B * d * f,
      yi: N * d * f,
      u: B * d * f,
      v: N * d * f,
      norms: (B + N) * f,
      vT: d * N * f,
      scores: B * N * f,
      du: B * d * f,
      dv: N * d * f,
      dyu: B * d * f,
      dyi: N * d * f,
      dhu: B * H * f,
      dhi: N * H * f,
      dxu: B * 2 * d * f,
      dxe: N * d * f,
      groups: RowGroups.bytes(nUsers, B) + RowGroups.bytes(nItems, N) + RowGroups.bytes(nItems, B * L),
      scratch: threads * scratchStride,
    });
    const a = this.arena;
    const table = (region: Region, t: EmbeddingTable): EmbeddingTable => {
      const data = a.f32(region, t.rows * d);
      data.set(t.data);
      return new EmbeddingTable(t.rows, d, data);
    };
    const flat = a.f32('flat', flatLength);
    flat.set(init.towers.flat);
    const towers = new TowerParams(init.towers.userShape, init.towers.itemShape, flat);
    this.net = new TwoTowerNet(
      towers,
      table('userTable', init.userTable),
      table('itemTable', init.itemTable),
      table('historyTable', init.historyTable),
    );
    this.user = towerAt(towers.user, flat, a.at.grad);
    this.item = towerAt(towers.item, flat, a.at.grad);
    const m0 = a.at.moments;
    const tableMoments = (before: number, rows: number): Moments => ({
      m: m0 + 2 * (flatLength + before * d) * f,
      v: m0 + 2 * (flatLength + before * d) * f + rows * d * f,
    });
    this.moments = {
      m: m0,
      v: m0 + flatLength * f,
      tables: { user: tableMoments(0, nUsers), item: tableMoments(nUsers, nItems), history: tableMoments(nUsers + nItems, nItems) },
    };
    a.i32('contentIndptr', content.indptr.length).set(content.indptr);
    a.i32('contentIndices', content.indices.length).set(content.indices);
    a.f32('contentValues', content.values.length).set(content.values);
    this.inputs = new BatchInputs(a.memory, a.at.inputs, settings);
    this.spare = new BatchInputs(a.memory, a.at.inputs + BatchInputs.bytes(settings), settings);
    this.invCount = new Float32Array(B);
    let g = a.at.groups;
    const group = (rows: number, entries: number): RowGroups => {
      const r = new RowGroups(a.memory, g, rows, entries);
      g += RowGroups.bytes(rows, entries);
      return r;
    };
    this.groups = { user: group(nUsers, B), item: group(nItems, N), history: group(nItems, B * L) };
    this.kernels = new TowerKernels(new KernelPool(TWO_TOWER_KERNELS, a.memory, threads, a.at.scratch, scratchStride));
  }

  /**
   * One step on the first `rows` rows of `inputs` (and the `negatives` item rows after them);
   * returns the mean loss. stepSize: Adam's bias-corrected step size for this step.
   * `fillNext`, when given, fills the next batch's inputs in JavaScript while the workers run
   * this step's longest product; they become `inputs` when the step ends.
   */
  run(rows: number, stepSize: number, fillNext?: (next: BatchInputs) => void): number {
    const B = rows;
    const N = rows + this.settings.negatives;
    const L = this.settings.history;
    const net = this.net;
    const d = net.dim;
    const H = net.towers.userShape.hidden;
    const W = this.content.width;
    const at = this.arena.at;
    const k = this.kernels;
    const u = this.user;
    const it = this.item;
    const userIn = net.towers.userShape.input;
    const ph = this.phases;
    const inputs = this.inputs;
    const bytes = (v: Int32Array | Float32Array): number => v.byteOffset;
    let t = performance.now();
    const lap = (phase: keyof StepPhases): void => {
      const now = performance.now();
      ph[phase] += (now - t) / 1000;
      t = now;
    };

    // Batch: table rows into the towers' inputs. The item rows' content part goes straight
    // into the first layer's pre-activation (hi), the dense product is added below.
    k.run('gatherUsers', B, [
      bytes(inputs.users),
      bytes(inputs.history),
      L,
      net.userTable.data.byteOffset,
      net.historyTable.data.byteOffset,
      d,
      at.xu,
    ]);
    k.run('gatherItems', N, [
      bytes(inputs.itemIds),
      bytes(inputs.itemOf),
      net.itemTable.data.byteOffset,
      d,
      at.xe,
      at.contentIndptr,
      at.contentIndices,
      at.contentValues,
      it.w1 + d * H * 4,
      it.b1,
      H,
      at.hi,
    ]);
    lap('batch');

    // Forward.
    const xu = mat(at.xu, B, userIn);
    const xe = mat(at.xe, N, d);
    const hu = mat(at.hu, B, H);
    const hi = mat(at.hi, N, H);
    const yu = mat(at.yu, B, d);
    const yi = mat(at.yi, N, d);
    const uOut = mat(at.u, B, d);
    const vOut = mat(at.v, N, d);
    const normsU = at.norms;
    const normsV = at.norms + B * 4;
    k.matmul(hu, xu, mat(u.w1, userIn, H), { bias: u.b1, relu: true });
    k.matmul(yu, hu, mat(u.w2, H, d), { bias: u.b2 });
    k.normalizeRows(uOut, yu, normsU);
    k.matmul(hi, xe, mat(it.w1, d, H), { accumulate: true, relu: true });
    k.matmul(yi, hi, mat(it.w2, H, d), { bias: it.b2 });
    k.normalizeRows(vOut, yi, normsV);
    k.transpose(mat(at.vT, d, N), vOut);
    const scores = mat(at.scores, B, N);
    const du = mat(at.du, B, d);
    // Scores, softmax and d(loss)/du in one job, by blocks of rows; the table-row grouping for
    // the optimizer runs here in JavaScript while the workers start on it.
    const { temperature } = this.settings;
    k.start('softmaxBlock', B, [
      uOut.at,
      at.vT,
      vOut.at,
      N,
      d,
      scores.at,
      1 / temperature,
      bytes(inputs.colBias),
      bytes(inputs.itemOf),
      1 / (temperature * B),
      du.at,
    ]);
    this.groupRows(B, N);
    const loss = k.finish() / B;
    lap('forward');

    // Backward: scores → u, v → towers.
    const dv = mat(at.dv, N, d);
    // dV = scoresᵀ·u, the longest product: the next batch is filled meanwhile.
    k.startMatmul(dv, scores, uOut, { transposeA: true });
    if (fillNext) {
      const t0 = performance.now();
      fillNext(this.spare);
      ph.batch += (performance.now() - t0) / 1000;
      t += performance.now() - t0;
    }
    k.finish();
    this.towerBackward(u, xu, hu, uOut, normsU, du, mat(at.dyu, B, d), mat(at.dhu, B, H), mat(at.dxu, B, userIn));
    const dhi = mat(at.dhi, N, H);
    this.towerBackward(it, xe, hi, vOut, normsV, dv, mat(at.dyi, N, d), dhi, mat(at.dxe, N, d));
    // The content rows of the item tower's W1 (the content itself is not trained).
    k.run('contentGradient', W, [
      bytes(inputs.itemOf),
      N,
      at.contentIndptr,
      at.contentIndices,
      at.contentValues,
      dhi.at,
      H,
      it.g.w1 + d * H * 4,
    ]);
    lap('backward');

    // Optimizer: lazy Adam on the touched table rows (user rows from the first d columns of
    // the user input gradient, history rows from the pooled half, item rows from the item
    // input gradient), then Adam on the tower weights.
    const tables = this.moments.tables;
    this.sparseAdam(this.groups.user, at.dxu, 2 * d, net.userTable, tables.user, stepSize);
    this.sparseAdam(this.groups.history, at.dxu + d * 4, 2 * d, net.historyTable, tables.history, stepSize);
    this.sparseAdam(this.groups.item, at.dxe, d, net.itemTable, tables.item, stepSize);
    k.run('denseAdam', net.towers.flat.length, [at.flat, this.moments.m, this.moments.v, at.grad, stepSize]);
    lap('optimizer');
    if (fillNext) [this.inputs, this.spare] = [this.spare, this.inputs];
    return loss;
  }

  /** The gradient of the tower weights of the last step, in the layout of `net.towers.flat`. */
  get gradient(): Float32Array {
    return this.arena.f32('grad', this.net.towers.flat.length);
  }

  /** d(loss)/d(tower inputs) of the last step: user rows (B × 2d), item id embedding rows (N × d). */
  inputGradients(rows: number): { users: Float32Array; items: Float32Array } {
    const d = this.net.dim;
    return {
      users: this.arena.f32('dxu', rows * 2 * d),
      items: this.arena.f32('dxe', (rows + this.settings.negatives) * d),
    };
  }

  /** A copy of the network outside the kernels' memory (which `close` releases). */
  snapshot(): TwoTowerNet {
    const n = this.net;
    const copy = (t: EmbeddingTable): EmbeddingTable => new EmbeddingTable(t.rows, t.dim, t.data.slice());
    return new TwoTowerNet(
      new TowerParams(n.towers.userShape, n.towers.itemShape, n.towers.flat.slice()),
      copy(n.userTable),
      copy(n.itemTable),
      copy(n.historyTable),
    );
  }

  close(): void {
    this.kernels.pool.close();
  }

  private sparseAdam(groups: RowGroups, src: number, srcStride: number, table: EmbeddingTable, moments: Moments, stepSize: number): void {
    this.kernels.run('sparseAdam', groups.touched, [
      groups.rows.byteOffset,
      groups.start.byteOffset,
      groups.from.byteOffset,
      groups.scale.byteOffset,
      src,
      srcStride,
      table.data.byteOffset,
      moments.m,
      moments.v,
      table.dim,
      stepSize,
    ]);
  }

  private groupRows(B: number, N: number): void {
    const L = this.settings.history;
    const { users, itemIds, history, historyCount } = this.inputs;
    for (let b = 0; b < B; b++) this.invCount[b] = historyCount[b] > 0 ? 1 / historyCount[b] : 0;
    this.groups.user.build(users, B, 1, null);
    this.groups.item.build(itemIds, N, 1, null);
    this.groups.history.build(history, B * L, L, this.invCount);
  }

  /**
   * Gradients of one tower from d(loss)/d(out): weights into the gradient vector and d(loss)/dx.
   * x holds the first x.cols input columns, the dense ones (the item tower's content part is
   * sparse: its weight gradient is `contentGradient`, and the content is not trained).
   */
  private towerBackward(t: TowerAt, x: Mat, h: Mat, out: Mat, norms: number, dOut: Mat, dy: Mat, dh: Mat, dx: Mat): void {
    const k = this.kernels;
    const H = h.cols;
    const d = out.cols;
    const wT = this.arena.at.wT;
    k.normalizeBackward(dy, out, norms, dOut);
    k.matmul(mat(t.g.w2, H, d), h, dy, { transposeA: true });
    k.columnSums(t.g.b2, dy);
    k.transpose(mat(wT, d, H), mat(t.w2, H, d));
    k.matmul(dh, dy, mat(wT, d, H), { mask: h.at });
    k.matmul(mat(t.g.w1, x.cols, H), x, dh, { transposeA: true });
    k.columnSums(t.g.b1, dh);
    k.transpose(mat(wT, H, x.cols), mat(t.w1, x.cols, H));
    k.matmul(dx, dh, mat(wT, H, x.cols));
  }
}
