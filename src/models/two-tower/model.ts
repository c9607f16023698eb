import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { readNpyFloat32, readNpyInt32, writeNpy } from '../../artifacts/npy.js';
import { IdMap } from '../../data/id-map.js';
import type { TrainingData } from '../../data/training-data.js';
import { csrFromCoo, type Csr } from '../../matrix/csr.js';
import type { Embeddings } from '../../matrix/embeddings.js';
import type { TopK } from '../../matrix/topk.js';
import { InputError } from '../../util/errors.js';
import { writeJsonAtomic } from '../../util/fs.js';
import { recsysVersion } from '../../util/version.js';
import { takeRows } from '../../index/vectors.js';
import { DenseScorer } from '../als/scorer.js';
import type {
  FitContext,
  HasEmbeddings,
  HoldsResources,
  ModelFactory,
  Recommender,
  RecommendsColdItems,
  SummarisesTraining,
} from '../model.js';
import { parseParams } from '../params.js';
import { initBackend } from './backend.js';
import { ItemContent, type FeatureVocab } from './features.js';
import { EmbeddingTable, TwoTowerNet } from './net.js';
import { TowerParams, type TowerShape } from './network.js';
import { exportTowers } from './onnx-export.js';
import { twoTowerParamsSchema, type TwoTowerParams } from './params.js';
import type { UserSequences } from './sequences.js';
import { fitTwoTower, type TrainingSummary } from './train.js';

/** Files of a saved two-tower model (docs/artifacts.md). */
const FILES = {
  model: 'model.json',
  features: 'features.json',
  userIds: 'user_ids.npy',
  itemIds: 'item_ids.npy',
  userEmbeddings: 'user_embeddings.npy',
  itemEmbeddings: 'item_embeddings.npy',
  userHistory: 'user_history.npy',
  towerWeights: 'tower_weights.npy',
  userTable: 'user_table.npy',
  itemTable: 'item_table.npy',
  historyTable: 'history_table.npy',
  catalogItemIds: 'catalog_item_ids.npy',
  catalogFeatures: 'catalog_features.npy',
} as const;

const FORMAT_VERSION = 1;

interface ModelJson {
  readonly format_version: number;
  readonly params: TwoTowerParams;
  readonly towers: { readonly user: TowerShape; readonly item: TowerShape };
  readonly history_length: number;
  readonly training: TrainingSummary | null;
}

interface FeaturesJson {
  readonly layout: string;
  readonly genres: string[];
  readonly year_edges: number[];
  readonly tags: string[];
  readonly widths: { genres: number; year: number; tags: number };
}

/**
 * The two-tower retrieval model: score(user, item) = ⟨user tower(user, recent items), item
 * tower(item, content)⟩, both L2-normalised. User and item vectors of the training spaces are
 * computed once and kept; the towers stay available for items and users outside them.
 */
export class TwoTowerModel implements Recommender, HasEmbeddings, RecommendsColdItems, SummarisesTraining, HoldsResources {
  readonly kind = 'two-tower';
  private scorer: DenseScorer | null = null;

  constructor(
    readonly users: IdMap,
    readonly items: IdMap,
    readonly net: TwoTowerNet,
    readonly content: ItemContent,
    /** users × historyLength: each training user's latest items (dense), -1 padded in front. */
    readonly userHistory: Int32Array,
    private readonly hyper: TwoTowerParams,
    readonly training: TrainingSummary | null,
    private readonly userVectors: Float32Array = net.embedUsers(
      Int32Array.from({ length: users.size }, (_, i) => i),
      userHistory,
      hyper.history,
    ),
    private readonly itemVectors: Float32Array = net.embedItems(
      Int32Array.from({ length: items.size }, (_, i) => i),
      content.rowsFor(items.ids),
    ),
  ) {}

  get historyLength(): number {
    return this.hyper.history;
  }

  recommend(users: Int32Array, k: number, exclude: Csr | null): TopK {
    return this.itemScorer().topK(takeRows(this.userEmbeddings(), users).data, users, k, exclude);
  }

  /**
   * Exact top-k for user vectors computed outside the model (n × dim, e.g. by the exported user
   * tower in a serving stack); query row b skips the items in row b of `exclude`.
   */
  recommendVectors(queries: Float32Array, k: number, exclude: Csr | null): TopK {
    const rows = Int32Array.from({ length: queries.length / this.net.dim }, (_, b) => b);
    return this.itemScorer().topK(queries, rows, k, exclude);
  }

