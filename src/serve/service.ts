import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { CountingLogSink } from '../events/log-store.js';
import type { ExposureRecord, ExposureRoute, LogRecord, LogSink, UserEventRecord } from '../events/records.js';
import { assignVariant, controlOf, type Experiment } from '../experiments/experiment.js';
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
  /**
   * Where every answer (an exposure) and every user event is logged (docs/events.md); default:
   * nowhere. Its `stats.dropped`, when it counts, is exported; `close` flushes it (its owner closes it).
   */
  readonly log?: LogSink;
  /** The clock stamping exposures and events, ms since the epoch (the simulator runs simulated days); default Date.now. */
  readonly now?: () => number;
  /**
   * Decides what is shown from the model's list, and with what propensity (docs/exploration.md):
   * a Policy, or its spelling (built by `makePolicy`); default greedy.
   */
  readonly policy?: Policy | string;
  /**
   * Builds the policy a spelling names (`--policy`, a variant's `policy`) for the model that
   * serves it, once its first version is loaded (its item pools); default: `greedy` only.
   */
  readonly makePolicy?: (spec: string, model: ServingModel) => Policy;
  /** An A/B test: each user is served by their variant's model and policy while it runs (docs/serving.md, "Experiments"). */
  readonly experiment?: Experiment;
  /** The source of a variant's `model` (an artifact path); required when a variant names one. */
  readonly variantSource?: (model: string) => ModelSource;
  /** Seeds each request's placement draws together with its request id: the same seed and id place the same items. */
  readonly seed?: number;
  /** Users' recent events, folded in at request time (docs/serving.md, "Sessions"); default: none kept. */
  readonly sessions?: SessionStore;
}

/** Who answers a request: a model (its holder) and a policy, and the experiment's variant they serve. */
interface Arm {
  readonly holder: ModelHolder;
  readonly policy: Policy;
  readonly experiment: string | null;
  readonly variant: string | null;
}

/** The arms of a started service: its own (no experiment running), each variant's, and the control's for requests without a user. */
interface Arms {
  readonly own: Arm;
  readonly variants: ReadonlyMap<string, Arm>;
  readonly anonymous: Arm;
  /** When the experiment runs, ms since the epoch (end: Infinity while open), parsed once rather than per request. */
  readonly runs: { readonly start: number; readonly end: number };
}

/** The model's list for a request, and the items its user must never be shown (what a policy's pools are filtered with). */
interface Ranked {
  readonly answer: RankedAnswer;
  readonly exclude: (itemId: number) => boolean;
}

