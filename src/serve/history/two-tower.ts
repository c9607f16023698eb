import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { readNpyInt32 } from '../../artifacts/npy.js';
import { INDEX_FILE, INDEX_IDS_FILE, openModelIndex } from '../../index/artifact-index.js';
import { searchExcluding } from '../../index/search.js';
import { type Csr, csrFromCoo } from '../../matrix/csr.js';
import type { TopK } from '../../matrix/topk.js';
import type { TwoTowerModel } from '../../models/two-tower/model.js';
import { USER_TOWER_FILE } from '../../models/two-tower/onnx-export.js';
import { InputError } from '../../util/errors.js';
import type { HistoryRecommender, SessionRecommender } from '../types.js';

/** Exact or FAISS top-k for one user vector, skipping the items of row 0 of `exclude`. */
type VectorSearch = (vector: Float32Array, k: number, exclude: Csr) => TopK;

/**
 * History requests for a two-tower artifact, answered the way a serving stack outside this
 * code base would: the exported `user_tower.onnx` in onnxruntime for a user unseen in training,
 * then the artifact's FAISS index (`recsys index`) or, without one, exact inner product over the
 * model's item vectors.
 */
export async function openTwoTowerHistory(dir: string, model: TwoTowerModel): Promise<HistoryRecommender & SessionRecommender> {
  const search = itemSearch(dir, model);
  const tower = await OnnxUserTower.open(dir, model);
  const nItems = model.items.size;
  return {
    channel: model.kind,
    async recommend(items: Int32Array, k: number): Promise<TopK> {
      const vector = await tower.embed(-1, items);
      return search(vector, k, csrFromCoo(1, nItems, new Int32Array(items.length), items, null));
    },
    /** The tower over the user's own index and latest training items (as training fed it), then the session. */
    async recommendWithSession(user: number, trained: Int32Array, session: Int32Array, k: number): Promise<TopK> {
      const L = model.historyLength;
      const latest = model.userHistory.subarray(user * L, (user + 1) * L).filter((i) => i >= 0);
      const history = new Int32Array(latest.length + session.length);
      history.set(latest);
      history.set(session, latest.length);
      const vector = await tower.embed(user, history);
      const seen = Int32Array.from(new Set([...trained, ...session])).sort();
      return search(vector, k, csrFromCoo(1, nItems, new Int32Array(seen.length), seen, null));
    },
    close: () => tower.release(),
  };
}

/**
 * A two-tower artifact's `user_tower.onnx` in onnxruntime, fed as training fed the model: the
 * latest `historyLength` items of a history, -1 padded in front (latestItems), so that a
 * training user with their training history gets the model's own user vector.
 */
export class OnnxUserTower {
  private open = true;

  private constructor(
    private readonly session: InferenceSession,
    private readonly path: string,
    readonly historyLength: number,
    readonly nUsers: number,
    readonly nItems: number,
  ) {}

  static async open(dir: string, model: TwoTowerModel): Promise<OnnxUserTower> {
    const path = join(dir, USER_TOWER_FILE);
    if (!existsSync(path)) throw new InputError(`${path}: missing (a two-tower artifact exports its user tower there)`);
    let session: InferenceSession;
    try {
      // One user per request: the graph is a few small products, which a thread hand-off would
      // only slow down; concurrency comes from serving several requests at once.
      session = await InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    } catch (err) {
      throw new InputError(`${path}: onnxruntime cannot load it (${(err as Error).message.split('\n')[0]})`);
    }
    return new OnnxUserTower(session, path, model.historyLength, model.users.size, model.items.size);
  }

  /** The vector of dense user `user` (-1: unseen in training) whose history is `items` (dense item indices, oldest first). */
  async embed(user: number, items: Int32Array): Promise<Float32Array> {
    if (!this.open) throw new Error(`${this.path}: the onnxruntime session is closed`);
    if (!(Number.isInteger(user) && user >= -1 && user < this.nUsers))
      throw new Error(`two-tower: user index ${user} out of range (${this.nUsers} users)`);
    for (const i of items) {
      if (i < 0 || i >= this.nItems) throw new Error(`two-tower: item index ${i} out of range (${this.nItems} items)`);
    }
    const length = this.historyLength;
    const history = new BigInt64Array(length).fill(-1n);
    const recent = items.subarray(Math.max(0, items.length - length));
    for (let j = 0; j < recent.length; j++) history[length - recent.length + j] = BigInt(recent[j]);
    const out = await this.session.run({
      user_index: new Tensor('int64', BigInt64Array.of(BigInt(user)), [1]),
      history: new Tensor('int64', history, [1, length]),
    });
    return out.user_embedding.data as Float32Array;
  }

  async release(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    await this.session.release();
  }
}

/** The artifact's FAISS index when it has one (label i = dense item i, checked), else exact search. */
function itemSearch(dir: string, model: TwoTowerModel): VectorSearch {
  if (!existsSync(join(dir, INDEX_FILE))) return (vector, k, exclude) => model.recommendVectors(vector, k, exclude);
  const idsPath = join(dir, INDEX_IDS_FILE);
  if (!existsSync(idsPath)) throw new InputError(`${idsPath}: missing beside ${INDEX_FILE}`);
  const ids = readNpyInt32(idsPath);
  if (ids.length !== model.items.size || ids.some((id, i) => id !== model.items.ids[i])) {
    throw new InputError(`${idsPath}: the index's item ids are not the model's (item_ids.npy); rebuild it with \`recsys index\``);
  }
  const { index, prepareQueries } = openModelIndex(dir);
  const items = model.itemEmbeddings();
  const dim = items.dim;
  if (index.count !== ids.length || prepareQueries({ rows: 0, dim, data: new Float32Array(0) }).dim !== index.dim) {
    throw new InputError(
      `${join(dir, INDEX_FILE)}: ${index.count} vectors of dimension ${index.dim}, not the model's ${ids.length} of ${dim}`,
    );
  }
  const row = new Int32Array(1);
  return (vector, k, exclude) => {
    const top = searchExcluding(index, prepareQueries({ rows: 1, dim, data: vector }), row, k, exclude);
    // An index on the MIPS→L2 transform scores by (negated) distance: report the model's score.
    if (index.metric !== 'ip') {
      for (let j = 0; j < k && top.items[j] >= 0; j++) top.scores[j] = innerProduct(vector, items.data, top.items[j] * dim, dim);
    }
    return top;
  };
}

function innerProduct(a: Float32Array, b: Float32Array, offset: number, dim: number): number {
  let s = 0;
  for (let d = 0; d < dim; d++) s += a[d] * b[offset + d];
  return s;
}
