import { emptyBatch, type LogBatchBody } from './entities.js';
import { MAX_BATCH_REQUEST_BYTES, MAX_ENTITIES_PER_BATCH, MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH } from './limits.js';

/** Room left in a request for `run_id` and the JSON around the three arrays. */
const ENVELOPE_BYTES = 1024;

/**
 * Splits run data into as few runs/log-batch bodies as MLflow's documented request limits
 * allow (per kind, entities in total, bytes): each request takes up to 100 params, then up to
 * 100 tags, then metrics until it is full. Order within each kind is kept, since MLflow writes
 * each kind in request order, and params reach the server no later than the metrics.
 */
export function splitLogBatch(batch: LogBatchBody): LogBatchBody[] {
  const out: LogBatchBody[] = [];
  const next = { params: 0, tags: 0, metrics: 0 };
  const remaining = (): boolean =>
    next.params < batch.params.length || next.tags < batch.tags.length || next.metrics < batch.metrics.length;

  while (remaining()) {
    const part = emptyBatch();
    let entities = 0;
    let bytes = ENVELOPE_BYTES;
    const fill = <K extends keyof LogBatchBody>(kind: K, kindLimit: number): void => {
      const items = batch[kind];
      while (next[kind] < items.length && part[kind].length < kindLimit && entities < MAX_ENTITIES_PER_BATCH) {
        const item = items[next[kind]];
        const size = Buffer.byteLength(JSON.stringify(item)) + 1;
        if (entities > 0 && bytes + size > MAX_BATCH_REQUEST_BYTES) return;
        (part[kind] as LogBatchBody[K][number][]).push(item);
        next[kind]++;
        entities++;
        bytes += size;
      }
    };
    fill('params', MAX_PARAMS_TAGS_PER_BATCH);
    fill('tags', MAX_PARAMS_TAGS_PER_BATCH);
    fill('metrics', MAX_METRICS_PER_BATCH);
    out.push(part);
  }
  return out;
}

export function batchSize(batch: LogBatchBody): number {
  return batch.metrics.length + batch.params.length + batch.tags.length;
}