/** Whether a raw item id is among dense user `user`'s training items (the seen filter), the set built on first use. */
function seenBy(m: ServingModel, user: number): (itemId: number) => boolean {
  let row: Set<number> | null = null;
  return (itemId) => {
    const item = m.model.items.indexOf(itemId);
    if (item < 0) return false;
    row ??= new Set(m.seen.indices.subarray(m.seen.indptr[user], m.seen.indptr[user + 1]));
    return row.has(item);
  };
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
  /** The server's own model; the Redis cache holds its export. */
  private readonly holder: ModelHolder;
  /** One per distinct variant model, by the artifact path the experiment names. */
  private readonly variantHolders = new Map<string, ModelHolder>();
  private arms: Arms | null = null;
  private readonly lru: LRUCache<string, RankedAnswer> | null;
  private readonly cache: RecsCache | null;
  private readonly sink: LogSink | null;
  private readonly now: () => number;
  private readonly seed: number;
  private readonly sessions: SessionStore | null;

  private constructor(
    source: ModelSource,
    private readonly opts: ServiceOptions,
  ) {
    this.metrics = opts.metrics ?? new ServeMetrics();
    this.cache = opts.cache ?? null;
    this.sink = opts.log ?? null;
    const counting = this.sink as Partial<CountingLogSink> | null;
    if (counting?.stats !== undefined) this.metrics.countDropsOf(() => (counting as CountingLogSink).stats);
    this.now = opts.now ?? Date.now;
    this.seed = opts.seed ?? 0;
    this.sessions = opts.sessions ?? null;
    const lruSize = opts.lruSize ?? DEFAULT_LRU_SIZE;
    this.lru = this.cache === null && lruSize > 0 ? new LRUCache({ max: lruSize }) : null;
    const events = (main: boolean) => ({
      onReload: (result: 'ok' | 'failed', model: ServingModel | null) => {
        this.metrics.reload(result);
        if (model) {
          if (main) this.metrics.serving(model);
          // Answers of the old version would never be asked for again: let it go at once.
          this.lru?.clear();
        }
      },
    });
    this.holder = new ModelHolder(source, events(true));
    for (const v of opts.experiment?.variants ?? []) {
      if (v.model === undefined || this.variantHolders.has(v.model)) continue;
      if (!opts.variantSource)
        throw new Error(`experiment ${opts.experiment?.id}: variant ${v.name} names a model, and no variantSource was given`);
      this.variantHolders.set(v.model, new ModelHolder(opts.variantSource(v.model), events(false)));
    }
  }

  /** Creates the service; `start` loads the first version. */
  static create(source: ModelSource, opts: ServiceOptions = {}): RecommendationService {
    return new RecommendationService(source, opts);
  }

  /**
   * Loads the version the source names now (and each variant's model), builds the policies, and
   * starts following the sources; throws when a model cannot be loaded or a policy is wrong.
   */
  async start(): Promise<ServingModel> {
    const [model] = await Promise.all([this.holder.start(), ...[...this.variantHolders.values()].map((h) => h.start())]);
    this.metrics.serving(model);
    this.arms = this.buildArms(model);
    const interval = this.opts.reloadIntervalMs ?? DEFAULT_RELOAD_INTERVAL_MS;
    if (interval > 0) for (const h of [this.holder, ...this.variantHolders.values()]) h.watch(interval);
    return model;
  }

  /** The server's own model version, or null before `start` succeeded. */
  get serving(): ServingModel | null {
    return this.arms === null ? null : this.holder.current;
  }

  private buildArms(model: ServingModel): Arms {
    const policyOf = (spec: string, m: ServingModel): Policy => {
      if (this.opts.makePolicy) return this.opts.makePolicy(spec, m);
      if (spec !== greedyPolicy.name) throw new Error(`policy ${spec}: no makePolicy was given to build it`);
      return greedyPolicy;
    };
    const given = this.opts.policy ?? greedyPolicy;
    const own: Arm = {
      holder: this.holder,
      policy: typeof given === 'string' ? policyOf(given, model) : given,
      experiment: null,
      variant: null,
    };
    const exp = this.opts.experiment;
    const variants = new Map<string, Arm>();
    for (const v of exp?.variants ?? []) {
      const holder = v.model === undefined ? this.holder : (this.variantHolders.get(v.model) as ModelHolder);
      const policy = v.policy === undefined ? own.policy : policyOf(v.policy, holder.current as ServingModel);
      variants.set(v.name, { holder, policy, experiment: exp?.id ?? null, variant: v.name });
    }
    const control = exp ? (variants.get(controlOf(exp)) as Arm) : own;
    const runs = exp
      ? { start: Date.parse(exp.start), end: exp.end === undefined ? Number.POSITIVE_INFINITY : Date.parse(exp.end) }
      : { start: 0, end: 0 };
    return { own, variants, anonymous: { ...control, experiment: null, variant: null }, runs };
  }

  /**
   * Who answers `userId` now: while the experiment runs (start ≤ now < end, by the service's
   * clock), the user's variant (assignVariant), or the control for a request without a user
   * (logged outside the experiment: it assigned nobody); otherwise the server's own model and policy.
   */
  private armOf(userId: number | null): Arm {
    if (this.arms === null) throw new Error('the service is not started');
    const exp = this.opts.experiment;
    const now = this.now();
    if (!exp || now < this.arms.runs.start || now >= this.arms.runs.end) return this.arms.own;
    if (userId === null) return this.arms.anonymous;
    return this.arms.variants.get(assignVariant(exp, userId).name) as Arm;
  }

  /** Checks every model source for a new version now (the watchers do this every interval). */
  async reload(): Promise<void> {
    await Promise.all([this.holder, ...this.variantHolders.values()].map((h) => h.check()));
  }

  /** Top k for a raw user id, without the `exclude`d raw item ids. */
  async recommendUser(userId: number, k: number, exclude: readonly number[] = [], req: RequestOptions = {}): Promise<Answer> {
    checkK(k);
    const requestId = this.requestId(req);
    const arm = this.armOf(userId);
    const excluded = new Set(exclude);
    const depth = arm.policy.depth(k);
    const session = await this.sessionOf(userId);
    const never = new Set([...excluded, ...session]);
    const ranked = await arm.holder.use(async (m): Promise<Ranked> => {
      const user = m.model.users.indexOf(userId);
      if (user < 0) return { answer: fallbackAnswer(m, userId, depth, never, 'unknown user'), exclude: (id) => never.has(id) };
      const seen = seenBy(m, user);
      const exclusion = (id: number): boolean => never.has(id) || seen(id);
      // A session changes the answer: the caches, which hold answers without one, are not asked.
      const withSession = session.length > 0 ? await this.withSession(m, userId, user, session, depth, excluded) : null;
      if (withSession) return { answer: withSession, exclude: exclusion };
      // The version in the key: a request that started on the old version may finish after a reload emptied the LRU.
      const key = `${m.name}|${m.version}|${userId}|${depth}|${[...excluded].sort((a, b) => a - b).join(',')}`;
      const remembered = this.lru?.get(key);
      if (this.lru) this.metrics.cacheOutcome('lru', remembered ? 'hit' : 'miss');
      if (remembered) return { answer: { ...remembered, path: 'cache', cache: 'lru' }, exclude: exclusion };
      // The Redis cache holds the export of the server's own model only.
      const cached = arm.holder === this.holder ? await this.fromCache(m, userId, depth, excluded) : null;
      if (cached) return { answer: cached, exclude: exclusion };
      const answer = this.live(m, () => liveUserAnswer(m, userId, user, depth, excluded), userId, depth, excluded);
      if (answer.path === 'live') this.lru?.set(key, answer);
      return { answer, exclude: exclusion };
    });
    return this.show(ranked, k, requestId, 'user', arm);
  }

  /** Top k for a user known only by a history of raw item ids (oldest first); unknown ids are ignored and named. */
  async recommendHistory(history: readonly number[], k: number, req: RequestOptions = {}): Promise<Answer> {
    checkK(k);
    checkIdList('history', history);
    const requestId = this.requestId(req);
    const arm = this.armOf(null);
    const depth = arm.policy.depth(k);
    const never = new Set(history);
    const ranked = await arm.holder.use(async (m): Promise<Ranked> => {
      try {
        const { answer, seconds } = await historyAnswer(m, history, depth);
        this.metrics.observeStages(seconds);
        return { answer, exclude: (id) => never.has(id) };
      } catch (err) {
        return { answer: this.failed(m, err, null, depth, never), exclude: (id) => never.has(id) };
      }
    });
    return this.show(ranked, k, requestId, 'history', arm);
  }

  /** The k items most similar to a raw item id; popularity (flagged) for an item the model does not know. */
  async similar(itemId: number, k: number, req: RequestOptions = {}): Promise<Answer> {
    checkK(k);
    const requestId = this.requestId(req);
    const arm = this.armOf(null);
    const depth = arm.policy.depth(k);
    const excluded = new Set([itemId]);
    const exclude = (id: number): boolean => id === itemId;
    const ranked = await arm.holder.use((m): Ranked => {
      const item = m.model.items.indexOf(itemId);
      if (item < 0) return { answer: { ...fallbackAnswer(m, null, depth, excluded, 'unknown item'), item_id: itemId }, exclude };
      return { answer: this.live(m, () => similarAnswer(m, itemId, item, depth), null, depth, excluded), exclude };
    });
    return this.show(ranked, k, requestId, 'similar', arm);
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
    await Promise.all([this.holder, ...this.variantHolders.values()].map((h) => h.close()));
    await this.cache?.close();
    await this.sessions?.close();
    await this.sink?.flush();
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
  private show({ answer: ranked, exclude }: Ranked, k: number, requestId: string, route: ExposureRoute, arm: Arm): Answer {
    let policy = arm.policy;
    let placed: ReturnType<Policy['place']>;
    try {
      // Seeded on the first draw: a deterministic policy (greedy, the default) never draws, and
      // its requests should not pay for a sha256.
      let stream: Rng | null = null;
      const random = (): number => {
        stream ??= new Rng(Number.parseInt(sha256(`${this.seed}:${requestId}`).slice(0, 8), 16));
        return stream.next();
      };
      placed = policy.place(ranked.items, { k, userId: ranked.user_id, random, exclude });
    } catch (err) {
      log.error(`serve: the ${policy.name} policy failed, the model's list is shown as it is: ${(err as Error).message}`);
      this.metrics.error('policy_failed');
      policy = greedyPolicy;
      placed = greedyPolicy.place(ranked.items, { k, userId: ranked.user_id, random: Math.random });
    }
    const answer: Answer = {
      ...ranked,
      request_id: requestId,
      ...(arm.experiment !== null && arm.variant !== null ? { experiment: arm.experiment, variant: arm.variant } : {}),
      policy: policy.name,
      items: placed.map((p, j) => ({ item_id: p.item_id, rank: j + 1, score: p.score, channel: p.channel, propensity: p.propensity })),
    };
    this.logExposure(answer, route);
    return answer;
  }

  private logExposure(answer: Answer, route: ExposureRoute): void {
    if (this.sink === null) return;
    const exposure = exposureRecord(answer, route, this.now());
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

  /**
   * The policy that serves the event's user learns from it (Thompson sampling); a policy that
   * throws costs its learning, never the event.
   */
  private observe(event: UserEventRecord): void {
    if (this.arms === null) return;
    try {
      this.armOf(event.user_id).policy.observe?.(event);
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

/** The exposure record of an answer as shown (docs/events.md), at `time`: what the service logs, and what a client of its JSON can rebuild. */
export function exposureRecord(answer: Answer, route: ExposureRoute, time: number): ExposureRecord {
  return {
    kind: 'exposure',
    request_id: answer.request_id,
    time,
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
}
