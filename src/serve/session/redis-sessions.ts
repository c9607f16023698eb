import { checkKeyPart, DEFAULT_PREFIX } from '../cache/protocol.js';
import { parseRedisUrl, reconnectingRedis, redactUrl } from '../cache/redis-client.js';
import { log } from '../../util/log.js';
import { DEFAULT_SESSION_SIZE, DEFAULT_SESSION_TTL_MS, type SessionEvent, type SessionLimits, type SessionStore } from './session-store.js';

/**
 * A session read or write's budget. It sits on the request path, but like the cache's
 * (DEFAULT_CACHE_TIMEOUT_MS) it must leave room for a busy event loop: a reply read only after
 * the timer fired counts as a failure, and at 50 ms a loaded machine lost sessions of a healthy Redis.
 */
export const DEFAULT_SESSION_TIMEOUT_MS = 250;

export interface RedisSessionOptions extends SessionLimits {
  /** redis://HOST:PORT[/DB] or rediss:// */
  readonly url: string;
  /** Keys are `<prefix>:session:<user id>`. */
  readonly prefix?: string;
  readonly timeoutMs?: number;
}

/**
 * Sessions in Redis, shared by every worker and server: a list per user, newest first, written
 * in one MULTI (LPUSH the events, LTRIM to the latest `size`, PEXPIRE `ttlMs`) and read with
 * LRANGE. Every command gives up after `timeoutMs` and none is queued while Redis is away, so
 * a Redis that is down costs the session (the request is answered without it), never the
 * answer. Resolves once the first connection is made or has failed (one warning line).
 */
export async function openRedisSessions(opts: RedisSessionOptions): Promise<SessionStore> {
  const parsed = parseRedisUrl(opts.url, '--session-redis');
  const prefix = checkKeyPart('session prefix', opts.prefix ?? DEFAULT_PREFIX);
  const size = opts.size ?? DEFAULT_SESSION_SIZE;
  const ttlMs = opts.ttlMs ?? DEFAULT_SESSION_TTL_MS;
  const { client, connected, whyDown } = reconnectingRedis(parsed, opts.timeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS);
  if (!(await connected))
    log.warn(`redis sessions ${redactUrl(parsed)}: not reachable (${whyDown()}); answering without sessions until it is`);
  const key = (userId: number): string => `${prefix}:session:${userId}`;
  return {
    ttlMs,
    async add(userId, events) {
      if (events.length === 0) return;
      const values = events.map((e) => JSON.stringify([e.item_id, e.type, e.time]));
      const replies = await client
        .multi()
        .lpush(key(userId), ...values)
        .ltrim(key(userId), 0, size - 1)
        .pexpire(key(userId), ttlMs)
        .exec();
      const failed = replies?.find(([err]) => err !== null);
      if (replies === null || failed) throw failed?.[0] ?? new Error('the session transaction was discarded');
    },
    async recent(userId) {
      const values = await client.lrange(key(userId), 0, size - 1);
      return values.reverse().map((v): SessionEvent => {
        const [item_id, type, time] = JSON.parse(v) as [number, string, number];
        return { item_id, type, time };
      });
    },
    async close() {
      client.disconnect();
    },
  };
}
