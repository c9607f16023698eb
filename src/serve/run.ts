import { openLogSink } from '../events/open-sink.js';
import type { Experiment } from '../experiments/experiment.js';
import { openRedisCache } from './cache/redis-cache.js';
import { isClusterWorker, reportFailed, reportReady, runPrimary, workerMetrics } from './cluster.js';
import { ServeMetrics } from './metrics.js';
import type { ModelSource } from './model-holder.js';
import { buildServer } from './server.js';
import { RecommendationService, type ServiceOptions } from './service.js';
import { memorySessions } from './session/memory-sessions.js';
import { openRedisSessions } from './session/redis-sessions.js';
import type { SessionStore } from './session/session-store.js';
import { describeError, InputError } from '../util/errors.js';
import { log } from '../util/log.js';

export interface RunServerOptions {
  readonly port: number;
  readonly host: string;
  /** Processes answering on the port (node:cluster); 1 = this process alone. */
  readonly workers: number;
  readonly lruSize: number;
  readonly reloadIntervalMs: number;
  /** The Redis cache of the batch export, read first for known users. */
  readonly redis?: { readonly url: string; readonly name: string; readonly prefix?: string; readonly timeoutMs?: number };
  /** Where exposures and events are logged: a local log directory (each worker its own segments), a Redis stream, or both. */
  readonly log?: { readonly dir?: string; readonly redis?: { readonly url: string; readonly stream?: string } };
  /** Session history: events kept per user (0 = none), their lifetime, and Redis to share them (else in-process). */
  readonly sessions: { readonly size: number; readonly ttlMs: number; readonly redis?: string };
  readonly experiment?: Experiment;
  /** The placement policy's spelling (greedy, epsilon-greedy:EPS[:POOL], thompson:SLOT[:POOL]). */
  readonly policy: string;
  readonly seed: number;
  /** The service's parts the assembler builds from specs: a variant's model source, a policy from its spelling. */
  readonly parts: Pick<ServiceOptions, 'variantSource' | 'makePolicy'>;
}

/**
 * `recsys serve`: the service behind its HTTP routes until SIGINT or SIGTERM, when the requests
 * in flight finish and it resolves. With several workers this process is the cluster's primary
 * and each worker runs the same function as a single server.
 */
export async function runServer(source: ModelSource, opts: RunServerOptions): Promise<void> {
  if (opts.workers > 1 && !isClusterWorker()) {
    log.info(`starting ${opts.workers} workers on ${opts.host}:${opts.port}`);
    return runPrimary(opts.workers);
  }
  if (!isClusterWorker()) return serveHere(source, opts);
  try {
    await serveHere(source, opts);
  } catch (err) {
    // The primary prints the one line and exits with its code.
    const { message, exitCode } = describeError(err);
    reportFailed(message, exitCode);
    process.exit(exitCode);
  }
  // Stopped: the channel to the primary would keep a worker alive after its server closed.
  process.exit(0);
}

async function serveHere(source: ModelSource, opts: RunServerOptions): Promise<void> {
  const metrics = new ServeMetrics();
  const cache = opts.redis ? await openRedisCache({ ...opts.redis, onOutcome: (outcome) => metrics.cacheOutcome('redis', outcome) }) : null;
  const sessions = await openSessions(opts.sessions);
  const sink = opts.log ? openLogSink({ local: opts.log.dir ? { dir: opts.log.dir } : undefined, redis: opts.log.redis }) : undefined;
  try {
    let service: RecommendationService;
    try {
      service = RecommendationService.create(source, {
        cache,
        metrics,
        lruSize: opts.lruSize,
        reloadIntervalMs: opts.reloadIntervalMs,
        log: sink,
        sessions,
        experiment: opts.experiment,
        policy: opts.policy,
        seed: opts.seed,
        ...opts.parts,
      });
    } catch (err) {
      // Open clients would keep the process alive, reconnecting.
      await cache?.close();
      await sessions?.close();
      throw err;
    }
    await serveWith(service, source, opts);
  } finally {
    // Flushed by the service; closing writes the last segment's records out.
    await sink?.close();
  }
}

function openSessions(opts: RunServerOptions['sessions']): Promise<SessionStore> | undefined {
  if (opts.size === 0) return undefined;
  if (opts.redis !== undefined) return openRedisSessions({ url: opts.redis, size: opts.size, ttlMs: opts.ttlMs });
  return Promise.resolve(memorySessions({ size: opts.size, ttlMs: opts.ttlMs }));
}

async function serveWith(service: RecommendationService, source: ModelSource, opts: RunServerOptions): Promise<void> {
  const app = buildServer(service, { metricsText: isClusterWorker() ? workerMetrics(service.metrics.registry) : undefined });
  const who = isClusterWorker() ? `worker ${process.pid}: ` : '';
  // Alone, the server listens at once (/healthz answers, /readyz says it is loading). A cluster
  // worker loads first: the port is shared, so a worker listening early would take requests
  // from ready ones (after a worker is replaced) and answer them 503.
  const load = async (): Promise<void> => {
    try {
      const m = await service.start();
      log.info(`${who}ready: serving ${m.name} ${m.version} (${m.kind})`);
    } catch (err) {
      await app.close();
      await service.close();
      throw err;
    }
  };
  if (isClusterWorker()) await load();
  let address: string;
  try {
    address = await app.listen({ port: opts.port, host: opts.host });
  } catch (err) {
    // A Redis client left open would keep the process alive, reconnecting.
    await service.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL')
      throw new InputError(`--host ${opts.host} --port ${opts.port}: cannot listen there (${code})`);
    throw err;
  }
  log.info(`${who}listening on ${address}${isClusterWorker() ? '' : `; loading ${source.target}`}`);
  if (!isClusterWorker()) await load();
  reportReady();
  await new Promise<void>((resolve) => {
    const stop = (why: string): void => {
      log.info(`${who}${why}: finishing the requests in flight, then stopping`);
      void app
        .close()
        .then(() => service.close())
        .finally(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    // A worker whose primary is gone (kill -9) stops too.
    if (isClusterWorker()) process.once('disconnect', () => stop('primary gone'));
  });
}
