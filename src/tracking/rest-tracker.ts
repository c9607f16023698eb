import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { log } from '../util/log.js';
import { batchSize, splitLogBatch } from './batching.js';
import { emptyBatch, tagJson, type LogBatchBody, type MetricJson, type ParamJson, type TagJson } from './entities.js';
import { DISCARD_SINK, GuardedRun, UNTRACKED_RUN_ID, errorText, type RunSink } from './guarded-run.js';
import { DEFAULT_RETRY_POLICY, MlflowApiError, MlflowHttpClient, type RetryPolicy } from './http-client.js';
import { MAX_EXPERIMENT_NAME_LENGTH, MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH, clipChars } from './limits.js';
import { ExperimentIds, createRun, logBatch, updateRun, type CreateRunBody } from './mlflow-api.js';
import {
  REJECTED_FILE,
  appendRejected,
  appendToOutbox,
  keepForLater,
  outboxEntry,
  outboxPath,
  type OutboxRequest,
  type RunRef,
} from './outbox.js';
import { currentUser, runTags } from './system-tags.js';
import type { RunEndStatus, StartRunOptions, TrackedRun, Tracker } from './tracker.js';

/** Prefix of the id of a run waiting in the outbox to be created. */
const LOCAL_RUN_PREFIX = 'local-';

export interface RestTrackerOptions {
  /** The tracking server, e.g. http://mlflow:5000. */
  uri: string;
  /** Artifact root; the outbox is written there. */
  root: string;
  retry?: Partial<RetryPolicy>;
  /** Buffered metrics are sent at least this often while a run logs (default 5 s). */
  flushIntervalMs?: number;
}

/**
 * Tracks runs on an MLflow tracking server through the REST API 2.0. Metrics, params and tags
 * are buffered and sent with runs/log-batch. When the server stays unreachable after the
 * client's retries, the tracker warns once and, for the rest of the process, appends every
 * request to the outbox instead of waiting on the network again; `syncOutbox` sends them later.
 * A request the server refuses (HTTP 400/404…) would be refused again: it is warned about and
 * kept in `.tracking-outbox.rejected.jsonl` with the error.
 */
export class RestTracker implements Tracker {
  readonly kind = 'mlflow-rest';
  readonly location: string;
  private readonly client: MlflowHttpClient;
  private readonly experimentIds: ExperimentIds;
  private readonly flushIntervalMs: number;
  private offline = false;

  constructor(private readonly options: RestTrackerOptions) {
    this.location = options.uri;
    this.client = new MlflowHttpClient(options.uri, { ...DEFAULT_RETRY_POLICY, ...options.retry });
    this.experimentIds = new ExperimentIds(this.client);
    this.flushIntervalMs = options.flushIntervalMs ?? 5000;
  }

  /** True once the server has been found unreachable; requests then go to the outbox. */
  get isOffline(): boolean {
    return this.offline;
  }

  async startRun(options: StartRunOptions): Promise<TrackedRun> {
    const label = `${options.experiment}/${options.runName}`;
    try {
      const experiment = clipChars(options.experiment, MAX_EXPERIMENT_NAME_LENGTH);
      const body: CreateRunBody = {
        run_name: options.runName,
        start_time: options.startTime ?? Date.now(),
        user_id: currentUser(),
        tags: Object.entries(runTags(options)).map(([k, v]) => tagJson(k, v)),
      };
      const ref = await this.createRun(experiment, body);
      const runId = 'run_id' in ref ? ref.run_id : ref.local_run_id;
      const run = new GuardedRun(runId, label, new RestRunSink(this, ref, this.flushIntervalMs));
      if (options.params) {
        run.logParams(options.params);
        await run.flush();
      }
      return run;
    } catch (err) {
      log.warn(`tracking (${label}): could not start the run: ${errorText(err)}; it is not tracked`);
      return new GuardedRun(UNTRACKED_RUN_ID, label, DISCARD_SINK);
    }
  }

  async endRun(runId: string, status: RunEndStatus, endTime: number): Promise<void> {
    // A run created while the server was down still has its outbox id; sync maps it.
    const run: RunRef = runId.startsWith(LOCAL_RUN_PREFIX) ? { local_run_id: runId } : { run_id: runId };
    await this.deliver({ op: 'update-run', run, body: { status, end_time: endTime } });
  }

