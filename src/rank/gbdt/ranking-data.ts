import { InputError } from '../../util/errors.js';
import type { FeatureMatrix } from './engine.js';

/** Rows of features to score: row-major, nRows × nFeatures, NaN for a missing value. */
export interface FeatureRows {
  readonly features: FeatureMatrix;
  readonly nRows: number;
  readonly nFeatures: number;
}

/**
 * A learning-to-rank data set: feature rows, a relevance grade per row, and query groups:
 * the first groupSizes[0] rows are the candidates of the first query, and so on.
 */
export interface RankingData extends FeatureRows {
  /**
   * Relevance grades: integers 0..30 for lambdarank (both engines use the gain 2^grade - 1);
   * any finite number for the regression objective.
   */
  readonly labels: Float32Array | Float64Array | Int32Array;
  readonly groupSizes: Int32Array;
}

/** LightGBM's default label_gain table has 31 entries. */
export const MAX_GRADE = 30;

/** Checks shapes and values; `what` names the data set in errors ("training data"). */
export function validateFeatureRows(rows: FeatureRows, what: string): void {
  const { features, nRows, nFeatures } = rows;
  if (!Number.isInteger(nRows) || nRows < 0 || !Number.isInteger(nFeatures) || nFeatures < 1) {
    throw new InputError(`${what}: invalid shape ${nRows} rows × ${nFeatures} features`);
  }
  if (features.length !== nRows * nFeatures) {
    throw new InputError(`${what}: ${features.length} feature values, expected ${nRows} rows × ${nFeatures} features`);
  }
  for (let i = 0; i < features.length; i++) {
    const v = features[i];
    if (v === Infinity || v === -Infinity) {
      throw new InputError(`${what}: row ${Math.floor(i / nFeatures)}, feature ${i % nFeatures} is ${v} (use NaN for missing)`);
    }
  }
}

export function validateRankingData(data: RankingData, what: string, objective: 'lambdarank' | 'regression' = 'lambdarank'): void {
  validateFeatureRows(data, what);
  const { labels, groupSizes, nRows } = data;
  if (labels.length !== nRows) throw new InputError(`${what}: ${labels.length} labels for ${nRows} rows`);
  for (let i = 0; i < nRows; i++) {
    const y = labels[i];
    if (objective === 'regression') {
      if (!Number.isFinite(y)) throw new InputError(`${what}: row ${i}: label ${y} is not a finite number`);
    } else if (!Number.isInteger(y) || y < 0 || y > MAX_GRADE) {
      throw new InputError(`${what}: row ${i}: label ${y} is not a relevance grade (an integer 0..${MAX_GRADE})`);
    }
  }
  let total = 0;
  for (let q = 0; q < groupSizes.length; q++) {
    if (groupSizes[q] < 1) throw new InputError(`${what}: query ${q} has ${groupSizes[q]} rows`);
    total += groupSizes[q];
  }
  if (total !== nRows) throw new InputError(`${what}: query group sizes add up to ${total}, not ${nRows} rows`);
}
