import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { ExposureRecord, ExposureRoute, LogRecord, LogSink, UserEventRecord } from '../events/records.js';
import { greedyPolicy, type Policy } from '../explore/policy.js';
import { sha256 } from '../util/hash.js';
import { log } from '../util/log.js';
import { Rng } from '../util/rng.js';
import { ServeMetrics } from './metrics.js';
import { ModelHolder, type ModelSource } from './model-holder.js';
import { BadRequest, checkIdList, checkK, type EventInput, parseEventsBody, REQUEST_ID } from './request.js';
import {
  fallbackAnswer,
  historyAnswer,
  type LiveAnswer,
  liveUserAnswer,
  type ServingModel,
  sessionUserAnswer,
  similarAnswer,
} from './serving-model.js';
import { SESSION_EVENT_TYPES, type SessionEvent, type SessionStore, sessionItems } from './session/session-store.js';
import type { Answer, RankedAnswer, RecsCache } from './types.js';

export interface ServiceOptions {
  /** The batch recommendations cache read first for known users (`--redis`); without it, an in-process LRU. */
  readonly cache?: RecsCache | null;
  /** Answers the in-process LRU keeps (0 = none); used only without `cache`. */
  readonly lruSize?: number;
  /** How often the source is checked for a new version, ms (0 = never). */
  readonly reloadIntervalMs?: number;
  /** Metrics to record into (the server's); default: a registry of its own. */
  readonly metrics?: ServeMetrics;
  /** Where every answer (an exposure) and every user event is logged (docs/events.md); default: nowhere. */
  readonly log?: LogSink;
  /** The clock stamping exposures and events, ms since the epoch (the simulator runs simulated days); default Date.now. */
  readonly now?: () => number;
  /** Decides what is shown from the model's list, and with what propensity (docs/exploration.md); default greedy. */
  readonly policy?: Policy;
  /** Seeds each request's placement draws together with its request id: the same seed and id place the same items. */
  readonly seed?: number;
  /** Users' recent events, folded in at request time (docs/serving.md, "Sessions"); default: none kept. */
  readonly sessions?: SessionStore;
}

/** Per request: the id its exposure is logged under (else a new UUID). */
export interface RequestOptions {
  readonly requestId?: string;
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
  private readonly lru: LRUCache<string, RankedAnswer> | null;
  private readonly cache: RecsCache | null;
  private readonly sink: LogSink | null;
  private readonly now: () => number;
  private readonly policy: Policy;
  private readonly seed: number;
  private readonly sessions: SessionStore | null;

