import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../util/errors.js';
import { FileStoreTracker } from './file-store.js';
import type { RetryPolicy } from './http-client.js';
import { RestTracker } from './rest-tracker.js';
import type { Tracker } from './tracker.js';

export { syncOutbox, outboxPath, type SyncResult } from './outbox.js';
export { withRun, type RunEndStatus, type StartRunOptions, type TrackedRun, type Tracker } from './tracker.js';
export { FileStoreTracker } from './file-store.js';
export { RestTracker } from './rest-tracker.js';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './http-client.js';

export interface TrackerConfig {
  /** Tracking URI; default: the MLFLOW_TRACKING_URI environment variable. */
  uri?: string;
  /** Artifact root: holds `mlruns/` when no server is set, and the outbox otherwise. */
  root: string;
  retry?: Partial<RetryPolicy>;
}

/**
 * The tracker for a tracking URI, read as MLflow reads it: `http(s)://…` is a tracking server
 * (REST API); `file:///path` or a plain path is a file store there; no URI is a file store in
 * `<root>/mlruns`. Other schemes (databricks, sqlite, postgresql…) are a configuration error.
 */
export function createTracker(config: TrackerConfig): Tracker {
  const uri = (config.uri ?? process.env.MLFLOW_TRACKING_URI ?? '').trim();
  if (uri === '') return new FileStoreTracker(join(config.root, 'mlruns'));
  if (/^https?:\/\//i.test(uri)) return new RestTracker({ uri, root: config.root, retry: config.retry });
  if (/^file:/i.test(uri)) return new FileStoreTracker(fileURLToPath(uri));
  if (isAbsolute(uri) || !/^[a-z][a-z0-9+.-]*:/i.test(uri)) return new FileStoreTracker(resolve(uri));
  throw new InputError(
    `MLFLOW_TRACKING_URI "${uri}": unsupported tracking URI; use http(s)://host:port for a tracking server ` +
      'or a local path / file:// URI for a file store',
  );
}
