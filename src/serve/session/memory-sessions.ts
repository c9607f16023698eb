import { LRUCache } from 'lru-cache';
import { DEFAULT_SESSION_SIZE, DEFAULT_SESSION_TTL_MS, type SessionEvent, type SessionLimits, type SessionStore } from './session-store.js';

/** Users whose sessions one process keeps; the least recently active go first beyond it. */
export const DEFAULT_SESSION_USERS = 100_000;

export interface MemorySessionOptions extends SessionLimits {
  /** Users kept at most. */
  readonly users?: number;
  /** The service's clock, ms (sessions of simulated days expire in simulated time). */
  readonly now?: () => number;
}

/**
 * Sessions in this process (lru-cache): per user the latest `size` events, dropped `ttlMs`
 * after the user's latest event by the service's clock. Each process (cluster worker) has its
 * own: with several workers or servers, keep sessions in Redis.
 */
export function memorySessions(opts: MemorySessionOptions = {}): SessionStore {
  const size = opts.size ?? DEFAULT_SESSION_SIZE;
  const now = opts.now ?? Date.now;
  const ttlMs = opts.ttlMs ?? DEFAULT_SESSION_TTL_MS;
  const cache = new LRUCache<number, SessionEvent[]>({
    max: opts.users ?? DEFAULT_SESSION_USERS,
    ttl: ttlMs,
    perf: { now },
    // The clock may be simulated: read it on every check rather than once per millisecond.
    ttlResolution: 0,
  });
  return {
    ttlMs,
    async add(userId, events) {
      const kept = [...(cache.get(userId) ?? []), ...events].slice(-size);
      cache.set(userId, kept);
    },
    async recent(userId) {
      return [...(cache.get(userId) ?? [])];
    },
    async close() {
      cache.clear();
    },
  };
}