  /** The server's run, or a local run waiting in the outbox. Throws when the server refused it. */
  private async createRun(experiment: string, body: CreateRunBody): Promise<RunRef> {
    if (!this.offline) {
      try {
        const info = await createRun(this.client, await this.experimentIds.get(experiment), body);
        return { run_id: info.run_id };
      } catch (err) {
        if (!(err instanceof MlflowApiError) || !keepForLater(err)) throw err;
        this.goOffline(err);
      }
    }
    const localId = `${LOCAL_RUN_PREFIX}${randomUUID().replace(/-/g, '')}`;
    this.keep({ op: 'create-run', local_run_id: localId, experiment_name: experiment, body });
    return { local_run_id: localId };
  }

  /** Sends one request, or keeps it in the outbox. Never throws. */
  async deliver(request: Exclude<OutboxRequest, { op: 'create-run' }>): Promise<void> {
    if (this.offline || 'local_run_id' in request.run) {
      this.keep(request);
      return;
    }
    try {
      if (request.op === 'log-batch') await logBatch(this.client, request.run.run_id, request.body);
      else await updateRun(this.client, request.run.run_id, request.body);
    } catch (err) {
      if (err instanceof MlflowApiError && keepForLater(err)) {
        this.goOffline(err);
        this.keep(request);
      } else {
        log.warn(
          `tracking: the server refused ${request.op} for run ${request.run.run_id}: ${errorText(err)}; ` +
            `kept in ${join(this.options.root, REJECTED_FILE)}`,
        );
        this.keep(request, errorText(err));
      }
    }
  }

  /** Appends to the outbox, or with `refusal` to the rejected file; warns if neither can be written. */
  private keep(request: OutboxRequest, refusal?: string): void {
    const { root, uri } = this.options;
    try {
      const entry = outboxEntry(uri, request);
      if (refusal === undefined) appendToOutbox(root, entry);
      else appendRejected(root, entry, refusal);
    } catch (err) {
      log.warn(`tracking: could not write under ${root}: ${errorText(err)}; ${request.op} is lost`);
    }
  }

  private goOffline(err: MlflowApiError): void {
    if (this.offline) return;
    this.offline = true;
    log.warn(
      `tracking: MLflow server ${this.options.uri} is unavailable (${err.message}); ` +
        `run data is kept in ${outboxPath(this.options.root)}; send it later with \`recsys tracking sync\``,
    );
  }
}

/**
 * Buffers a run's data and sends it in runs/log-batch requests, one request at a time and in
 * order (a promise chain), when a batch is full, when `flushIntervalMs` has passed, on flush
 * and at the end.
 */
class RestRunSink implements RunSink {
  private buffer: LogBatchBody = emptyBatch();
  private queue: Promise<void> = Promise.resolve();
  private lastSend = Date.now();

  constructor(
    private readonly tracker: RestTracker,
    private readonly ref: RunRef,
    private readonly flushIntervalMs: number,
  ) {}

  metrics(points: MetricJson[]): void {
    for (const p of points) this.buffer.metrics.push(p);
    this.sendIfDue();
  }

  params(params: ParamJson[]): void {
    for (const p of params) this.buffer.params.push(p);
    this.sendIfDue();
  }

  tags(tags: TagJson[]): void {
    for (const t of tags) this.buffer.tags.push(t);
    this.sendIfDue();
  }

  flush(): Promise<void> {
    const batch = this.buffer;
    this.buffer = emptyBatch();
    this.lastSend = Date.now();
    if (batchSize(batch) > 0) {
      for (const part of splitLogBatch(batch)) {
        this.queue = this.queue.then(() => this.tracker.deliver({ op: 'log-batch', run: this.ref, body: part }));
      }
    }
    return this.queue;
  }

  async finish(status: RunEndStatus, endTime: number): Promise<void> {
    void this.flush();
    this.queue = this.queue.then(() => this.tracker.deliver({ op: 'update-run', run: this.ref, body: { status, end_time: endTime } }));
    await this.queue;
  }

  private sendIfDue(): void {
    const b = this.buffer;
    if (
      b.metrics.length >= MAX_METRICS_PER_BATCH ||
      b.params.length >= MAX_PARAMS_TAGS_PER_BATCH ||
      b.tags.length >= MAX_PARAMS_TAGS_PER_BATCH ||
      Date.now() - this.lastSend >= this.flushIntervalMs
    ) {
      void this.flush();
    }
  }
}
