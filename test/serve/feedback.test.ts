import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExposureRecord, LogRecord, LogSink, UserEventRecord } from '../../src/events/records.js';
import type { Policy } from '../../src/explore/policy.js';
import { readRowsParquet } from '../../src/data/parquet.js';
import type { AlsModel } from '../../src/models/als/model.js';
import type { TwoTowerModel } from '../../src/models/two-tower/model.js';
import { assignVariant, type Experiment } from '../../src/experiments/experiment.js';
import { parsePolicy } from '../../src/explore/parse.js';
import { servingPolicy, servingSource } from '../../src/pipeline/serving.js';
import { memorySessions } from '../../src/serve/session/memory-sessions.js';
import { openRedisSessions } from '../../src/serve/session/redis-sessions.js';
import { buildServer } from '../../src/serve/server.js';
import { RecommendationService, type ServiceOptions } from '../../src/serve/service.js';
import type { Answer } from '../../src/serve/types.js';
import { startRedisServer } from './redis-server.js';
import { servedPipeline, type ServedPipeline } from './served-pipeline.js';

/**
 * The feedback loop at the server: every answer logged as an exposure (request id, items,
 * positions, propensities), POST /events checked field by field and logged, and the log never
 * costing an answer. The log here is an array (a LogSink holding its records in memory).
 */
let fx: ServedPipeline;

beforeAll(async () => {
  fx = await servedPipeline();
}, 600_000);

