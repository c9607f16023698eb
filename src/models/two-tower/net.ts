import { towerOutputs, TowerParams, type TowerShape } from './network.js';
import type { Rng } from '../../util/rng.js';

/**
 * The whole two-tower network: the three embedding tables and the dense towers (trained by
 * TrainingStep in step.ts; evaluated here with TensorFlow.js, as the ONNX export describes them). Inputs use the ONNX graphs' conventions:
 * dense indices with -1 for "unknown / none", user histories as n × L item indices padded
 * with -1 (order does not matter: the history is mean-pooled).
 */
export class TwoTowerNet {
  readonly dim: number;
  readonly contentWidth: number;

  constructor(
    readonly towers: TowerParams,
    readonly userTable: EmbeddingTable,
    readonly itemTable: EmbeddingTable,
    readonly historyTable: EmbeddingTable,
  ) {
    this.dim = userTable.dim;
    this.contentWidth = towers.itemShape.input - this.dim;
  }

  static init(nUsers: number, nItems: number, contentWidth: number, dim: number, hidden: number, rng: Rng): TwoTowerNet {
    const userShape: TowerShape = { input: 2 * dim, hidden, output: dim };
    const itemShape: TowerShape = { input: dim + contentWidth, hidden, output: dim };
    const table = (rows: number): EmbeddingTable => {
      const t = new EmbeddingTable(rows, dim);
      for (let i = 0; i < t.data.length; i++) t.data[i] = INIT_STD * rng.normal();
      return t;
    };
    return new TwoTowerNet(TowerParams.init(userShape, itemShape, rng), table(nUsers), table(nItems), table(nItems));
  }

  /** User tower inputs: [user id embedding | mean history embedding] per row. */
  userInputs(
    users: Int32Array,
    history: Int32Array,
    historyLength: number,
    out: Float32Array = new Float32Array(users.length * 2 * this.dim),
  ): Float32Array {
    const d = this.dim;
    const hist = this.historyTable.data;
    for (let b = 0; b < users.length; b++) {
      const base = b * 2 * d;
      this.userTable.gather(users[b], out, base);
      const pooled = base + d;
      out.fill(0, pooled, pooled + d);
      let count = 0;
      for (let j = b * historyLength, end = j + historyLength; j < end; j++) {
        const item = history[j];
        if (item < 0) continue;
        count++;
        addRow(out, pooled, hist, item * d, d);
      }
      if (count > 1) for (let c = pooled, e = pooled + d, inv = 1 / count; c < e; c++) out[c] *= inv;
    }
    return out;
  }

  /** Item tower inputs: [item id embedding | content row] per row; `content` is n × contentWidth. */
  itemInputs(
    items: Int32Array,
    content: Float32Array,
    out: Float32Array = new Float32Array(items.length * (this.dim + this.contentWidth)),
  ): Float32Array {
    const d = this.dim;
    const w = this.contentWidth;
    for (let b = 0; b < items.length; b++) {
      const base = b * (d + w);
      this.itemTable.gather(items[b], out, base);
      out.set(content.subarray(b * w, (b + 1) * w), base + d);
    }
    return out;
  }

  embedUsers(users: Int32Array, history: Int32Array, historyLength: number): Float32Array {
    return towerOutputs(this.userInputs(users, history, historyLength), users.length, this.towers.user);
  }

  embedItems(items: Int32Array, content: Float32Array): Float32Array {
    return towerOutputs(this.itemInputs(items, content), items.length, this.towers.item);
  }
}

/** Standard deviation of the initial id embeddings: small next to the content features. */
const INIT_STD = 0.05;

/** An id embedding table: `rows` rows of `dim` floats. */
export class EmbeddingTable {
  readonly data: Float32Array;

  constructor(
    readonly rows: number,
    readonly dim: number,
    data?: Float32Array,
  ) {
    this.data = data ?? new Float32Array(rows * dim);
    if (this.data.length !== rows * dim) throw new Error('EmbeddingTable: data does not match rows × dim');
  }

  /** Copies row `row` (zeros for -1: an unknown or hidden id) into out[offset ..]. */
  gather(row: number, out: Float32Array, offset: number): void {
    if (row < 0) out.fill(0, offset, offset + this.dim);
    else out.set(this.data.subarray(row * this.dim, (row + 1) * this.dim), offset);
  }
}

/** dst[di .. di+n) += src[si .. si+n), unrolled by four. */
function addRow(dst: Float32Array, di: number, src: Float32Array, si: number, n: number): void {
  let c = 0;
  for (; c + 3 < n; c += 4) {
    dst[di + c] += src[si + c];
    dst[di + c + 1] += src[si + c + 1];
    dst[di + c + 2] += src[si + c + 2];
    dst[di + c + 3] += src[si + c + 3];
  }
  for (; c < n; c++) dst[di + c] += src[si + c];
}
