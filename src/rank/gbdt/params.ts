import { z } from 'zod';
import { InputError } from '../../util/errors.js';

const CONFIG_KEY = /^[^\s=#"]+$/;
const CONFIG_VALUE = z.union([z.string().regex(/^[^\r\n"]*$/, 'a value without line breaks or quotes'), z.number(), z.boolean()]);

/**
 * Hyper-parameters of a GBDT ranker, named once for both engines: their one declaration
 * (type, default, range, meaning). Optional ones left undefined are not written, so the
 * engine's own default applies. Set by code (the ranker maps its own `trees`, `learning_rate`
 * and `leaves` onto them), hence camelCase like the rest of the code's options.
 */
export const gbdtParamsSchema = z
  .object({
    objective: z
      .enum(['lambdarank', 'regression'])
      .default('lambdarank')
      .describe(
        'lambdarank (LightGBM lambdarank, XGBoost rank:ndcg) over query groups of relevance grades, or squared-error regression on real-valued labels (LightGBM regression, XGBoost reg:squarederror)',
      ),
    numTrees: z.number().int().min(1).default(100).describe('boosting rounds (LightGBM num_iterations, XGBoost num_round)'),
    learningRate: z.number().gt(0).finite().default(0.1).describe('shrinkage of each tree'),
    numLeaves: z
      .number()
      .int()
      .min(2)
      .default(31)
      .describe('leaves per tree (LightGBM num_leaves; XGBoost max_leaves with grow_policy=lossguide)'),
    maxDepth: z.number().int().default(-1).describe('depth limit; 0 or negative for none'),
    evalAt: z
      .array(z.number().int().min(1))
      .min(1)
      .default([1, 3, 5, 10])
      .describe('NDCG cut-offs evaluated on the validation set each round (lambdarank; regression evaluates the RMSE)'),
    seed: z.number().int().default(42).describe('random seed of the engine'),
    threads: z.number().int().min(0).default(0).describe('threads the program uses; 0 lets it decide'),
    minDataInLeaf: z.number().int().min(0).optional().describe('LightGBM min_data_in_leaf (XGBoost has no equivalent)'),
    minChildWeight: z.number().min(0).optional().describe('LightGBM min_sum_hessian_in_leaf, XGBoost min_child_weight'),
    featureFraction: z.number().gt(0).max(1).optional().describe('LightGBM feature_fraction, XGBoost colsample_bytree'),
    baggingFraction: z.number().gt(0).max(1).optional().describe('LightGBM bagging_fraction (with bagging_freq=1), XGBoost subsample'),
    lambdaL2: z.number().min(0).optional().describe('LightGBM lambda_l2, XGBoost lambda'),
    maxBin: z.number().int().min(2).optional().describe('most histogram bins per feature'),
    categoricalFeatures: z
      .array(z.number().int().min(0))
      .optional()
      .describe('feature indices LightGBM treats as categories (the xgboost CLI reads them as numbers)'),
    extra: z
      .record(z.string().regex(CONFIG_KEY, 'a key without spaces, "=", "#" or quotes'), CONFIG_VALUE)
      .optional()
      .describe("engine-specific settings written verbatim into the engine's config file"),
  })
  .strict();

export type GbdtParams = z.infer<typeof gbdtParamsSchema>;
/** What a caller gives: any field may be left out for its default. */
export type GbdtParamsInput = z.input<typeof gbdtParamsSchema>;

export const defaultGbdtParams: GbdtParams = gbdtParamsSchema.parse({});

/** Defaults overlaid with `params`, validated; an InputError names each bad key. */
export function resolveGbdtParams(params: GbdtParamsInput): GbdtParams {
  const result = gbdtParamsSchema.safeParse(params);
  if (result.success) return result.data;
  throw new InputError(`gbdt params: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
}

/** key=value lines of a config file, leaving out undefined values. */
export function configText(entries: ReadonlyArray<readonly [string, string | number | boolean | undefined]>): string {
  return entries
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}\n`)
    .join('');
}
