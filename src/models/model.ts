import type { z } from 'zod';
import type { IdMap } from '../data/id-map.js';
import type { TrainingData } from '../data/training-data.js';
import type { Csr } from '../matrix/csr.js';
import type { Embeddings } from '../matrix/embeddings.js';
import type { TopK } from '../matrix/topk.js';
import type { ParamsSchema } from './params.js';

/**
 * The one interface every model implements, so that the evaluator, the indexer and the
 * ranker never special-case a model. Users and items are dense indices of `users` / `items`.
 * What only some models can do is a separate small interface below, tested with its guard.
 */
export interface Recommender {
  /** Registry key, e.g. "popularity", "als". */
  readonly kind: string;
  readonly users: IdMap;
  readonly items: IdMap;
  /**
   * Top-k items for each dense user index, best first. Items in the user's row of `exclude`
   * (typically the items they interacted with in training) are never returned. A row with fewer
   * than k items to offer is padded with item -1 (score -Infinity) at its end.
   */
  recommend(users: Int32Array, k: number, exclude: Csr | null): TopK;
  /** The k most similar items to each given item (the item itself excluded), padded like `recommend`. */
  similarItems(items: Int32Array, k: number): TopK;
  /** The hyper-parameters, exactly as the model's params schema declares them (JSON, valid against it). */
  params(): Record<string, unknown>;
  /** Writes the model's files into `dir` (an artifact version being built). */
  save(dir: string): Promise<void>;
}

/** Item vectors whose inner product with the user vectors is the score. */
export interface HasEmbeddings {
  itemEmbeddings(): Embeddings;
  userEmbeddings(): Embeddings;
}

export function hasEmbeddings<M extends Recommender>(m: M): m is M & HasEmbeddings {
  return (
    typeof (m as Partial<HasEmbeddings>).itemEmbeddings === 'function' && typeof (m as Partial<HasEmbeddings>).userEmbeddings === 'function'
  );
}

/**
 * Top-k for a user known only by a history of dense item indices (e.g. ALS fold-in, a two-tower
 * user tower over recent items); the history's items are not returned.
 */
export interface FoldsInHistory {
  recommendFromHistory(items: Int32Array, weights: Float32Array | null, k: number): TopK;
}

export function canFoldIn<M extends Recommender>(m: M): m is M & FoldsInHistory {
  return typeof (m as Partial<FoldsInHistory>).recommendFromHistory === 'function';
}

/**
 * Like `recommend`, plus which source produced each item (`source[r*k + j]` indexes `sources`),
 * for models that blend several (the ranker's channels). Others are their own source.
 */
export interface NamesSources {
  recommendWithSources(users: Int32Array, k: number, exclude: Csr | null): SourcedTopK;
}

export interface SourcedTopK {
  readonly top: TopK;
  readonly source: Uint8Array;
  readonly sources: readonly string[];
  /** Sources that failed or ran out of time for this batch (their items are missing). */
  readonly skipped: readonly string[];
  /** Wall time of each stage, for the serving metrics. */
  readonly seconds: Readonly<Record<string, number>>;
}

export function namesSources<M extends Recommender>(m: M): m is M & NamesSources {
  return typeof (m as Partial<NamesSources>).recommendWithSources === 'function';
}

/**
 * Content-aware models: top-k over the training items plus items never seen in training
 * (`extraRawItemIds`, e.g. the cold items of a temporal split). In the result an index
 * i < items.size is a training item, i ≥ items.size is extraRawItemIds[i − items.size].
 */
export interface RecommendsColdItems {
  recommendExtended(users: Int32Array, k: number, exclude: Csr | null, extraRawItemIds: Int32Array): TopK;
}

export function recommendsColdItems<M extends Recommender>(m: M): m is M & RecommendsColdItems {
  return typeof (m as Partial<RecommendsColdItems>).recommendExtended === 'function';
}

/** Models holding worker threads or native resources beyond their memory: `close` ends them (a server replacing a version calls it). */
export interface HoldsResources {
  close(): void;
}

export function holdsResources<M extends Recommender>(m: M): m is M & HoldsResources {
  return typeof (m as Partial<HoldsResources>).close === 'function';
}

/**
 * Models with per-request work they can do once ahead (caches filled on first use): a server
 * calls `prepareServing` when it loads the model, so its first requests are not the slow ones.
 * Answers are the same either way.
 */
export interface PreparesServing {
  prepareServing(): void;
}

export function preparesServing<M extends Recommender>(m: M): m is M & PreparesServing {
  return typeof (m as Partial<PreparesServing>).prepareServing === 'function';
}

/** What fitting learned besides the hyper-parameters (epochs run, validation scores, ...), for the manifest. */
export interface SummarisesTraining {
  trainingSummary(): Record<string, unknown> | null;
}

export function summarisesTraining<M extends Recommender>(m: M): m is M & SummarisesTraining {
  return typeof (m as Partial<SummarisesTraining>).trainingSummary === 'function';
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

/** Creates (fits) and loads one kind of model. */
export interface ModelFactory<S extends ParamsSchema = ParamsSchema, M extends Recommender = Recommender> {
  readonly kind: string;
  /** One line for `recsys train --help`. */
  readonly description: string;
  /** The hyper-parameters: their one declaration (types, defaults, ranges, descriptions). */
  readonly params: S;
  /**
   * Checks of valid parameters that need more than the schema (e.g. the channel names an
   * assembled ranker knows), one problem per key; run wherever parameters are validated, so a
   * pipeline file fails when it is loaded.
   */
  checkParams?(params: z.infer<S>): { key: string; message: string }[];
  /** `params` has been validated against the schema (parseParams) and checkParams, defaults filled in. */
  fit(data: TrainingData, params: z.infer<S>, ctx?: FitContext): Promise<M>;
  load(dir: string): Promise<M>;
}

/**
 * Top-k with the source of every item, from any model: the batch export and the server both
 * answer through this, so they cannot differ. A single-source model is its own source and
 * its one stage is `model`.
 */
export function recommendSourced(model: Recommender, users: Int32Array, k: number, exclude: Csr | null): SourcedTopK {
  if (namesSources(model)) return model.recommendWithSources(users, k, exclude);
  const started = performance.now();
  const top = model.recommend(users, k, exclude);
  return {
    top,
    source: new Uint8Array(users.length * k),
    sources: [model.kind],
    skipped: [],
    seconds: { model: (performance.now() - started) / 1000 },
  };
}
