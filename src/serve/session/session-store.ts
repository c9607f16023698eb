/**
 * Real-time session history (docs/serving.md, "Sessions"): each user's recent events, kept
 * in-process or in Redis, read at request time so that what a user just did changes their next
 * answer without waiting for the nightly retraining.
 */

/** One event of a session. */
export interface SessionEvent {
  readonly item_id: number;
  readonly type: string;
  /** When it happened, ms since the epoch (the event's own time). */
  readonly time: number;
}

/** Events whose items join the user's history at request time; other types (dismiss, rating, ...) are logged, not kept. */
export const SESSION_EVENT_TYPES: readonly string[] = ['view', 'click', 'purchase', 'add_to_cart'];
/** Events kept per user (the latest). */
export const DEFAULT_SESSION_SIZE = 50;
/** A session ends this long after its latest event. */
export const DEFAULT_SESSION_TTL_MS = 3_600_000;

export interface SessionStore {
  /** How long after its latest event a session ends, ms. */
  readonly ttlMs: number;
  /** Appends a user's events (oldest first), keeping the latest `size`; rejects when the store failed. */
  add(userId: number, events: readonly SessionEvent[]): Promise<void>;
  /** The user's session, oldest first (empty once it expired); rejects when the store failed. */
  recent(userId: number): Promise<SessionEvent[]>;
  close(): Promise<void>;
}

export interface SessionLimits {
  /** Events kept per user. */
  readonly size?: number;
  /** How long after its latest event a session ends, ms. */
  readonly ttlMs?: number;
}

/**
 * The raw item ids of a session as a history, oldest first: each item once, where it last
 * occurred (a re-click moves it to the end), with an expired session empty: its latest event
 * older than `ttlMs` by the clock `now`.
 */
export function sessionItems(events: readonly SessionEvent[], now: number, ttlMs: number): number[] {
  if (events.length === 0 || Math.max(...events.map((e) => e.time)) < now - ttlMs) return [];
  const last = new Map<number, number>();
  events.forEach((e, j) => last.set(e.item_id, j));
  return [...last.entries()].sort((a, b) => a[1] - b[1]).map(([item]) => item);
}
