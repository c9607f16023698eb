import { emptyBatch, type LogBatchBody } from './entities.js';
import {
  MAX_BATCH_REQUEST_BYTES,
  MAX_ENTITIES_PER_BATCH,
  MAX_METRICS_PER_BATCH,
  MAX_PARAMS_TAGS_PER_BATCH,
} from './limits.js';

/** Room left in a request for `run_id` and the JSON around the three arrays. */
const ENVELOPE_BYTES = 1024;

/**
 * Splits run data into runs/log-batch bodies that each respect MLflow's documented request
 * limits (metrics, params, tags, entities in total, bytes). Params go first so they reach the
 * server before the metrics of the same flush; order within each kind is kept, since MLflow
 * writes each kind in request order.
 */
export function splitLogBatch(batch: LogBatchBody): LogBatchBody[] {
  const out: LogBatchBody[] = [];
  let current = emptyBatch();
  let entities = 0;
  let bytes = ENVELOPE_BYTES;

  const add = <K extends keyof LogBatchBody>(kind: K, item: LogBatchBody[K][number], kindLimit: number): void => {
    const size = Buffer.byteLength(JSON.stringify(item)) + 1;
    if (
      current[kind].length + 1 > kindLimit ||
      entities + 1 > MAX_ENTITIES_PER_BATCH ||
      (entities > 0 && bytes + size > MAX_BATCH_REQUEST_BYTES)
    ) {
      out.push(current);
      current = emptyBatch();
      entities = 0;
      bytes = ENVELOPE_BYTES;
    }
    (current[kind] as LogBatchBody[K][number][]).push(item);
    entities += 1;
    bytes += size;
  };

  for (const p of batch.params) add('params', p, MAX_PARAMS_TAGS_PER_BATCH);
  for (const t of batch.tags) add('tags', t, MAX_PARAMS_TAGS_PER_BATCH);
  for (const m of batch.metrics) add('metrics', m, MAX_METRICS_PER_BATCH);
  if (entities > 0) out.push(current);
  return out;
}

export function batchSize(batch: LogBatchBody): number {
  return batch.metrics.length + batch.params.length + batch.tags.length;
}
