import type { TopK } from '../matrix/topk.js';

/** Which part of the server produced an answer (docs/serving.md, "Answers"). */
export type AnswerPath = 'cache' | 'live' | 'fallback';

export interface AnsweredItem {
  readonly item_id: number;
  /** 1-based, best first. */
  readonly rank: number;
  readonly score: number;
  /** The ranker channel that produced the item, or the model's kind for single-source models. */
  readonly channel: string;
}

/**
 * The model's list for a request, best first, before the placement policy decides what is shown
 * (internal: the caches keep these, and `recommend --all-users` exports the same rows).
 */
export interface RankedAnswer {
  /** The raw user id asked for; null for a history request. */
  readonly user_id: number | null;
  /** The raw item id whose neighbours these are (similar-items requests only). */
  readonly item_id?: number;
  readonly items: AnsweredItem[];
  /** The artifact (name) and version that answered. */
  readonly model: string;
  readonly version: string;
  readonly path: AnswerPath;
  /** Which cache answered (path "cache"): the in-process LRU or the Redis cache of the batch export. */
  readonly cache?: 'lru' | 'redis';
  /** History items the model does not know, ignored. */
  readonly ignored_items?: number[];
  /** Channels skipped for this answer because they failed or ran out of time. */
  readonly skipped_channels?: string[];
  /** Why the fallback answered (unknown user, no known history item, the model failed). */
  readonly reason?: string;
  /** Items of the user's session that changed this answer (folded in, or excluded). */
  readonly session_items?: number;
}

/** One item as shown: where the policy placed it (`rank`), and how likely it was to be placed there. */
export interface ShownAnswerItem extends AnsweredItem {
  /** The placement's marginal probability (1 for the greedy policy): the exposure log keeps it for off-policy evaluation. */
  readonly propensity: number;
}

/** One answer of the library and of every `recsys serve` route (its JSON body). */
export interface Answer extends Omit<RankedAnswer, 'items'> {
  /** This answer's id: logged with its exposure; clients echo it in their events. */
  readonly request_id: string;
  readonly items: ShownAnswerItem[];
  /** The experiment and the user's variant in it, when an experiment is running. */
  readonly experiment?: string;
  readonly variant?: string;
  /** The placement policy that chose what was shown (`greedy` by default). */
  readonly policy: string;
}

/**
 * Top-k for a user known only by a history: ALS fold-in, or the two-tower user tower run in
 * onnxruntime with the item vectors searched in FAISS. Async because onnxruntime is.
 */
export interface HistoryRecommender {
  /** Reported as each item's channel. */
  readonly channel: string;
  /**
   * Top-k dense item indices (of the model's item map) for a user whose history is `items`
   * (dense indices, known items only, oldest first); history items are never returned; the list
   * is padded with -1 (score -Infinity) when fewer items remain.
   */
  recommend(items: Int32Array, k: number): Promise<TopK>;
  /** Releases native resources (an onnxruntime session, a FAISS index). */
  close(): Promise<void>;
}

/**
 * Top-k for a training user whose recent session events follow their training history: the
 * model folds both in (ALS: the least-squares solve over training + session items; the two-tower
 * model: its user tower over the user's latest training items + the session, the user's own
 * index kept).
 */
export interface SessionRecommender {
  /**
   * Top-k dense item indices for dense training user `user` whose training items are `trained`
   * and whose session adds `session` (dense, oldest first); neither is ever returned; padded
   * with -1 like `recommend`.
   */
  recommendWithSession(user: number, trained: Int32Array, session: Int32Array, k: number): Promise<TopK>;
}

/** How a cache lookup ended, for the cache metrics. */
export type CacheOutcome = 'hit' | 'miss' | 'stale' | 'error' | 'open';

/** One user's list as a batch export computed it, from a cache of batch recommendations. */
export interface CachedAnswer {
  readonly items: AnsweredItem[];
  /** The k of the batch export: a list shorter than that holds every item the model had for the user. */
  readonly k: number;
  /** The recs version in the cache (its pointer). */
  readonly cacheVersion: string;
}

/**
 * The batch recommendations cache the server reads first (`recsys serve --redis`). It never
 * throws and never waits long: a miss, a list computed by another model version than
 * `modelVersion`, a slow or unreachable cache all give null, and `onOutcome` says which.
 */
export interface RecsCache {
  get(userId: number, modelVersion: string): Promise<CachedAnswer | null>;
  close(): Promise<void>;
}
