import { LRUCache } from 'lru-cache';
import { log } from '../util/log.js';
import { ServeMetrics } from './metrics.js';
import { ModelHolder, type ModelSource } from './model-holder.js';
import { checkIdList, checkK } from './request.js';
import { fallbackAnswer, historyAnswer, liveUserAnswer, similarAnswer, type LiveAnswer, type ServingModel } from './serving-model.js';
import type { Answer, RecsCache } from './types.js';

export interface ServiceOptions {
  /** The batch recommendations cache read first for known users (`--redis`); without it, an in-process LRU. */
  readonly cache?: RecsCache | null;
  /** Answers the in-process LRU keeps (0 = none); used only without `cache`. */
  readonly lruSize?: number;
  /** How often the source is checked for a new version, ms (0 = never). */
  readonly reloadIntervalMs?: number;
  /** Metrics to record into (the server's); default: a registry of its own. */
  readonly metrics?: ServeMetrics;
}

export const DEFAULT_LRU_SIZE = 10_000;
export const DEFAULT_RELOAD_INTERVAL_MS = 1000;

/**
 * The library entry point of serving (docs/serving.md): a model version loaded once, answering
 * known users (from a cache of the batch export, else live through the model, exactly as the
 * export computes it), users known by a history, and similar items; unknown users and model
 * failures get the popularity fallback, flagged. It follows the source's `latest` and switches
 * versions atomically. `recsys serve` is this behind HTTP routes.
 */
export class RecommendationService {
  readonly metrics: ServeMetrics;
  private readonly holder: ModelHolder;
  private readonly lru: LRUCache<string, Answer> | null;
  private readonly cache: RecsCache | null;

  private constructor(
    source: ModelSource,
    private readonly opts: ServiceOptions,
  ) {
    this.metrics = opts.metrics ?? new ServeMetrics();
    this.cache = opts.cache ?? null;
    const lruSize = opts.lruSize ?? DEFAULT_LRU_SIZE;
    this.lru = this.cache === null && lruSize > 0 ? new LRUCache({ max: lruSize }) : null;
    this.holder = new ModelHolder(source, {
      onReload: (result, model) => {
        this.metrics.reload(result);
        if (model) {
          this.metrics.serving(model);
          // Answers of the old version would never be asked for again: let it go at once.
          this.lru?.clear();
        }
      },
    });
  }

  /** Creates the service; `start` loads the first version. */
  static create(source: ModelSource, opts: ServiceOptions = {}): RecommendationService {
    return new RecommendationService(source, opts);
  }

  /** Loads the version the source names now and starts following it; throws when it cannot be loaded. */
  async start(): Promise<ServingModel> {
    const model = await this.holder.start();
    this.metrics.serving(model);
    const interval = this.opts.reloadIntervalMs ?? DEFAULT_RELOAD_INTERVAL_MS;
    if (interval > 0) this.holder.watch(interval);
    return model;
  }

  /** The version being served, or null before `start` succeeded. */
  get serving(): ServingModel | null {
    return this.holder.current;
  }

  /** Checks the source for a new version now (the watcher does this every interval). */
  reload(): Promise<void> {
    return this.holder.check();
  }

  /** Top k for a raw user id, without the `exclude`d raw item ids. */
  recommendUser(userId: number, k: number, exclude: readonly number[] = []): Promise<Answer> {
    checkK(k);
    const excluded = new Set(exclude);
    return this.holder.use(async (m) => {
      const user = m.model.users.indexOf(userId);
      if (user < 0) return fallbackAnswer(m, userId, k, excluded, 'unknown user');
      // The version in the key: a request that started on the old version may finish after a reload emptied the LRU.
      const key = `${m.version}|${userId}|${k}|${[...excluded].sort((a, b) => a - b).join(',')}`;
      const remembered = this.lru?.get(key);
      if (this.lru) this.metrics.cacheOutcome('lru', remembered ? 'hit' : 'miss');
      if (remembered) return { ...remembered, path: 'cache', cache: 'lru' };
      const cached = await this.fromCache(m, userId, k, excluded);
      if (cached) return cached;
      const answer = this.live(m, () => liveUserAnswer(m, userId, user, k, excluded), userId, k, excluded);
      if (answer.path === 'live') this.lru?.set(key, answer);
      return answer;
    });
  }

  /** Top k for a user known only by a history of raw item ids (oldest first); unknown ids are ignored and named. */
  recommendHistory(history: readonly number[], k: number): Promise<Answer> {
    checkK(k);
    checkIdList('history', history);
    return this.holder.use(async (m) => {
      try {
        const { answer, seconds } = await historyAnswer(m, history, k);
        this.metrics.observeStages(seconds);
        return answer;
      } catch (err) {
        return this.failed(m, err, null, k, new Set(history));
      }
    });
  }

  /** The k items most similar to a raw item id; popularity (flagged) for an item the model does not know. */
  similar(itemId: number, k: number): Promise<Answer> {
    checkK(k);
    return this.holder.use((m) => {
      const excluded = new Set([itemId]);
      const item = m.model.items.indexOf(itemId);
      if (item < 0) return { ...fallbackAnswer(m, null, k, excluded, 'unknown item'), item_id: itemId };
      return this.live(m, () => similarAnswer(m, itemId, item, k), null, k, excluded);
    });
  }

  async close(): Promise<void> {
    await this.holder.close();
    await this.cache?.close();
  }

  /** The batch export's list from the cache, when it holds one of the model version served. */
  private async fromCache(m: ServingModel, userId: number, k: number, excluded: ReadonlySet<number>): Promise<Answer | null> {
    if (this.cache === null) return null;
    const started = performance.now();
    const hit = await this.cache.get(userId, m.version);
    this.metrics.observeStages({ cache: (performance.now() - started) / 1000 });
    if (hit === null || k > hit.k) return null;
    const items = hit.items.filter((i) => !excluded.has(i.item_id)).slice(0, k);
    // Short of k after the exclusions, a full-length list cannot say what came next: ask the
    // model. A list the export left short is all the model had, and so is the answer.
    if (items.length < k && hit.items.length === hit.k) return null;
    return {
      user_id: userId,
      items: items.map((i, j) => ({ ...i, rank: j + 1 })),
      model: m.name,
      version: m.version,
      path: 'cache',
      cache: 'redis',
    };
  }

  /** A live answer with its stages recorded; the fallback, flagged, when the model fails. */
  private live(m: ServingModel, answer: () => LiveAnswer, userId: number | null, k: number, excluded: ReadonlySet<number>): Answer {
    let result: LiveAnswer;
    try {
      result = answer();
    } catch (err) {
      return this.failed(m, err, userId, k, excluded);
    }
    this.metrics.observeStages(result.seconds);
    if (result.answer.skipped_channels) this.metrics.error('channel_skipped', result.answer.skipped_channels.length);
    return result.answer;
  }

  private failed(m: ServingModel, err: unknown, userId: number | null, k: number, excluded: ReadonlySet<number>): Answer {
    const message = (err as Error).message;
    log.error(`serve: ${m.name} ${m.version} failed to answer, the fallback answers: ${message}`);
    log.event('serve.model_failed', { version: m.version, error: message });
    this.metrics.error('model_failed');
    return fallbackAnswer(m, userId, k, excluded, `the model failed: ${message}`);
  }
}