  /** Cosine similarity (the vectors are unit length); the item itself is excluded. */
  similarItems(items: Int32Array, k: number): TopK {
    const rows = Int32Array.from({ length: items.length }, (_, b) => b);
    const self = csrFromCoo(items.length, this.items.size, rows, items, null);
    return this.itemScorer().topK(takeRows(this.itemEmbeddings(), items).data, rows, k, self);
  }

  itemEmbeddings(): Embeddings {
    return { rows: this.items.size, dim: this.net.dim, data: this.itemVectors };
  }

  userEmbeddings(): Embeddings {
    return { rows: this.users.size, dim: this.net.dim, data: this.userVectors };
  }

  /**
   * Item vectors for raw item ids, training items or not: an id outside the training items gets
   * the content-only vector (item index -1 and its catalogue features), the cold-start path.
   */
  embedItems(rawItemIds: Int32Array): Embeddings {
    const data = this.net.embedItems(this.items.mapAll(rawItemIds), this.content.rowsFor(rawItemIds));
    return { rows: rawItemIds.length, dim: this.net.dim, data };
  }

  /**
   * User vectors from raw ids and histories (n × historyLength raw item ids, any order, padded
   * with any id that is not a training item, e.g. -1): a user unseen in training, or one whose
   * history grew, gets a vector without retraining.
   */
  embedUsers(rawUserIds: Int32Array, historyRawItemIds: Int32Array): Embeddings {
    const L = this.hyper.history;
    if (historyRawItemIds.length !== rawUserIds.length * L) {
      throw new InputError(`two-tower: histories must be ${rawUserIds.length} × ${L} item ids, got ${historyRawItemIds.length} values`);
    }
    const data = this.net.embedUsers(this.users.mapAll(rawUserIds), this.items.mapAll(historyRawItemIds), L);
    return { rows: rawUserIds.length, dim: this.net.dim, data };
  }

  /**
   * Top-k over the training items plus `extraRawItemIds` (e.g. cold items of a temporal split),
   * scored with their content-only vectors. In the result, an index i < items.size is a dense
   * training item; i ≥ items.size is extraRawItemIds[i − items.size].
   */
  recommendExtended(users: Int32Array, k: number, exclude: Csr | null, extraRawItemIds: Int32Array): TopK {
    const extra = this.embedItems(extraRawItemIds);
    const all = new Float32Array(this.itemVectors.length + extra.data.length);
    all.set(this.itemVectors);
    all.set(extra.data, this.itemVectors.length);
    const scorer = new DenseScorer(all, this.items.size + extra.rows, this.net.dim, availableParallelism());
    try {
      return scorer.topK(takeRows(this.userEmbeddings(), users).data, users, k, exclude);
    } finally {
      scorer.close();
    }
  }

  params(): TwoTowerParams {
    return { ...this.hyper };
  }

  trainingSummary(): Record<string, unknown> | null {
    return this.training ? { ...this.training } : null;
  }

  async save(dir: string): Promise<void> {
    const { net, content } = this;
    const L = this.hyper.history;
    writeNpy(join(dir, FILES.userIds), this.users.ids);
    writeNpy(join(dir, FILES.itemIds), this.items.ids);
    writeNpy(join(dir, FILES.userEmbeddings), this.userVectors, [this.users.size, net.dim]);
    writeNpy(join(dir, FILES.itemEmbeddings), this.itemVectors, [this.items.size, net.dim]);
    writeNpy(join(dir, FILES.userHistory), this.userHistory, [this.users.size, L]);
    writeNpy(join(dir, FILES.towerWeights), net.towers.flat);
    writeNpy(join(dir, FILES.userTable), net.userTable.data, [net.userTable.rows, net.dim]);
    writeNpy(join(dir, FILES.itemTable), net.itemTable.data, [net.itemTable.rows, net.dim]);
    writeNpy(join(dir, FILES.historyTable), net.historyTable.data, [net.historyTable.rows, net.dim]);
    writeNpy(join(dir, FILES.catalogItemIds), content.rawIds);
    writeNpy(join(dir, FILES.catalogFeatures), content.rows, [content.rawIds.length, content.widths.total]);
    const model: ModelJson = {
      format_version: FORMAT_VERSION,
      params: this.hyper,
      towers: { user: net.towers.userShape, item: net.towers.itemShape },
      history_length: L,
      training: this.training,
    };
    writeJsonAtomic(join(dir, FILES.model), model);
    const w = content.widths;
    const features: FeaturesJson = {
      layout:
        'item tower content row = [genres multi-hot | year one-hot | tags multi-hot]; year bucket = number of year_edges <= year, last column = unknown year; tags are lower-cased, trimmed, single-spaced',
      genres: content.vocab.genres,
      year_edges: content.vocab.yearEdges,
      tags: content.vocab.tags,
      widths: { genres: w.genres, year: w.year, tags: w.tags },
    };
    writeJsonAtomic(join(dir, FILES.features), features);
    exportTowers(net, w, dir, recsysVersion());
  }

