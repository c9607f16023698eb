import { InputError } from '../../util/errors.js';

/**
 * Hyper-parameters of a lambdarank GBDT, named once for both engines. Optional ones that are
 * left undefined are not written, so the engine's own default applies.
 */
export interface GbdtParams {
  /** Boosting rounds (LightGBM num_iterations, XGBoost num_round). */
  numTrees: number;
  learningRate: number;
  /** Leaves per tree (LightGBM num_leaves; XGBoost max_leaves with grow_policy=lossguide). */
  numLeaves: number;
  /** Depth limit; 0 or negative for none. */
  maxDepth: number;
  /** NDCG cut-offs evaluated on the validation set each round. */
  evalAt: number[];
  seed: number;
  /** Threads the program uses; 0 lets it decide. */
  threads: number;
  /** LightGBM min_data_in_leaf (XGBoost has no equivalent). */
  minDataInLeaf?: number;
  /** LightGBM min_sum_hessian_in_leaf, XGBoost min_child_weight. */
  minChildWeight?: number;
  /** LightGBM feature_fraction, XGBoost colsample_bytree. */
  featureFraction?: number;
  /** LightGBM bagging_fraction (with bagging_freq=1), XGBoost subsample. */
  baggingFraction?: number;
  /** LightGBM lambda_l2, XGBoost lambda. */
  lambdaL2?: number;
  maxBin?: number;
  /** Feature indices LightGBM treats as categories (the xgboost CLI reads them as numbers). */
  categoricalFeatures?: number[];
  /** Engine-specific settings written verbatim into the engine's config file. */
  extra?: Record<string, string | number | boolean>;
}

export const defaultGbdtParams: GbdtParams = {
  numTrees: 100,
  learningRate: 0.1,
  numLeaves: 31,
  maxDepth: -1,
  evalAt: [1, 3, 5, 10],
  seed: 42,
  threads: 0,
};

export function resolveGbdtParams(params: Partial<GbdtParams>): GbdtParams {
  const p: GbdtParams = { ...defaultGbdtParams, ...params };
  const positiveInt = (name: keyof GbdtParams, v: number): void => {
    if (!Number.isInteger(v) || v < 1) throw new InputError(`gbdt params: ${name} must be a positive integer, got ${v}`);
  };
  positiveInt('numTrees', p.numTrees);
  positiveInt('numLeaves', p.numLeaves);
  if (!(p.learningRate > 0)) throw new InputError(`gbdt params: learningRate must be > 0, got ${p.learningRate}`);
  if (p.evalAt.length === 0) throw new InputError('gbdt params: evalAt must list at least one cut-off');
  for (const k of p.evalAt) positiveInt('evalAt', k);
  for (const [k, v] of Object.entries(p.extra ?? {})) {
    if (/[\s=#"]/.test(k) || /[\r\n"]/.test(String(v))) throw new InputError(`gbdt params: extra setting "${k}" has a forbidden character`);
  }
  return p;
}

/** key=value lines of a config file, leaving out undefined values. */
export function configText(entries: ReadonlyArray<readonly [string, string | number | boolean | undefined]>): string {
  return entries
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}\n`)
    .join('');
}
