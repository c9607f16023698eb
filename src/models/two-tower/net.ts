import { addRow, EmbeddingTable } from './adam.js';
import { towerOutputs, TowerParams, type TowerShape } from './network.js';
import type { Rng } from '../../util/rng.js';

/**
 * The whole two-tower network: the three embedding tables (trained with sparse row updates,
 * outside the autodiff graph) and the dense towers. Inputs use the ONNX graphs' conventions:
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
        addRow(out, pooled, hist, item * d, d, 1);
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

  /** Sends d(loss)/d(user inputs) to the user and history tables. */
  userGradients(users: Int32Array, history: Int32Array, historyLength: number, dInputs: Float32Array): void {
    const d = this.dim;
    const share = new Float32Array(d);
    for (let b = 0; b < users.length; b++) {
      const base = b * 2 * d;
      this.userTable.addGradient(users[b], dInputs, base, 1);
      const rows = history.subarray(b * historyLength, (b + 1) * historyLength);
      let count = 0;
      for (let j = 0; j < historyLength; j++) if (rows[j] >= 0) count++;
      if (count === 0) continue;
      // Each pooled row gets the same share of the pooled gradient.
      for (let c = 0; c < d; c++) share[c] = dInputs[base + d + c] / count;
      for (let j = 0; j < historyLength; j++) this.historyTable.addGradient(rows[j], share, 0, 1);
    }
  }

  /** Sends d(loss)/d(item inputs) to the item table (content features are not trained). */
  itemGradients(items: Int32Array, dInputs: Float32Array): void {
    const stride = this.dim + this.contentWidth;
    for (let b = 0; b < items.length; b++) this.itemTable.addGradient(items[b], dInputs, b * stride, 1);
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
