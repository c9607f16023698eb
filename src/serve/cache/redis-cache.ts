import CircuitBreaker from 'opossum';
import { log } from '../../util/log.js';
import type { CachedAnswer, CacheOutcome, RecsCache } from '../types.js';
import { checkKeyPart, DEFAULT_PREFIX } from './protocol.js';
import { parseRedisUrl, reconnectingRedis, redactUrl } from './redis-client.js';
import { type CachedRecommendations, readCachedRecommendations } from './redis-read.js';

/**
 * A lookup's whole budget (two round trips). A hit on loopback takes well under 1 ms; the rest
 * is room for a busy event loop: its timers run before the reply waiting in the socket is read,
 * so a turn held up by a live 25M funnel call or a major GC counts as a Redis failure. At 50 ms
 * that opened the breaker under load (8 connections on the 25M ranker, docs/benchmarks.md
 * "Serving"), and the live answers that followed kept the loop busy: the cache turned itself off.
 */
export const DEFAULT_CACHE_TIMEOUT_MS = 250;
/** Failed lookups in a row after which Redis is not asked at all. */
export const DEFAULT_FAILURES_TO_OPEN = 3;
/** How long the breaker stays open before one lookup tries Redis again. */
export const DEFAULT_BREAKER_RESET_MS = 2000;

export interface RedisCacheOptions {
  /** redis://HOST:PORT[/DB] or rediss:// */
  readonly url: string;
  /** What is cached under the prefix: the recs artifact's name, e.g. `recs-ranker-temporal-user`. */
  readonly name: string;
  readonly prefix?: string;
  readonly timeoutMs?: number;
  readonly failuresToOpen?: number;
  readonly resetMs?: number;
  /** Called once per lookup with how it ended (the server's cache metrics). */
  readonly onOutcome?: (outcome: CacheOutcome) => void;
}

/**
 * The server's read path of the batch recommendations published by `recsys publish`
 * (docs/serving.md, "Reading from the server"). A lookup answers only a list computed by the
 * model version the server serves; anything else, a miss, a slow or unreachable Redis, gives
 * null and the server answers live. A lookup never waits longer than `timeoutMs`; after
 * `failuresToOpen` failed lookups in a row a circuit breaker stops asking Redis for `resetMs`,
 * then lets one lookup through: its success closes the breaker, its failure keeps it open. So an
 * outage costs at most a few timeouts, then nothing, and the cache comes back by itself. The
 * client reconnects in the background for as long as the cache is open; commands are never
 * queued while it is disconnected (they fail at once).
 *
 * Resolves once the first connection is made or has failed (a Redis that is down at start is
 * logged, not an error); throws an InputError only for a bad URL, prefix or name.
 */
export async function openRedisCache(opts: RedisCacheOptions): Promise<RecsCache> {
  const parsed = parseRedisUrl(opts.url);
  const where = redactUrl(parsed);
  const name = checkKeyPart('cache name', opts.name);
  const prefix = checkKeyPart('cache prefix', opts.prefix ?? DEFAULT_PREFIX);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CACHE_TIMEOUT_MS;
  const failuresToOpen = opts.failuresToOpen ?? DEFAULT_FAILURES_TO_OPEN;
  const resetMs = opts.resetMs ?? DEFAULT_BREAKER_RESET_MS;

  const { client, connected, whyDown } = reconnectingRedis(parsed, timeoutMs);
  if (!(await connected)) log.warn(`redis cache ${where}: not reachable (${whyDown()}); answering live until it is`);

  const breaker = new CircuitBreaker((userId: number) => readCachedRecommendations(client, name, userId, prefix), {
    timeout: timeoutMs,
    resetTimeout: resetMs,
    // Opened by the count of failures in a row below, not by a failure rate over a window.
    errorThresholdPercentage: 100,
    enableSnapshots: false,
    rollingPercentilesEnabled: false,
  });
  // On a lost connection a lookup fails at once with ioredis's "Stream isn't writeable" (before the
  // client has noticed, its status may still be ready); the connection's own error says why.
  const why = (err: Error): string => (client.status === 'ready' && client.stream?.writable ? err.message : `not connected: ${whyDown()}`);
  let failuresInARow = 0;
  breaker.on('success', () => {
    failuresInARow = 0;
  });
  breaker.on('failure', (err: Error) => {
    failuresInARow++;
    if (failuresInARow >= failuresToOpen && breaker.closed) {
      log.warn(
        `redis cache ${where}: ${failuresInARow} lookups failed in a row (${why(err)}); answering live, retrying every ${resetMs} ms`,
      );
      breaker.open();
    }
  });
  breaker.on('close', () => log.info(`redis cache ${where}: answering again`));

  const report = (outcome: CacheOutcome): null => {
    opts.onOutcome?.(outcome);
    return null;
  };
  return {
    async get(userId: number, modelVersion: string): Promise<CachedAnswer | null> {
      let found: CachedRecommendations | null;
      try {
        found = await breaker.fire(userId);
      } catch (err) {
        return report((err as { code?: string }).code === 'EOPENBREAKER' ? 'open' : 'error');
      }
      if (found === null) return report('miss');
      if (found.model?.version !== modelVersion) return report('stale');
      opts.onOutcome?.('hit');
      return { items: found.items, k: found.k, cacheVersion: found.version };
    },
    async close(): Promise<void> {
      breaker.shutdown();
      client.disconnect();
    },
  };
}
