import { Command } from 'commander';
import { DEFAULT_STREAM } from '../../events/redis-stream-sink.js';
import { loadExperiment } from '../../experiments/experiment.js';
import { POLICY_SPELLINGS } from '../../explore/parse.js';
import { servingPolicy, servingSource } from '../../pipeline/serving.js';
import { parseRedisUrl } from '../../serve/cache/redis-client.js';
import { DEFAULT_CACHE_TIMEOUT_MS } from '../../serve/cache/redis-cache.js';
import { runServer } from '../../serve/run.js';
import { DEFAULT_LRU_SIZE, DEFAULT_RELOAD_INTERVAL_MS } from '../../serve/service.js';
import { DEFAULT_SESSION_SIZE, DEFAULT_SESSION_TTL_MS } from '../../serve/session/session-store.js';
import { InputError } from '../../util/errors.js';
import { setLogFile } from '../../util/log.js';
import { intOption } from '../options.js';

interface ServeOptions {
  model?: string;
  pipeline?: string;
  port: number;
  host: string;
  redis?: string;
  redisPrefix?: string;
  redisName?: string;
  redisTimeoutMs: number;
  workers: number;
  lruSize: number;
  reloadIntervalMs: number;
  log?: string;
  logDir?: string;
  logRedis?: string;
  logStream: string;
  sessionRedis?: string;
  sessionSize: number;
  sessionTtlS: number;
  experiment?: string;
  policy: string;
  seed: number;
}

/** `recsys serve`: the artifacts answering HTTP requests until SIGINT or SIGTERM (docs/serving.md). */
export function serveCommand(): Command {
  return new Command('serve')
    .description('answer recommendation requests over HTTP from a model artifact, following its latest version')
    .option('--model <artifact>', 'model artifact to serve, e.g. artifacts/ranker-temporal-user (follows its latest)')
    .option('--pipeline <file>', "serve the model of the pipeline file's last recommend step (its latest artifact)")
    .option('--port <n>', 'port (0 = any free port)', intOption('--port', 0), 8080)
    .option('--host <addr>', 'address to bind (loopback unless you say otherwise)', '127.0.0.1')
    .option('--redis <url>', 'answer known users from the Redis cache of the batch recommendations first (recsys publish)')
    .option('--redis-prefix <p>', 'key prefix the recommendations were published under (default: recsys)')
    .option('--redis-name <n>', "name they were published under (default: recs-<the model artifact's name>)")
    .option(
      '--redis-timeout-ms <n>',
      'how long a Redis lookup may take before the live path answers',
      intOption('--redis-timeout-ms', 1),
      DEFAULT_CACHE_TIMEOUT_MS,
    )
    .option(
      '--workers <n>',
      'processes answering on the port, each with the model loaded (node:cluster; memory × n)',
      intOption('--workers', 1),
      1,
    )
    .option('--lru-size <n>', 'answers kept in the in-process cache (0 = none)', intOption('--lru-size', 0), DEFAULT_LRU_SIZE)
    .option(
      '--reload-interval-ms <n>',
      'how often latest is checked for a new version (0 = never)',
      intOption('--reload-interval-ms', 0),
      DEFAULT_RELOAD_INTERVAL_MS,
    )
    .option('--log <file>', 'structured events (JSON lines) to this file')
    .option('--log-dir <dir>', 'log every answer (exposure) and user event into this local log directory (docs/events.md)')
    .option('--log-redis <url>', 'log exposures and events to a Redis stream too (several servers, one log)')
    .option('--log-stream <key>', 'the Redis stream key of --log-redis', DEFAULT_STREAM)
    .option('--session-redis <url>', "keep users' session history in Redis, shared by every worker and server (default: in-process)")
    .option(
      '--session-size <n>',
      'events kept per user for the session history (0 = none)',
      intOption('--session-size', 0),
      DEFAULT_SESSION_SIZE,
    )
    .option(
      '--session-ttl-s <n>',
      'a session ends this many seconds after its latest event',
      intOption('--session-ttl-s', 1),
      DEFAULT_SESSION_TTL_MS / 1000,
    )
    .option('--experiment <file>', 'an A/B test (YAML or JSON, docs/experiments.md): each user served by their variant')
    .option('--policy <spec>', `what is shown from the model's list: ${POLICY_SPELLINGS}`, 'greedy')
    .option('--seed <n>', "seeds the policy's draws (with each request id)", intOption('--seed'), 1)
    .action(async (o: ServeOptions) => {
      if ((o.model === undefined) === (o.pipeline === undefined))
        throw new InputError('serve needs exactly one of --model ARTIFACT and --pipeline FILE');
      if (o.port > 65535) throw new InputError(`--port ${o.port}: ports go up to 65535`);
      if (o.log) setLogFile(o.log);
      if (o.logRedis !== undefined) parseRedisUrl(o.logRedis, '--log-redis');
      if (o.sessionRedis !== undefined) parseRedisUrl(o.sessionRedis, '--session-redis');
      const experiment = o.experiment === undefined ? undefined : loadExperiment(o.experiment);
      const source = servingSource(o.model !== undefined ? { model: o.model } : { pipeline: o.pipeline as string });
      await runServer(source, {
        port: o.port,
        host: o.host,
        workers: o.workers,
        lruSize: o.lruSize,
        reloadIntervalMs: o.reloadIntervalMs,
        log:
          o.logDir === undefined && o.logRedis === undefined
            ? undefined
            : { dir: o.logDir, redis: o.logRedis === undefined ? undefined : { url: o.logRedis, stream: o.logStream } },
        sessions: { size: o.sessionSize, ttlMs: o.sessionTtlS * 1000, redis: o.sessionRedis },
        experiment,
        policy: o.policy,
        seed: o.seed,
        // A variant's model is an artifact path like --model's.
        parts: { variantSource: (model) => servingSource({ model }), makePolicy: servingPolicy },
        redis:
          o.redis === undefined
            ? undefined
            : { url: o.redis, name: o.redisName ?? source.cacheName, prefix: o.redisPrefix, timeoutMs: o.redisTimeoutMs },
      });
    });
}
