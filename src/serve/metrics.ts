import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { LogSinkStats } from '../events/log-store.js';
import { KNOWN_EVENT_TYPES } from '../events/records.js';
import type { AnswerPath, CacheOutcome } from './types.js';
import type { ServingModel, StageSeconds } from './serving-model.js';

/** Sub-millisecond to seconds: cache hits take well under a millisecond, a cold funnel call a few hundred. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** The `path` label of a request: the answer's path, `none` for routes that give no recommendations, `error` for refused requests. */
export type RequestPath = AnswerPath | 'none' | 'error';

export type ErrorKind = 'bad_request' | 'model_failed' | 'channel_skipped' | 'reload_failed' | 'policy_failed' | 'internal';

/** How a session look-up ended: found events, found none, the store failed (answered without); or a write of events failed. */
export type SessionOutcome = 'hit' | 'empty' | 'error' | 'write_error';

/**
 * The server's Prometheus metrics (docs/serving.md, "Metrics"), in a registry of its own so
 * two servers in one process (tests) do not share counts. Names follow the Prometheus naming
 * conventions: base units (seconds), `_total` for counters.
 */
export class ServeMetrics {
  readonly registry = new Registry();
  private readonly requests: Histogram<'route' | 'path' | 'status'>;
  private readonly stages: Histogram<'stage'>;
  private readonly cache: Counter<'cache' | 'outcome'>;
  private readonly errors: Counter<'kind'>;
  private readonly reloads: Counter<'result'>;
  private readonly info: Gauge<'model' | 'version' | 'kind'>;
  private readonly logRecords: Counter<'kind'>;
  private readonly events: Counter<'type'>;
  private readonly sessions: Counter<'outcome'>;
  private served: ServingModel | null = null;
  /** Records the service dropped itself (a sink that threw); the sink's own drops are read from its stats. */
  private droppedHere = 0;
  private sinkStats: (() => Readonly<LogSinkStats>) | null = null;

  constructor() {
    const registers = [this.registry];
    this.requests = new Histogram({
      name: 'recsys_http_request_duration_seconds',
      help: 'Time to answer a request, by route, answering path (cache, live, fallback; none for other routes, error for refused requests) and status code',
      labelNames: ['route', 'path', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.stages = new Histogram({
      name: 'recsys_stage_duration_seconds',
      help: 'Time in each stage of a live answer: candidates, features, gbdt, rerank (the ranker), model (other models), history, similar, cache',
      labelNames: ['stage'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.cache = new Counter({
      name: 'recsys_cache_requests_total',
      help: 'Cache lookups by cache (lru, redis) and outcome (hit, miss, stale, error, open); hit ratio = hit / all',
      labelNames: ['cache', 'outcome'],
      registers,
    });
    this.errors = new Counter({
      name: 'recsys_errors_total',
      help: 'Errors by kind: bad_request (400s), model_failed (answered by the fallback), channel_skipped, reload_failed, policy_failed (the model list shown as it is), internal (500s)',
      labelNames: ['kind'],
      registers,
    });
    this.reloads = new Counter({
      name: 'recsys_model_reloads_total',
      help: 'Model version loads after the first, by result (ok, failed)',
      labelNames: ['result'],
      registers,
    });
    this.info = new Gauge({
      name: 'recsys_model_info',
      help: 'The model version being served (value 1)',
      labelNames: ['model', 'version', 'kind'],
      // Across cluster workers: 1 for each version some worker serves, not the number of workers.
      aggregator: 'max',
      registers,
    });
    this.logRecords = new Counter({
      name: 'recsys_log_records_total',
      help: 'Records handed to the exposure and event log, by kind (exposure, event)',
      labelNames: ['kind'],
      registers,
    });
    const metrics = this;
    // Read when scraped: the drops counted here and those the sink reports in its stats.
    new Counter({
      name: 'recsys_log_dropped_total',
      help: 'Records the log could not take (its queue full, its store down): lost to the log, never to the answer',
      registers,
      collect() {
        this.reset();
        this.inc(metrics.droppedHere + (metrics.sinkStats?.().dropped ?? 0));
      },
    });
    this.events = new Counter({
      name: 'recsys_events_total',
      help: 'User events accepted by POST /events, by type (the known types; any other word counts as other)',
      labelNames: ['type'],
      registers,
    });
    this.sessions = new Counter({
      name: 'recsys_session_requests_total',
      help: "Session history at request time, by outcome: hit, empty, error (answered without it); write_error (POST /events could not store a user's events)",
      labelNames: ['outcome'],
      registers,
    });
    new Gauge({
      name: 'recsys_model_age_seconds',
      help: 'Age of the served model version (since its artifact was created)',
      registers,
      aggregator: 'max',
      collect() {
        if (metrics.served) this.set((Date.now() - metrics.served.createdAt.getTime()) / 1000);
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'recsys_' });
  }

  observeRequest(route: string, path: RequestPath, status: number, seconds: number): void {
    this.requests.observe({ route, path, status: String(status) }, seconds);
  }

  observeStages(seconds: StageSeconds): void {
    for (const [stage, s] of Object.entries(seconds)) this.stages.observe({ stage }, s);
  }

  cacheOutcome(cache: 'lru' | 'redis', outcome: CacheOutcome): void {
    this.cache.inc({ cache, outcome });
  }

  error(kind: ErrorKind, n = 1): void {
    this.errors.inc({ kind }, n);
  }

  logRecord(kind: 'exposure' | 'event'): void {
    this.logRecords.inc({ kind });
  }

  logDropped(n = 1): void {
    this.droppedHere += n;
  }

  /** Counts the drops a sink reports in its stats too (the local store's full queue, a Redis stream that is down). */
  countDropsOf(stats: () => Readonly<LogSinkStats>): void {
    this.sinkStats = stats;
  }

  event(type: string): void {
    // Clients choose the type: a label per word they send would grow without bound.
    this.events.inc({ type: (KNOWN_EVENT_TYPES as readonly string[]).includes(type) ? type : 'other' });
  }

  session(outcome: SessionOutcome): void {
    this.sessions.inc({ outcome });
  }

  reload(result: 'ok' | 'failed'): void {
    this.reloads.inc({ result });
    if (result === 'failed') this.error('reload_failed');
  }

  serving(model: ServingModel): void {
    this.info.reset();
    this.info.set({ model: model.name, version: model.version, kind: model.kind }, 1);
    this.served = model;
  }
}
