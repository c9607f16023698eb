import { Command } from 'commander';
import { servingSource } from '../../pipeline/serving.js';
import { DEFAULT_CACHE_TIMEOUT_MS } from '../../serve/cache/redis-cache.js';
import { runServer } from '../../serve/run.js';
import { DEFAULT_LRU_SIZE, DEFAULT_RELOAD_INTERVAL_MS } from '../../serve/service.js';
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
    .action(async (o: ServeOptions) => {
      if ((o.model === undefined) === (o.pipeline === undefined))
        throw new InputError('serve needs exactly one of --model ARTIFACT and --pipeline FILE');
      if (o.port > 65535) throw new InputError(`--port ${o.port}: ports go up to 65535`);
      if (o.log) setLogFile(o.log);
      const source = servingSource(o.model !== undefined ? { model: o.model } : { pipeline: o.pipeline as string });
      await runServer(source, {
        port: o.port,
        host: o.host,
        workers: o.workers,
        lruSize: o.lruSize,
        reloadIntervalMs: o.reloadIntervalMs,
        redis:
          o.redis === undefined
            ? undefined
            : { url: o.redis, name: o.redisName ?? source.cacheName, prefix: o.redisPrefix, timeoutMs: o.redisTimeoutMs },
      });
    });
}
