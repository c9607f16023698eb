import { join } from 'node:path';
import { readNpyFloat32, readNpyInt32, writeNpy } from '../../artifacts/npy.js';
import type { IdMap } from '../../data/id-map.js';
import type { Csr } from '../../matrix/csr.js';
import { allocTopK, type TopK } from '../../matrix/topk.js';
import type { Recommender } from '../../models/model.js';
import { InputError } from '../../util/errors.js';
import { Progress } from '../../util/progress.js';
import type { UserHistory } from '../history.js';
import { SparseTopK } from '../sparse-topk.js';

export interface CooccurrenceParams {
  /** Two events of a user co-occur when at most this many positions apart in their time order. */
  readonly window: number;
  /** Neighbours kept per item (the most similar). */
  readonly neighbours: number;
  /** The user's last events that vote for candidates. */
  readonly recent: number;
  /** Weight decay per position back from the user's last event (1 = all recent events equal). */
  readonly decay: number;
}

export const DEFAULT_COOCCURRENCE: CooccurrenceParams = { window: 20, neighbours: 100, recent: 30, decay: 0.95 };

export function checkCooccurrenceParams(p: CooccurrenceParams): void {
  for (const key of ['window', 'neighbours', 'recent'] as const) {
    if (!Number.isInteger(p[key]) || p[key] < 1) throw new InputError(`co-occurrence ${key} must be an integer ≥ 1, got ${p[key]}`);
  }
  if (!(p.decay > 0 && p.decay <= 1)) throw new InputError(`co-occurrence decay must be in (0, 1], got ${p.decay}`);
}

/**
 * Item-item neighbours from co-occurrence in user histories: c(i, j) counts the pairs of
 * events (one of i, one of j, same user) at most `window` positions apart; the similarity is
 * c(i, j) / sqrt(n_i · n_j) with n the item's event count; each row keeps the `neighbours`
 * most similar items (ties: lower index), stored as a CSR sorted by column.
 */
export function cooccurrenceNeighbours(history: UserHistory, nItems: number, params: CooccurrenceParams): Csr {
  checkCooccurrenceParams(params);
  const { indptr, items } = history;
  const nEvents = items.length;
  const eventUser = new Int32Array(nEvents);
  for (let u = 0; u + 1 < indptr.length; u++) eventUser.fill(u, indptr[u], indptr[u + 1]);
  // Events grouped by item (counting sort).
  const itemStart = new Int32Array(nItems + 1);
  for (let p = 0; p < nEvents; p++) itemStart[items[p] + 1]++;
  for (let i = 0; i < nItems; i++) itemStart[i + 1] += itemStart[i];
  const fill = itemStart.slice(0, nItems);
  const eventsOfItem = new Int32Array(nEvents);
  for (let p = 0; p < nEvents; p++) eventsOfItem[fill[items[p]]++] = p;

  const m = params.neighbours;
  const counts = new Float32Array(nItems);
  const touched = new Int32Array(nItems);
  const top = new SparseTopK(m);
  const row = allocTopK(1, m);
  const rowIndptr = new Int32Array(nItems + 1);
  const rowItems: Int32Array[] = [];
  const rowSims: Float32Array[] = [];
  const progress = new Progress('co-occurrence', nItems, 'items');
  for (let i = 0; i < nItems; i++) {
    let nTouched = 0;
    for (let e = itemStart[i]; e < itemStart[i + 1]; e++) {
      const p = eventsOfItem[e];
      const u = eventUser[p];
      const lo = Math.max(indptr[u], p - params.window);
      const hi = Math.min(indptr[u + 1], p + params.window + 1);
      for (let q = lo; q < hi; q++) {
        const j = items[q];
        if (j === i) continue;
        if (counts[j] === 0) touched[nTouched++] = j;
        counts[j] += 1;
      }
    }
    const ni = itemStart[i + 1] - itemStart[i];
    for (let t = 0; t < nTouched; t++) {
      const j = touched[t];
      counts[j] /= Math.sqrt(ni * (itemStart[j + 1] - itemStart[j]));
    }
    top.select(counts, touched, nTouched, null, -1, row, 0);
    let kept = 0;
    while (kept < m && row.items[kept] >= 0) kept++;
    const order = Int32Array.from({ length: kept }, (_, j) => j).sort((a, b) => row.items[a] - row.items[b]);
    rowItems.push(Int32Array.from(order, (j) => row.items[j]));
    rowSims.push(Float32Array.from(order, (j) => row.scores[j]));
    rowIndptr[i + 1] = rowIndptr[i] + kept;
    for (let t = 0; t < nTouched; t++) counts[touched[t]] = 0;
    progress.tick();
  }
  progress.finish({ nnz: rowIndptr[nItems] });
  const indices = new Int32Array(rowIndptr[nItems]);
  const data = new Float32Array(rowIndptr[nItems]);
  for (let i = 0; i < nItems; i++) {
    indices.set(rowItems[i], rowIndptr[i]);
    data.set(rowSims[i], rowIndptr[i]);
  }
  return { nRows: nItems, nCols: nItems, indptr: rowIndptr, indices, data };
}

