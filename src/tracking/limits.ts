/**
 * MLflow's validation rules for run data (mlflow/utils/validation.py and the REST API
 * documentation of runs/log-batch). A server rejects a whole request that breaks one of them,
 * so the tracker makes every key and value valid before it is queued, and warns about what it
 * had to change.
 */

/** runs/log-batch limits: at most 1000 metrics, 100 params, 100 tags, 1000 entities, 1 MB. */
export const MAX_METRICS_PER_BATCH = 1000;
export const MAX_PARAMS_TAGS_PER_BATCH = 100;
export const MAX_ENTITIES_PER_BATCH = 1000;
export const MAX_BATCH_REQUEST_BYTES = 1_000_000;

/** Key and value lengths, in characters (code points), as MLflow counts them. */
export const MAX_ENTITY_KEY_LENGTH = 250;
export const MAX_PARAM_VALUE_LENGTH = 6000;
export const MAX_TAG_VALUE_LENGTH = 5000;
export const MAX_EXPERIMENT_NAME_LENGTH = 500;

/** MLflow accepts names of letters, digits, `_`, `-`, `.`, space and `/` (`^[/\w.\- ]*$`). */
const INVALID_NAME_CHAR = /[^\p{L}\p{N}_/.\- ]/gu;

/**
 * A metric, param or tag key MLflow accepts: invalid characters become `_`, and the path must
 * normalise to itself (no empty, `.` or `..` segments, no leading or trailing `/`), because the
 * file store turns keys into file paths. Returns the key unchanged when it is already valid.
 */
export function validKey(key: string): string {
  const segments = key
    .replace(INVALID_NAME_CHAR, '_')
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .map((s) => (s === '..' ? '__' : s));
  const joined = segments.join('/');
  return clipChars(joined === '' ? '_' : joined, MAX_ENTITY_KEY_LENGTH);
}

/**
 * The MLflow name of one of our metrics: `ndcg@10` becomes `ndcg_at_10` (MLflow rejects `@`),
 * so cut-off metrics read naturally in the MLflow UI without a warning per key.
 */
export function metricName(key: string): string {
  return validKey(key.replace(/@/g, '_at_'));
}

/** `value` cut to at most `limit` code points (MLflow truncates long param/tag values the same way). */
export function clipChars(value: string, limit: number): string {
  if (value.length <= limit) return value;
  const chars = Array.from(value);
  return chars.length <= limit ? value : chars.slice(0, limit).join('');
}
