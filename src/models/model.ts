import type { IdMap } from '../data/id-map.js';
import type { TrainingData } from '../data/training-data.js';
import type { Csr } from '../matrix/csr.js';
import type { TopK } from '../matrix/topk.js';

/** A dense embedding matrix, row-major: row i is the vector of dense index i. */
export interface Embeddings {
  readonly rows: number;
  readonly dim: number;
  readonly data: Float32Array;
}

/**
 * The one interface every model implements, so that the evaluator, the indexer and the
 * ranker never special-case a model. Users and items are dense indices of `users` / `items`.
 */
export interface Recommender {
  /** Registry key, e.g. "popularity", "als". */
  readonly kind: string;
  readonly users: IdMap;
  readonly items: IdMap;
  /**
   * Top-k items for each dense user index, best first. Items in the user's row of `exclude`
   * (typically the items they interacted with in training) are never returned.
   */
  recommend(users: Int32Array, k: number, exclude: Csr | null): TopK;
  /** The k most similar items to each given item (the item itself excluded). */
  similarItems(items: Int32Array, k: number): TopK;
  /** Item vectors whose inner product with `userEmbeddings` rows is the score, if any. */
  itemEmbeddings(): Embeddings | null;
  userEmbeddings(): Embeddings | null;
  /**
   * Optional: top-k for a user known only by a history of dense item indices (e.g. ALS fold-in,
   * a two-tower user tower over recent items); the history's items are not returned.
   */
  recommendFromHistory?(items: Int32Array, weights: Float32Array | null, k: number): TopK;
  /**
   * Optional: like `recommend`, plus which source produced each item (`source[r*k + j]` indexes
   * `sources`), for models that blend several (the ranker's channels). Others are their own source.
   */
  recommendWithSources?(users: Int32Array, k: number, exclude: Csr | null): { top: TopK; source: Uint8Array; sources: readonly string[] };
  /**
   * Optional, for content-aware models: top-k over the training items plus items never seen in
   * training (`extraRawItemIds`, e.g. the cold items of a temporal split). In the result an index
   * i < items.size is a training item, i ≥ items.size is extraRawItemIds[i − items.size].
   */
  recommendExtended?(users: Int32Array, k: number, exclude: Csr | null, extraRawItemIds: Int32Array): TopK;
  /** Hyper-parameters and other settings worth recording in a manifest. */
  params(): Record<string, unknown>;
  /** Writes the model's files into `dir` (an artifact version being built). */
  save(dir: string): Promise<void>;
}

/** Settings every fit receives besides the model's own hyper-parameters. */
export interface FitContext {
  /** Called once per epoch/iteration with metrics worth tracking (loss, time, ...). */
  onEpoch?: (epoch: number, metrics: Record<string, number>) => void;
  /**
   * A folder for temporary files of the fit (the GBDT engine's data), given temporary names
   * there (util/fs.ts tempPathFor): the artifact folder, so a killed fit's leftovers are
   * removed by the next run writing there. Default: the system's temporary directory.
   */
  tempDir?: string;
}

/** A hyper-parameter exposed as a CLI option (`--factors 64`) and a pipeline-file key. */
export interface ModelOption {
  /** Key in the params object, e.g. "factors"; the flag is its kebab-case form. */
  readonly key: string;
  readonly type: 'int' | 'float' | 'string' | 'boolean';
  readonly description: string;
  readonly choices?: readonly string[];
}

/** Creates (fits) and loads one kind of model. */
export interface ModelFactory<P = Record<string, unknown>> {
  readonly kind: string;
  /** One line for `recsys train --help`. */
  readonly description?: string;
  /** Default hyper-parameters, as the CLI documents them. */
  readonly defaults: P;
  /** The hyper-parameters a user may set; defaults come from `defaults`. */
  readonly options?: readonly ModelOption[];
  fit(data: TrainingData, params: P, ctx?: FitContext): Promise<Recommender>;
  load(dir: string): Promise<Recommender>;
}