/**
 * Candidates from the user's recent history: score(u, i) = Σ_h w_h · sim(h, i) over the user's
 * last `recent` events h (w = decay^(positions back from the last event)), which is also the
 * ranker's "co-occurrence strength with recent history" feature.
 */
export class CooccurrenceModel implements Recommender {
  readonly kind = 'cooc';
  private readonly sum: Float32Array;
  private readonly max: Float32Array;
  private readonly touched: Int32Array;

  constructor(
    readonly users: IdMap,
    readonly items: IdMap,
    readonly neighbours: Csr,
    private readonly history: UserHistory,
    readonly settings: CooccurrenceParams,
  ) {
    this.sum = new Float32Array(items.size);
    this.max = new Float32Array(items.size);
    this.touched = new Int32Array(items.size);
  }

  /**
   * Scatters user u's votes into the scratch vectors; returns how many items were touched
   * (listed in `touched`). Call `clear` after reading them.
   */
  private scatter(u: number): number {
    const { indptr, items } = this.history;
    const end = u >= 0 && u + 1 < indptr.length ? indptr[u + 1] : 0;
    const start = Math.max(u >= 0 && u + 1 < indptr.length ? indptr[u] : 0, end - this.settings.recent);
    const nb = this.neighbours;
    let nTouched = 0;
    let w = 1;
    for (let p = end - 1; p >= start; p--, w *= this.settings.decay) {
      const h = items[p];
      for (let q = nb.indptr[h]; q < nb.indptr[h + 1]; q++) {
        const j = nb.indices[q];
        const v = w * nb.data[q];
        if (this.sum[j] === 0 && this.max[j] === 0) this.touched[nTouched++] = j;
        this.sum[j] += v;
        if (v > this.max[j]) this.max[j] = v;
      }
    }
    return nTouched;
  }

  private clear(nTouched: number): void {
    for (let t = 0; t < nTouched; t++) {
      this.sum[this.touched[t]] = 0;
      this.max[this.touched[t]] = 0;
    }
  }

  /**
   * For each of user u's `candidates`: the summed and the largest weighted similarity to the
   * user's recent events (0 when none of them has the candidate as a neighbour).
   */
  strength(u: number, candidates: Int32Array, outSum: Float32Array, outMax: Float32Array): void {
    const n = this.scatter(u);
    for (let c = 0; c < candidates.length; c++) {
      outSum[c] = this.sum[candidates[c]];
      outMax[c] = this.max[candidates[c]];
    }
    this.clear(n);
  }

  recommend(users: Int32Array, k: number, exclude: Csr | null): TopK {
    const out = allocTopK(users.length, k);
    const top = new SparseTopK(k);
    for (let b = 0; b < users.length; b++) {
      const n = this.scatter(users[b]);
      top.select(this.sum, this.touched, n, exclude, users[b], out, b);
      this.clear(n);
    }
    return out;
  }

  similarItems(items: Int32Array, k: number): TopK {
    const out = allocTopK(items.length, k);
    const top = new SparseTopK(k);
    const nb = this.neighbours;
    for (let b = 0; b < items.length; b++) {
      const i = items[b];
      const n = nb.indptr[i + 1] - nb.indptr[i];
      for (let q = nb.indptr[i]; q < nb.indptr[i + 1]; q++) this.sum[nb.indices[q]] = nb.data[q];
      this.touched.set(nb.indices.subarray(nb.indptr[i], nb.indptr[i + 1]));
      top.select(this.sum, this.touched, n, null, -1, out, b);
      for (let q = nb.indptr[i]; q < nb.indptr[i + 1]; q++) this.sum[nb.indices[q]] = 0;
    }
    return out;
  }

  params(): Record<string, unknown> {
    return { ...this.settings };
  }

  async save(dir: string): Promise<void> {
    writeNpy(join(dir, 'neighbours_indptr.npy'), this.neighbours.indptr);
    writeNpy(join(dir, 'neighbours_indices.npy'), this.neighbours.indices);
    writeNpy(join(dir, 'neighbours_similarity.npy'), this.neighbours.data);
  }
}

/** Reads the neighbour table `CooccurrenceModel.save` wrote. */
export function loadCooccurrenceNeighbours(dir: string, nItems: number): Csr {
  const indptr = readNpyInt32(join(dir, 'neighbours_indptr.npy'));
  if (indptr.length !== nItems + 1)
    throw new InputError(`${dir}: co-occurrence table has ${indptr.length - 1} rows, the model ${nItems} items`);
  return {
    nRows: nItems,
    nCols: nItems,
    indptr,
    indices: readNpyInt32(join(dir, 'neighbours_indices.npy')),
    data: readNpyFloat32(join(dir, 'neighbours_similarity.npy')).data,
  };
}