/** A LogSink that keeps what it is given. */
class ArraySink implements LogSink {
  readonly records: LogRecord[] = [];
  append(record: LogRecord): void {
    this.records.push(record);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
  get exposures(): ExposureRecord[] {
    return this.records.filter((r): r is ExposureRecord => r.kind === 'exposure');
  }
  get events(): UserEventRecord[] {
    return this.records.filter((r): r is UserEventRecord => r.kind === 'event');
  }
}

/** Swaps the first two items with probability 1/2: a randomised placement whose propensities are 1/2 there, 1 below. */
const swapFirstTwo: Policy = {
  name: 'swap-first-two',
  depth: (k) => k,
  place: (ranked, ctx) => {
    const list = ranked.slice(0, ctx.k);
    if (list.length >= 2 && ctx.random() < 0.5) [list[0], list[1]] = [list[1], list[0]];
    return list.map((item, j) => ({ ...item, propensity: j < 2 && list.length >= 2 ? 0.5 : 1 }));
  },
};

async function open(model: string, opts: ServiceOptions = {}) {
  const service = RecommendationService.create(servingSource({ model: join(fx.artifacts, `${model}-temporal-user`) }), {
    reloadIntervalMs: 0,
    lruSize: 100,
    ...opts,
  });
  const app = buildServer(service);
  await service.start();
  return {
    service,
    app,
    close: async () => {
      await app.close();
      await service.close();
    },
  };
}

type Opened = Awaited<ReturnType<typeof open>>;

async function get(s: Opened, url: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await s.app.inject({ method: 'GET', url, headers });
  expect(res.statusCode, url).toBe(200);
  return res.json() as Answer;
}

async function postEvents(s: Opened, body: unknown) {
  const res = await s.app.inject({
    method: 'POST',
    url: '/events',
    payload: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  return { status: res.statusCode, body: res.json() as { accepted?: number; error?: string; field?: string } };
}

/** Prometheus text → the value of one sample line (name with its labels, as written). */
function sample(text: string, prefix: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** The exposure an answer should have been logged as, from the answer's own fields. */
function expectedExposure(answer: Answer, route: string, time: number): ExposureRecord {
  return {
    kind: 'exposure',
    request_id: answer.request_id,
    time,
    user_id: answer.user_id,
    route: route as ExposureRecord['route'],
    model: answer.model,
    version: answer.version,
    path: answer.path,
    experiment: null,
    variant: null,
    policy: answer.policy,
    items: answer.items.map((i, j) => ({
      item_id: i.item_id,
      position: j + 1,
      score: i.score,
      channel: i.channel,
      propensity: i.propensity,
    })),
  };
}

describe('exposures and events, ALS', () => {
  const sink = new ArraySink();
  let clock = Date.parse('2026-03-01T12:00:00Z');
  let s: Opened;
  beforeAll(async () => {
    s = await open('als', { log: sink, now: () => clock });
  });
  afterAll(() => s?.close());

  it('logs every answer (live, LRU, fallback, history, similar) with its request id, items and propensities', async () => {
    const answers: Array<[Answer, string, number]> = [];
    const ask = async (url: string, route: string, init?: { method: 'POST'; body: unknown }) => {
      clock += 1000;
      const res = await s.app.inject(
        init
          ? { method: 'POST', url, payload: JSON.stringify(init.body), headers: { 'content-type': 'application/json' } }
          : { method: 'GET', url },
      );
      expect(res.statusCode).toBe(200);
      answers.push([res.json() as Answer, route, clock]);
    };
    await ask('/recommend/7?k=10', 'user');
    await ask('/recommend/7?k=10', 'user');
    await ask('/recommend/987654321?k=5', 'user');
    await ask('/recommend', 'history', { method: 'POST', body: { history: [1, 50, 260], k: 5 } });
    await ask('/similar/1?k=5', 'similar');
    expect(answers.map(([a]) => a.path)).toEqual(['live', 'cache', 'fallback', 'live', 'live']);
    // The same list from the model and from the LRU, each answer under its own id.
    expect(answers[1][0].items).toEqual(answers[0][0].items);
    expect(new Set(answers.map(([a]) => a.request_id)).size).toBe(answers.length);
    for (const [answer] of answers) {
      expect(answer.request_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(answer.policy).toBe('greedy');
      expect(answer.items.length).toBeGreaterThan(0);
      expect(answer.items.every((i) => i.propensity === 1)).toBe(true);
    }
    expect(sink.exposures).toEqual(answers.map(([a, route, time]) => expectedExposure(a, route, time)));
    const metrics = await s.service.metrics.registry.metrics();
    expect(sample(metrics, 'recsys_log_records_total{kind="exposure"}')).toBe(answers.length);
  });

  it("uses the client's X-Request-Id when it is a sane token, and makes one otherwise", async () => {
    const given = await get(s, '/recommend/9?k=3', { 'x-request-id': 'page-42.slot:3' });
    expect(given.request_id).toBe('page-42.slot:3');
    expect(sink.exposures.at(-1)?.request_id).toBe('page-42.slot:3');
    const insane = await get(s, '/recommend/9?k=3', { 'x-request-id': 'a b<c>' });
    expect(insane.request_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses a bad event with 400 naming the field, and keeps none of a batch with a bad one', async () => {
    const ok = { user: 7, item: 50, type: 'click' };
    const before = sink.records.length;
    const cases: Array<[string, unknown, string]> = [
      ['not an object', [1, 2], 'body'],
      ['no user', { item: 1, type: 'click' }, 'user'],
      ['no item', { user: 1, type: 'click' }, 'item'],
      ['no type', { user: 1, item: 1 }, 'type'],
      ['a negative user', { ...ok, user: -1 }, 'user'],
      ['a user id as a string', { ...ok, user: '7' }, 'user'],
      ['a fractional item', { ...ok, item: 1.5 }, 'item'],
      ['an item beyond int32', { ...ok, item: 2 ** 31 }, 'item'],
      ['an upper-case type', { ...ok, type: 'Click' }, 'type'],
      ['a type with a space', { ...ok, type: 'add to cart' }, 'type'],
      ['a type too long', { ...ok, type: 'a'.repeat(33) }, 'type'],
      ['a request id with a space', { ...ok, request_id: 'a b' }, 'request_id'],
      ['a request id too long', { ...ok, request_id: 'r'.repeat(101) }, 'request_id'],
      ['a time in seconds', { ...ok, time: Math.floor(clock / 1000) }, 'time'],
      ['a time 31 days ago', { ...ok, time: clock - 31 * 86_400_000 }, 'time'],
      ['a time 2 days ahead', { ...ok, time: clock + 2 * 86_400_000 }, 'time'],
      ['a time as a string', { ...ok, time: '2026-03-01' }, 'time'],
      ['an unknown field', { ...ok, score: 1 }, 'score'],
      ['an empty batch', { events: [] }, 'events'],
      ['a batch that is not a list', { events: ok }, 'events'],
      ['a batch with a field beside it', { events: [ok], user: 1 }, 'user'],
      ['a bad event in a batch', { events: [ok, { ...ok, item: 'x' }] }, 'events[1].item'],
      ['a batch entry that is not an object', { events: [ok, 3] }, 'events[1]'],
    ];
    for (const [what, body, field] of cases) {
      const res = await postEvents(s, body);
      expect(res.status, what).toBe(400);
      expect(res.body.field, what).toBe(field);
    }
    expect(sink.records.length).toBe(before);
  });

  it('answers 202 with the number accepted, and logs each event with its time (the client’s, else the clock’s)', async () => {
    const shown = await get(s, '/recommend/11?k=5');
    const item = shown.items[2].item_id;
    const one = await postEvents(s, { user: 11, item, type: 'click', request_id: shown.request_id });
    expect(one).toEqual({ status: 202, body: { accepted: 1 } });
    const batch = await postEvents(s, {
      events: [
        { user: 11, item, type: 'purchase', time: clock - 60_000 },
        { user: 12, item: 1, type: 'wishlist' },
      ],
    });
    expect(batch).toEqual({ status: 202, body: { accepted: 2 } });
    expect(sink.events.slice(-3)).toEqual([
      { kind: 'event', user_id: 11, item_id: item, type: 'click', request_id: shown.request_id, time: clock },
      { kind: 'event', user_id: 11, item_id: item, type: 'purchase', request_id: null, time: clock - 60_000 },
      { kind: 'event', user_id: 12, item_id: 1, type: 'wishlist', request_id: null, time: clock },
    ]);
    const metrics = await s.service.metrics.registry.metrics();
    expect(sample(metrics, 'recsys_events_total{type="click"}')).toBe(1);
    expect(sample(metrics, 'recsys_events_total{type="purchase"}')).toBe(1);
    expect(sample(metrics, 'recsys_events_total{type="other"}')).toBe(1);
    expect(sample(metrics, 'recsys_log_records_total{kind="event"}')).toBe(3);
  });
});

describe('a placement policy', () => {
  it('places from the model list with a stream seeded by the seed and the request id, and logs its propensities', async () => {
    const sink = new ArraySink();
    const s = await open('als', { log: sink, policy: swapFirstTwo, seed: 7 });
    const s2 = await open('als', { log: new ArraySink(), policy: swapFirstTwo, seed: 7 });
    try {
      const greedy = (await s.service.recommendUser(5, 10)).items;
      let swapped = 0;
      for (let r = 0; r < 40; r++) {
        const id = `req-${r}`;
        const a = await s.service.recommendUser(5, 10, [], { requestId: id });
        const b = await s2.service.recommendUser(5, 10, [], { requestId: id });
        expect(b.items, id).toEqual(a.items);
        expect(a.policy).toBe('swap-first-two');
        expect(a.items.map((i) => i.propensity)).toEqual([0.5, 0.5, 1, 1, 1, 1, 1, 1, 1, 1]);
        const ids = a.items.map((i) => i.item_id);
        const was = greedy.map((i) => i.item_id);
        if (ids[0] === was[1]) {
          swapped++;
          expect(ids).toEqual([was[1], was[0], ...was.slice(2)]);
        } else expect(ids).toEqual(was);
      }
      // 40 fair coins: all heads or all tails has probability 2^-39.
      expect(swapped).toBeGreaterThan(0);
      expect(swapped).toBeLessThan(40);
      expect(sink.exposures.at(-1)?.items.map((i) => i.propensity)).toEqual([0.5, 0.5, 1, 1, 1, 1, 1, 1, 1, 1]);
    } finally {
      await s.close();
      await s2.close();
    }
  });
});

describe('a log that fails', () => {
  it('never fails an answer or an event: the record is dropped and counted', async () => {
    const broken: LogSink = {
      append: () => {
        throw new Error('disk on fire');
      },
      flush: async () => {},
      close: async () => {},
    };
    const s = await open('als', { log: broken });
    try {
      const answer = await get(s, '/recommend/3?k=5');
      expect(answer.items).toHaveLength(5);
      expect((await postEvents(s, { user: 3, item: answer.items[0].item_id, type: 'click' })).status).toBe(202);
      const metrics = await s.service.metrics.registry.metrics();
      expect(sample(metrics, 'recsys_log_dropped_total')).toBe(2);
    } finally {
      await s.close();
    }
  });
});

/** A training user's training items (raw ids), read from the split with DuckDB. */
async function trainingItems(user: number): Promise<number[]> {
  const train = join(fx.artifacts, 'split-temporal-user', 'latest', 'train.parquet');
  const rows = (await readRowsParquet(train, `SELECT DISTINCT item_id FROM src WHERE user_id = ${user}`)) as Array<{ item_id: number }>;
  return rows.map((r) => r.item_id);
}

/**
 * An item neither in the user's training items nor in `shown`, with the longest factor vector
 * of the model (the click that moves a fold-in most).
 */
function freshItem(s: Opened, trained: readonly number[], shown: Answer): number {
  const model = s.service.serving!.model as AlsModel;
  const { dim, data } = model.itemEmbeddings();
  const taken = new Set([...trained, ...shown.items.map((i) => i.item_id)]);
  let best = -1;
  let bestNorm = -1;
  for (let i = 0; i < model.items.size; i++) {
    if (taken.has(model.items.rawId(i))) continue;
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += data[i * dim + d] ** 2;
    if (norm > bestNorm) [best, bestNorm] = [i, norm];
  }
  return model.items.rawId(best);
}

describe('session history (in-process)', () => {
  let clock = Date.parse('2026-03-02T08:00:00Z');
  let s: Opened;
  beforeAll(async () => {
    s = await open('als', { now: () => clock, sessions: memorySessions({ now: () => clock }) });
  });
  afterAll(() => s?.close());

  it('a click changes the next answer to the fold-in over the training items and the clicked item, until the session expires', async () => {
    // The user with the fewest training items, whose list one click moves most.
    const train = join(fx.artifacts, 'split-temporal-user', 'latest', 'train.parquet');
    const [{ user }] = (await readRowsParquet(
      train,
      'SELECT user_id AS user FROM src GROUP BY user_id ORDER BY count(*), user_id LIMIT 1',
    )) as Array<{
      user: number;
    }>;
    const before = await get(s, `/recommend/${user}?k=10`);
    expect((await get(s, `/recommend/${user}?k=10`)).path).toBe('cache');
    const trained = await trainingItems(user);
    const clicked = freshItem(s, trained, before);
    expect((await postEvents(s, { user, item: clicked, type: 'click' })).status).toBe(202);
    const after = await get(s, `/recommend/${user}?k=10`);
    expect(after.path).toBe('live');
    expect(after.session_items).toBe(1);
    expect(after.items.map((i) => i.item_id)).not.toEqual(before.items.map((i) => i.item_id));
    // The library, directly: ALS fold-in over the training items and the click, neither returned.
    const model = s.service.serving!.model as AlsModel;
    const top = model.recommendFromHistory(model.items.mapAll(Int32Array.from([...trained, clicked])), null, 10);
    expect(after.items.map((i) => [i.item_id, Math.fround(i.score)])).toEqual(
      Array.from(top.items, (item, j) => [model.items.rawId(item), Math.fround(top.scores[j])]),
    );
    expect(after.items.some((i) => i.item_id === clicked || trained.includes(i.item_id))).toBe(false);
    // A dismissal is logged, not kept in the session: the answer stays the same.
    await postEvents(s, { user, item: after.items[0].item_id, type: 'dismiss' });
    expect((await get(s, `/recommend/${user}?k=10`)).items).toEqual(after.items);
    // An hour after the click the session has ended: the answer without it again (from the LRU).
    clock += 3_600_001;
    const expired = await get(s, `/recommend/${user}?k=10`);
    expect(expired.items).toEqual(before.items);
    expect(expired.session_items).toBeUndefined();
    const metrics = await s.service.metrics.registry.metrics();
    expect(sample(metrics, 'recsys_session_requests_total{outcome="hit"}')).toBe(2);
    expect(sample(metrics, 'recsys_session_requests_total{outcome="empty"}')).toBe(3);
  });

  it('keeps the latest events only: a session of size 2 holds the last two clicks', async () => {
    const sessions = memorySessions({ size: 2, now: () => clock });
    await sessions.add(5, [
      { item_id: 1, type: 'click', time: clock },
      { item_id: 2, type: 'view', time: clock },
    ]);
    await sessions.add(5, [{ item_id: 3, type: 'purchase', time: clock }]);
    expect((await sessions.recent(5)).map((e) => e.item_id)).toEqual([2, 3]);
  });
});

describe('session history with a ranker', () => {
  it('excludes the session items from the funnel list, which is otherwise unchanged', async () => {
    const s = await open('ranker', { sessions: memorySessions() });
    try {
      const before = (await get(s, '/recommend/30?k=11')).items.map((i) => i.item_id);
      const clicked = before[1];
      await postEvents(s, { user: 30, item: clicked, type: 'click' });
      const after = await get(s, '/recommend/30?k=10');
      expect(after.path).toBe('live');
      expect(after.items.map((i) => i.item_id)).toEqual(before.filter((id) => id !== clicked));
      expect(after.session_items).toBe(1);
    } finally {
      await s.close();
    }
  });
});

describe('session history in Redis', () => {
  it('is shared by two services, and a Redis that is down costs the session, never the answer', async () => {
    const redis = await startRedisServer();
    const a = await open('als', { sessions: await openRedisSessions({ url: redis.url }), lruSize: 0 });
    const b = await open('als', { sessions: await openRedisSessions({ url: redis.url }), lruSize: 0 });
    try {
      const user = 44;
      const before = await get(b, `/recommend/${user}?k=10`);
      const clicked = freshItem(a, await trainingItems(user), before);
      expect((await postEvents(a, { user, item: clicked, type: 'click' })).status).toBe(202);
      const after = await get(b, `/recommend/${user}?k=10`);
      expect(after.session_items).toBe(1);
      expect(after.items).not.toEqual(before.items);
      expect(after.items).toEqual((await get(a, `/recommend/${user}?k=10`)).items);
      // Counted from here: on a loaded machine a reply of the healthy Redis may have come after its timeout.
      const failures = async (s: Opened, outcome: string) =>
        sample(await s.service.metrics.registry.metrics(), `recsys_session_requests_total{outcome="${outcome}"}`) ?? 0;
      const [readErrors, writeErrors] = [await failures(b, 'error'), await failures(a, 'write_error')];
      await redis.kill('SIGKILL');
      const down = await get(b, `/recommend/${user}?k=10`);
      expect(down.items).toEqual(before.items);
      expect((await postEvents(a, { user, item: 1, type: 'click' })).status).toBe(202);
      expect(await failures(b, 'error')).toBe(readErrors + 1);
      expect(await failures(a, 'write_error')).toBe(writeErrors + 1);
    } finally {
      await a.close();
      await b.close();
      await redis.stop();
    }
  });
});

describe('an experiment', () => {
  const epsilon = 'epsilon-greedy:0.5:candidates';
  const experiment: Experiment = {
    id: 'tt-vs-als',
    salt: 'feedback-test',
    start: '2026-03-01T00:00:00Z',
    end: '2026-03-08T00:00:00Z',
    variants: [
      { name: 'control', share: 0.5 },
      { name: 'two-tower', share: 0.5, model: 'two-tower-temporal-user', policy: epsilon },
    ],
  };
  const sink = new ArraySink();
  let clock = Date.parse('2026-03-03T00:00:00Z');
  let s: Opened;
  beforeAll(async () => {
    s = await open('als', {
      log: sink,
      now: () => clock,
      experiment,
      variantSource: (model) => servingSource({ model: join(fx.artifacts, model) }),
      makePolicy: servingPolicy,
      seed: 3,
    });
  });
  afterAll(() => s?.close());

  it("serves each user by their variant's model and policy (assignVariant), logged with the experiment and variant", async () => {
    const users = Array.from({ length: 30 }, (_, i) => i + 1);
    const byVariant = new Map<string, number>();
    for (const user of users) {
      const answer = await get(s, `/recommend/${user}?k=10`);
      const variant = assignVariant(experiment, user).name;
      byVariant.set(variant, (byVariant.get(variant) ?? 0) + 1);
      expect(answer.experiment, `user ${user}`).toBe('tt-vs-als');
      expect(answer.variant, `user ${user}`).toBe(variant);
      expect(answer.model).toBe(variant === 'control' ? 'als-temporal-user' : 'two-tower-temporal-user');
      expect(answer.policy).toBe(variant === 'control' ? 'greedy' : parsePolicy(epsilon, null).name);
      // ε = 0.5 over the candidates beyond the top 10: each greedy item kept with probability 1/2.
      if (variant !== 'control') expect(answer.items.some((i) => i.propensity === 0.5)).toBe(true);
      const logged = sink.exposures.at(-1)!;
      expect([logged.experiment, logged.variant, logged.policy, logged.model]).toEqual(['tt-vs-als', variant, answer.policy, answer.model]);
    }
    expect(byVariant.size).toBe(2);
  });

  it('answers a request without a user by the control, outside the experiment; and everyone by its own model outside its dates', async () => {
    const history = await s.service.recommendHistory([1, 50, 260], 5);
    expect(history.model).toBe('als-temporal-user');
    expect(history.experiment).toBeUndefined();
    const treated = Array.from({ length: 30 }, (_, i) => i + 1).find((u) => assignVariant(experiment, u).name === 'two-tower')!;
    clock = Date.parse('2026-03-08T00:00:00Z');
    const after = await s.service.recommendUser(treated, 10);
    expect([after.model, after.policy, after.experiment, after.variant]).toEqual(['als-temporal-user', 'greedy', undefined, undefined]);
    expect(sink.exposures.at(-1)?.experiment).toBeNull();
  });
});

describe('session history with a two-tower artifact', () => {
  it("folds a click in through the ONNX user tower: the answer is the in-process tower's vector over the latest training items and the click, searched exactly", async () => {
    const s = await open('two-tower', { sessions: memorySessions(), lruSize: 0 });
    try {
      const model = s.service.serving!.model as TwoTowerModel;
      const user = 17;
      const u = model.users.indexOf(user);
      const before = await get(s, `/recommend/${user}?k=10`);
      const trained = new Set(await trainingItems(user));
      const clicked = model.items.ids.find((id) => !trained.has(id) && !before.items.some((i) => i.item_id === id) && id > 5000)!;
      await postEvents(s, { user, item: clicked, type: 'click' });
      const after = await get(s, `/recommend/${user}?k=10`);
      expect(after.session_items).toBe(1);
      // The TF.js tower in this process, from raw ids: the latest training items (as training fed them), then the click.
      const L = model.historyLength;
      const latest = Array.from(model.userHistory.subarray(u * L, (u + 1) * L)).filter((i) => i >= 0);
      const sequence = [...latest.map((i) => model.items.rawId(i)), clicked].slice(-L);
      const padded = Int32Array.from([...new Array<number>(L - sequence.length).fill(-1), ...sequence]);
      const vector = model.embedUsers(Int32Array.of(user), padded).data;
      const { dim, data } = model.itemEmbeddings();
      const scored: Array<[number, number]> = [];
      for (let i = 0; i < model.items.size; i++) {
        const id = model.items.rawId(i);
        if (trained.has(id) || id === clicked) continue;
        let score = 0;
        for (let d = 0; d < dim; d++) score += vector[d] * data[i * dim + d];
        scored.push([id, score]);
      }
      scored.sort((a, b) => b[1] - a[1]);
      expect(after.items.map((i) => i.item_id)).toEqual(scored.slice(0, 10).map(([id]) => id));
      after.items.forEach((item, j) => expect(Math.abs(item.score - scored[j][1])).toBeLessThan(1e-4));
      // One item among the pooled history moves the user's vector, so every score.
      expect(after.items.map((i) => i.score)).not.toEqual(before.items.map((i) => i.score));
    } finally {
      await s.close();
    }
  });
});