  /** Ends the scoring worker threads early (they never keep the process alive). */
  close(): void {
    this.scorer?.close();
    this.scorer = null;
  }

  private itemScorer(): DenseScorer {
    this.scorer ??= new DenseScorer(this.itemVectors, this.items.size, this.net.dim, availableParallelism());
    return this.scorer;
  }
}

/** Each user's latest `length` items (dense), most recent last, -1 padded in front. */
export function latestItems(seq: UserSequences, length: number): Int32Array {
  const out = new Int32Array(seq.nUsers * length).fill(-1);
  for (let u = 0; u < seq.nUsers; u++) {
    const first = Math.max(seq.start[u], seq.start[u + 1] - length);
    out.set(seq.items.subarray(first, seq.start[u + 1]), u * length + length - (seq.start[u + 1] - first));
  }
  return out;
}

function readJson<T>(path: string): T {
  if (!existsSync(path)) throw new InputError(`${path}: missing (not a two-tower model directory?)`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (err) {
    throw new InputError(`${path}: ${(err as Error).message}`);
  }
}

async function loadTwoTower(dir: string): Promise<TwoTowerModel> {
  const meta = readJson<ModelJson>(join(dir, FILES.model));
  if (meta.format_version !== FORMAT_VERSION)
    throw new InputError(`${join(dir, FILES.model)}: format_version ${meta.format_version}, expected ${FORMAT_VERSION}`);
  const features = readJson<FeaturesJson>(join(dir, FILES.features));
  const params = parseParams(`${join(dir, FILES.model)}: two-tower`, twoTowerParamsSchema, meta.params);
  await initBackend(params.backend);
  const table = (file: string): EmbeddingTable => {
    const { data, shape } = readNpyFloat32(join(dir, file));
    return new EmbeddingTable(shape[0], shape[1], data);
  };
  const towers = new TowerParams(meta.towers.user, meta.towers.item, readNpyFloat32(join(dir, FILES.towerWeights)).data);
  const net = new TwoTowerNet(towers, table(FILES.userTable), table(FILES.itemTable), table(FILES.historyTable));
  const vocab: FeatureVocab = { genres: features.genres, yearEdges: features.year_edges, tags: features.tags };
  const content = new ItemContent(
    vocab,
    readNpyInt32(join(dir, FILES.catalogItemIds)),
    readNpyFloat32(join(dir, FILES.catalogFeatures)).data,
  );
  return new TwoTowerModel(
    new IdMap(readNpyInt32(join(dir, FILES.userIds))),
    new IdMap(readNpyInt32(join(dir, FILES.itemIds))),
    net,
    content,
    readNpyInt32(join(dir, FILES.userHistory)),
    params,
    meta.training,
    readNpyFloat32(join(dir, FILES.userEmbeddings)).data,
    readNpyFloat32(join(dir, FILES.itemEmbeddings)).data,
  );
}

export const twoTowerFactory: ModelFactory<typeof twoTowerParamsSchema, TwoTowerModel> = {
  kind: 'two-tower',
  description:
    'neural retrieval: user tower (id + recent items) and item tower (id + genres, year, tags), in-batch softmax with logQ correction',
  params: twoTowerParamsSchema,
  async fit(data: TrainingData, params: TwoTowerParams, ctx?: FitContext): Promise<TwoTowerModel> {
    const fitted = await fitTwoTower(data, params, ctx);
    return new TwoTowerModel(
      data.users,
      data.items,
      fitted.net,
      fitted.content,
      latestItems(fitted.seq, params.history),
      params,
      fitted.summary,
    );
  },
  load: loadTwoTower,
};
