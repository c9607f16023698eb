/**
 * The shared shape of a trained gradient-boosted tree ensemble, whichever program trained it.
 * The ranker scores candidates through `predict` in-process: no process is spawned per request.
 * A leaf module: the ranker and every engine depend on it, it imports nothing.
 */

/** The command-line program that trains (and can itself predict with) a model. */
export type GbdtEngine = 'lightgbm' | 'xgboost';

/** Row-major features, rows × nFeatures; NaN marks a missing value. */
export type FeatureMatrix = Float32Array | Float64Array;

export interface GbdtModel {
  readonly engine: GbdtEngine;
  /** The engine's objective as written in the model, e.g. "lambdarank", "rank:ndcg". */
  readonly objective: string;
  /** Feature columns the model reads: `predict` needs at least this many per row. */
  readonly nFeatures: number;
  readonly nTrees: number;
  /**
   * Raw scores (before any objective transform such as a sigmoid; for ranking objectives the
   * raw score is what the engine itself outputs), one per row, equal to the engine's own
   * prediction: LightGBM sums leaf values in double precision, XGBoost in float32.
   */
  predict(features: FeatureMatrix, nRows: number, nFeatures: number): Float64Array;
  /** The model file exactly as the engine wrote it, so the engine's CLI can load it back. */
  readonly text: string;
  /** Writes `text` atomically. */
  save(path: string): void;
}
