/**
 * What the feedback loop records (docs/events.md): exposures (what an answer showed, where, and
 * how likely the serving policy was to put each item there) and user events (what users did).
 * Both go to a log (a LogSink) as JSON objects of exactly these shapes; everything downstream
 * (the events import, A/B reports, off-policy evaluation, position-bias estimation, the
 * simulator's checks) reads them back through the log reader.
 */

/** One item of an answer as it was shown. */
export interface ShownItem {
  readonly item_id: number;
  /** 1-based, as shown (top = 1). */
  readonly position: number;
  readonly score: number;
  /** The ranker channel, the model kind, `popularity` for the fallback, or the exploration pool that placed it. */
  readonly channel: string;
  /**
   * The probability with which the serving policy placed this item at this position for this
   * request (the marginal over the policy's randomisation; 1 for a deterministic policy).
   */
  readonly propensity: number;
}

/** Which kind of request an exposure answered. */
export type ExposureRoute = 'user' | 'history' | 'similar';

/** One answer as shown to a user. */
export interface ExposureRecord {
  readonly kind: 'exposure';
  /** Unique per answer; the client echoes it in its events (`request_id`) to attribute them exactly. */
  readonly request_id: string;
  /** When the answer was given, ms since the epoch. */
  readonly time: number;
  /** The raw user id; null when the request named no user (a history or similar-items request without one). */
  readonly user_id: number | null;
  readonly route: ExposureRoute;
  /** The artifact name and version that answered. */
  readonly model: string;
  readonly version: string;
  /** How the answer was produced: cache, live or fallback. */
  readonly path: string;
  /** The experiment the user is in and their variant; null outside any experiment. */
  readonly experiment: string | null;
  readonly variant: string | null;
  /** The placement policy, as written on the command line (`greedy`, `epsilon-greedy:0.1:candidates`, ...). */
  readonly policy: string;
  readonly items: readonly ShownItem[];
}

/** Event types that every consumer knows; any other lower-case word is accepted and logged. */
export const KNOWN_EVENT_TYPES = ['view', 'click', 'purchase', 'add_to_cart', 'rating', 'dismiss'] as const;

/** Event types counted as positive feedback unless a consumer is told otherwise. */
export const DEFAULT_POSITIVE_TYPES: readonly string[] = ['click', 'purchase'];

/** What a user did with an item. */
export interface UserEventRecord {
  readonly kind: 'event';
  readonly user_id: number;
  readonly item_id: number;
  /** view, click, purchase, ... (lower-case word). */
  readonly type: string;
  /** The exposure this event answers, when the client knows it. */
  readonly request_id: string | null;
  /** When it happened, ms since the epoch (the client's time if given, else the server's on arrival). */
  readonly time: number;
}

export type LogRecord = ExposureRecord | UserEventRecord;

/**
 * Where records go. `append` never throws and never waits (a log that is down or full degrades
 * logging, never answering: it counts what it dropped); `flush` resolves once everything
 * appended before it is durable in the sink; `close` flushes and releases the sink.
 */
export interface LogSink {
  append(record: LogRecord): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}
