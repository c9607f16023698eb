/**
 * Run tracking as the pipeline sees it: each pipeline step is one MLflow run in an experiment
 * named after the pipeline. No method throws and none lets a tracking failure reach training:
 * failures are retried, warned about, and (for a server) kept in an outbox to send later.
 */

/** How a run ended, as MLflow's RunStatus spells it. */
export type RunEndStatus = 'FINISHED' | 'FAILED' | 'KILLED';

export interface StartRunOptions {
  /** Experiment name, one per pipeline; created if absent. */
  experiment: string;
  /** Run name, e.g. the pipeline step ("train", "evaluate"). Stored as `mlflow.runName`. */
  runName: string;
  /** Hyper-parameters and settings. Nested objects are flattened to dotted keys. */
  params?: Record<string, unknown>;
  /** Run tags, e.g. `recsys.dataset.sha256`. Standard `mlflow.*` source tags are added. */
  tags?: Record<string, string>;
  /** Unix milliseconds; default: now. */
  startTime?: number;
}

export interface TrackedRun {
  /** The MLflow run id; `local-<hex>` for a run still waiting in the outbox to be created. */
  readonly runId: string;
  /** One metric value at `step` (default 0); `timestamp` in Unix ms (default: now). */
  logMetric(key: string, value: number, step?: number, timestamp?: number): void;
  /** Several metrics of one step (an epoch or iteration), e.g. from `FitContext.onEpoch`. */
  logMetrics(values: Record<string, number>, step?: number, timestamp?: number): void;
  /** Params are write-once in MLflow: a key already logged with another value is kept and warned about. */
  logParams(params: Record<string, unknown>): void;
  setTag(key: string, value: string): void;
  setTags(tags: Record<string, string>): void;
  /** Sends (or writes) everything logged so far. */
  flush(): Promise<void>;
  /** Flushes, then records the status and end time. Later calls are ignored with a warning. */
  end(status?: RunEndStatus, endTime?: number): Promise<void>;
}

export interface Tracker {
  /** "mlflow-rest" or "file-store". */
  readonly kind: string;
  /** The server URI or the mlruns folder runs go to. */
  readonly location: string;
  startRun(options: StartRunOptions): Promise<TrackedRun>;
  /**
   * Ends a run this process did not start, e.g. one left RUNNING by a killed process. A run
   * that already ended keeps its status. Never throws.
   */
  endRun(runId: string, status: RunEndStatus, endTime: number): Promise<void>;
}

/**
 * Runs `work` inside a run: the run ends FINISHED when `work` resolves and FAILED when it
 * throws (the error is rethrown: tracking never hides a training failure either).
 */
export async function withRun<T>(tracker: Tracker, options: StartRunOptions, work: (run: TrackedRun) => Promise<T>): Promise<T> {
  const run = await tracker.startRun(options);
  let result: T;
  try {
    result = await work(run);
  } catch (err) {
    await run.end('FAILED');
    throw err;
  }
  await run.end('FINISHED');
  return result;
}