  private constructor(
    source: ModelSource,
    private readonly opts: ServiceOptions,
  ) {
    this.metrics = opts.metrics ?? new ServeMetrics();
    this.cache = opts.cache ?? null;
    this.sink = opts.log ?? null;
    this.now = opts.now ?? Date.now;
    this.policy = opts.policy ?? greedyPolicy;
    this.seed = opts.seed ?? 0;
    this.sessions = opts.sessions ?? null;
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
  async recommendUser(userId: number, k: number, exclude: readonly number[] = [], req: RequestOptions = {}): Promise<Answer> {
    checkK(k);
    const requestId = this.requestId(req);
    const excluded = new Set(exclude);
    const depth = this.policy.depth(k);
    const session = await this.sessionOf(userId);
    const ranked = await this.holder.use(async (m) => {
      const user = m.model.users.indexOf(userId);
      if (user < 0) return fallbackAnswer(m, userId, depth, new Set([...excluded, ...session]), 'unknown user');
      // A session changes the answer: the caches, which hold answers without one, are not asked.
      const withSession = session.length > 0 ? await this.withSession(m, userId, user, session, depth, excluded) : null;
      if (withSession) return withSession;
      // The version in the key: a request that started on the old version may finish after a reload emptied the LRU.
      const key = `${m.version}|${userId}|${depth}|${[...excluded].sort((a, b) => a - b).join(',')}`;
      const remembered = this.lru?.get(key);
      if (this.lru) this.metrics.cacheOutcome('lru', remembered ? 'hit' : 'miss');
      if (remembered) return { ...remembered, path: 'cache' as const, cache: 'lru' as const };
      const cached = await this.fromCache(m, userId, depth, excluded);
      if (cached) return cached;
      const answer = this.live(m, () => liveUserAnswer(m, userId, user, depth, excluded), userId, depth, excluded);
      if (answer.path === 'live') this.lru?.set(key, answer);
      return answer;
    });
    return this.show(ranked, k, requestId, 'user');
  }

  /** Top k for a user known only by a history of raw item ids (oldest first); unknown ids are ignored and named. */
  async recommendHistory(history: readonly number[], k: number, req: RequestOptions = {}): Promise<Answer> {
    checkK(k);
    checkIdList('history', history);
    const requestId = this.requestId(req);
    const depth = this.policy.depth(k);
    const ranked = await this.holder.use(async (m) => {
      try {
        const { answer, seconds } = await historyAnswer(m, history, depth);
        this.metrics.observeStages(seconds);
        return answer;
      } catch (err) {
        return this.failed(m, err, null, depth, new Set(history));
      }
    });
    return this.show(ranked, k, requestId, 'history');
  }

  /** The k items most similar to a raw item id; popularity (flagged) for an item the model does not know. */
  async similar(itemId: number, k: number, req: RequestOptions = {}): Promise<Answer> {
    checkK(k);
    const requestId = this.requestId(req);
    const depth = this.policy.depth(k);
    const ranked = await this.holder.use((m) => {
      const excluded = new Set([itemId]);
      const item = m.model.items.indexOf(itemId);
      if (item < 0) return { ...fallbackAnswer(m, null, depth, excluded, 'unknown item'), item_id: itemId };
      return this.live(m, () => similarAnswer(m, itemId, item, depth), null, depth, excluded);
    });
    return this.show(ranked, k, requestId, 'similar');
  }

  /**
   * Records user events: one `{user, item, type, request_id?, time?}` or `{events: [...]}`
   * (docs/serving.md, "Events"). Every event is checked before any is kept (BadRequest naming
   * the field); then each is logged and shown to the placement policy. Resolves to how many.
   */
  async recordEvents(input: EventInput | { readonly events: readonly EventInput[] }): Promise<number> {
    const events = parseEventsBody(input, this.now());
    const sessions = new Map<number, SessionEvent[]>();
    for (const event of events) {
      this.metrics.event(event.type);
      this.append(event);
      this.observe(event);
      if (SESSION_EVENT_TYPES.includes(event.type)) {
        const kept = sessions.get(event.user_id) ?? [];
        kept.push({ item_id: event.item_id, type: event.type, time: event.time });
        sessions.set(event.user_id, kept);
      }
    }
    // Stored before the answer, so the user's next request sees them.
    await Promise.all([...sessions].map(([userId, kept]) => this.remember(userId, kept)));
    return events.length;
  }

  async close(): Promise<void> {
    await this.holder.close();
    await this.cache?.close();
  }

  /** The user's session as raw item ids, oldest first; empty without a store, or when it fails (counted). */
  private async sessionOf(userId: number): Promise<number[]> {
    if (this.sessions === null) return [];
    try {
      const items = sessionItems(await this.sessions.recent(userId), this.now(), this.sessions.ttlMs);
      this.metrics.session(items.length > 0 ? 'hit' : 'empty');
      return items;
    } catch (err) {
      this.metrics.session('error');
      log.event('serve.session_failed', { op: 'read', error: (err as Error).message });
      return [];
    }
  }

  private async remember(userId: number, events: readonly SessionEvent[]): Promise<void> {
    if (this.sessions === null) return;
    try {
      await this.sessions.add(userId, events);
    } catch (err) {
      this.metrics.session('write_error');
      log.event('serve.session_failed', { op: 'write', error: (err as Error).message });
    }
  }

  /** The answer with the user's session folded in (null: no session item known to the model); the fallback when the model fails. */
  private async withSession(
    m: ServingModel,
    userId: number,
    user: number,
    session: readonly number[],
    k: number,
    excluded: ReadonlySet<number>,
  ): Promise<RankedAnswer | null> {
    try {
      const result = await sessionUserAnswer(m, userId, user, session, k, excluded);
      if (result) this.metrics.observeStages(result.seconds);
      return result?.answer ?? null;
    } catch (err) {
      return this.failed(m, err, userId, k, new Set([...excluded, ...session]));
    }
  }

  /** The client's request id when it gave one, else a new UUID. */
  private requestId(req: RequestOptions): string {
    if (req.requestId === undefined) return randomUUID();
    if (!REQUEST_ID.test(req.requestId)) throw new BadRequest('request_id', 'expected a token of letters, digits and . _ : - (1 to 100)');
    return req.requestId;
  }

  /**
   * What is shown: the policy places k items from the model's list, drawing from a stream
   * seeded by the server's seed and the request id (so a logged request can be replayed), and
   * the answer is logged as an exposure. A policy that throws is logged and the model's list
   * is shown as it is (greedy): exploring is never worth a failed answer.
   */
  private show(ranked: RankedAnswer, k: number, requestId: string, route: ExposureRoute): Answer {
    let policy = this.policy;
    const list = ranked.items.map(({ item_id, score, channel }) => ({ item_id, score, channel }));
    let placed: ReturnType<Policy['place']>;
    try {
      const random = new Rng(Number.parseInt(sha256(`${this.seed}:${requestId}`).slice(0, 8), 16));
      placed = policy.place(list, { k, userId: ranked.user_id, random: () => random.next() });
    } catch (err) {
      log.error(`serve: the ${policy.name} policy failed, the model's list is shown as it is: ${(err as Error).message}`);
      this.metrics.error('policy_failed');
      policy = greedyPolicy;
      placed = greedyPolicy.place(list, { k, userId: ranked.user_id, random: Math.random });
    }
    const answer: Answer = {
      ...ranked,
      request_id: requestId,
      policy: policy.name,
      items: placed.map((p, j) => ({ item_id: p.item_id, rank: j + 1, score: p.score, channel: p.channel, propensity: p.propensity })),
    };
    this.logExposure(answer, route);
    return answer;
  }

  private logExposure(answer: Answer, route: ExposureRoute): void {
    if (this.sink === null) return;
    const exposure: ExposureRecord = {
      kind: 'exposure',
      request_id: answer.request_id,
      time: this.now(),
      user_id: answer.user_id,
      route,
      model: answer.model,
      version: answer.version,
      path: answer.path,
      experiment: answer.experiment ?? null,
      variant: answer.variant ?? null,
      policy: answer.policy,
      items: answer.items.map((i) => ({
        item_id: i.item_id,
        position: i.rank,
        score: i.score,
        channel: i.channel,
        propensity: i.propensity,
      })),
    };
    this.append(exposure);
  }

  /** A sink never throws by contract; one that does anyway costs the record, never the answer. */
  private append(record: LogRecord): void {
    if (this.sink === null) return;
    try {
      this.sink.append(record);
      this.metrics.logRecord(record.kind);
    } catch (err) {
      this.metrics.logDropped();
      log.event('serve.log_failed', { error: (err as Error).message });
    }
  }

  /** The policy learns from the event (Thompson sampling); a policy that throws costs its learning, never the event. */
  private observe(event: UserEventRecord): void {
    try {
      this.policy.observe?.(event);
    } catch (err) {
      this.metrics.error('policy_failed');
      log.event('serve.policy_failed', { error: (err as Error).message });
    }
  }

  /** The batch export's list from the cache, when it holds one of the model version served. */
  private async fromCache(m: ServingModel, userId: number, k: number, excluded: ReadonlySet<number>): Promise<RankedAnswer | null> {
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
  private live(m: ServingModel, answer: () => LiveAnswer, userId: number | null, k: number, excluded: ReadonlySet<number>): RankedAnswer {
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

  private failed(m: ServingModel, err: unknown, userId: number | null, k: number, excluded: ReadonlySet<number>): RankedAnswer {
    const message = (err as Error).message;
    log.error(`serve: ${m.name} ${m.version} failed to answer, the fallback answers: ${message}`);
    log.event('serve.model_failed', { version: m.version, error: message });
    this.metrics.error('model_failed');
    return fallbackAnswer(m, userId, k, excluded, `the model failed: ${message}`);
  }
}
