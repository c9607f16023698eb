import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readRowsParquet } from '../../src/data/parquet.js';
import { recommendForHistory } from '../../src/pipeline/recommend.js';
import { servingSource } from '../../src/pipeline/serving.js';
import type { RankerModel } from '../../src/rank/ranker.js';
import { MAX_K, MAX_LIST } from '../../src/serve/request.js';
import { BODY_LIMIT_BYTES, buildServer } from '../../src/serve/server.js';
import { RecommendationService } from '../../src/serve/service.js';
import type { Answer } from '../../src/serve/types.js';
import { servedPipeline, type ServedPipeline } from './served-pipeline.js';

/**
 * What `recsys serve`'s routes answer, through fastify's request injection (the same routing,
 * parsing and error handling as over a socket): bad input, the fallback, exclusions, histories,
 * similar items, the LRU, readiness, metrics and faults. Expected values come from the data
 * (DuckDB over the split) or from the batch library calls, not from the server.
 */
let fx: ServedPipeline;

beforeAll(async () => {
  fx = await servedPipeline();
}, 600_000);

async function open(model: string, lruSize = 0) {
  const service = RecommendationService.create(servingSource({ model: join(fx.artifacts, `${model}-temporal-user`) }), {
    reloadIntervalMs: 0,
    lruSize,
  });
  const app = buildServer(service);
  await service.start();
  const close = async (): Promise<void> => {
    await app.close();
    await service.close();
  };
  return { service, app, close };
}

type Opened = Awaited<ReturnType<typeof open>>;

async function get(s: Opened, url: string): Promise<{ status: number; body: Answer & { error?: string; field?: string } }> {
  const res = await s.app.inject({ method: 'GET', url });
  return { status: res.statusCode, body: res.json() };
}

async function post(s: Opened, payload: string, contentType = 'application/json') {
  const res = await s.app.inject({ method: 'POST', url: '/recommend', payload, headers: { 'content-type': contentType } });
  return { status: res.statusCode, body: res.json() as Answer & { error?: string; field?: string } };
}

/** Prometheus text → the value of one sample line (name with its labels, as written). */
function sample(text: string, prefix: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('an ALS artifact', () => {
  let s: Opened;
  beforeAll(async () => {
    s = await open('als', 100);
  });
  afterAll(() => s?.close());

  it('refuses bad input with 400 naming the field, never 500', async () => {
    const history = (h: unknown, k?: unknown) => JSON.stringify(k === undefined ? { history: h } : { history: h, k });
    const cases: Array<[string, () => Promise<{ status: number; body: { field?: string } }>, string]> = [
      ['user id not a number', () => get(s, '/recommend/abc'), 'userId'],
      ['negative user id', () => get(s, '/recommend/-1'), 'userId'],
      ['fractional user id', () => get(s, '/recommend/1.5'), 'userId'],
      ['user id beyond int32', () => get(s, '/recommend/99999999999'), 'userId'],
      ['k = 0', () => get(s, '/recommend/1?k=0'), 'k'],
      [`k above ${MAX_K}`, () => get(s, `/recommend/1?k=${MAX_K + 1}`), 'k'],
      ['k not a number', () => get(s, '/recommend/1?k=ten'), 'k'],
      ['an exclusion not an id', () => get(s, '/recommend/1?exclude=1,x'), 'exclude'],
      ['similar item id not a number', () => get(s, '/similar/x'), 'itemId'],
      ['malformed JSON', () => post(s, '{"history": [1,'), 'body'],
      ['a body that is a list', () => post(s, '[1, 2]'), 'body'],
      ['no history', () => post(s, '{"k": 5}'), 'history'],
      ['an empty history', () => post(s, history([])), 'history'],
      ['a history that is a string', () => post(s, history('1,2')), 'history'],
      ['a history with a string', () => post(s, history([1, 'a'])), 'history[1]'],
      ['a history with a fraction', () => post(s, history([1.5])), 'history[0]'],
      ['a history too long', () => post(s, history(Array.from({ length: MAX_LIST + 1 }, (_, i) => i + 1))), 'history'],
      ['k = 0 in a body', () => post(s, history([1], 0)), 'k'],
      ['k a string in a body', () => post(s, history([1], '5')), 'k'],
      ['an unknown field', () => post(s, '{"history": [1], "user": 3}'), 'user'],
    ];
    for (const [what, request, field] of cases) {
      const { status, body } = await request();
      expect(status, what).toBe(400);
      expect(body.field, what).toBe(field);
    }
    const tooLarge = await post(s, history(Array.from({ length: BODY_LIMIT_BYTES / 2 }, () => 1)));
    expect(tooLarge.status).toBe(413);
    const wrongType = await post(s, '<history>1</history>', 'application/xml');
    expect(wrongType.status).toBe(415);
    const metrics = (await s.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(sample(metrics, 'recsys_errors_total{kind="bad_request"}')).toBe(cases.length + 2);
    expect(metrics).not.toContain('status="500"');
  });

  it('answers an unknown user with the most popular training items, flagged as the fallback', async () => {
    const train = join(fx.artifacts, 'split-temporal-user', 'latest', 'train.parquet');
    const popular = (await readRowsParquet(
      train,
      'SELECT item_id, count(*) AS n FROM src GROUP BY item_id ORDER BY n DESC, item_id LIMIT 10',
    )) as Array<{ item_id: number; n: bigint | number }>;
    const { status, body } = await get(s, '/recommend/987654321?k=10');
    expect(status).toBe(200);
    expect(body.path).toBe('fallback');
    expect(body.reason).toBe('unknown user');
    expect(body.items.map((i) => [i.item_id, i.score, i.channel])).toEqual(popular.map((p) => [p.item_id, Number(p.n), 'popularity']));
  });

  it('drops request-time exclusions and keeps the rest of the list in order', async () => {
    const full = await get(s, '/recommend/7?k=12');
    const ids = full.body.items.map((i) => i.item_id);
    const excluded = [ids[0], ids[4]];
    const { body } = await get(s, `/recommend/7?k=10&exclude=${excluded.join(',')}`);
    expect(body.items.map((i) => i.item_id)).toEqual(ids.filter((id) => !excluded.includes(id)).slice(0, 10));
    expect(body.items.map((i) => i.rank)).toEqual(Array.from({ length: 10 }, (_, j) => j + 1));
  });

  it('answers a history by ALS fold-in, as `recsys recommend --history` does, naming the unknown items', async () => {
    const history = [1, 50, 260, 999_999_999];
    const { status, body } = await post(s, JSON.stringify({ history, k: 10 }));
    expect(status).toBe(200);
    expect(body.path).toBe('live');
    expect(body.user_id).toBeNull();
    expect(body.ignored_items).toEqual([999_999_999]);
    const batch = await recommendForHistory(join(fx.artifacts, 'als-temporal-user'), history, 10);
    expect(body.items.map((i) => [i.item_id, i.rank, Math.fround(i.score), i.channel])).toEqual(
      batch.map((b) => [b.item_id, b.rank, Math.fround(b.score), 'als']),
    );
    expect(body.items.some((i) => history.includes(i.item_id))).toBe(false);
    const unknown = await post(s, JSON.stringify({ history: [999_999_998], k: 3 }));
    expect(unknown.body.path).toBe('fallback');
    expect(unknown.body.reason).toBe('no item of the history is known to the model');
  });

  it('answers similar items from the model, and the fallback for an unknown item', async () => {
    const { body } = await get(s, '/similar/1?k=5');
    const m = s.service.serving!;
    const top = m.model.similarItems(Int32Array.of(m.model.items.indexOf(1)), 5);
    expect(body.item_id).toBe(1);
    expect(body.items.map((i) => i.item_id)).toEqual(Array.from(top.items, (i) => m.model.items.rawId(i)));
    const unknown = await get(s, '/similar/999999999?k=5');
    expect(unknown.body.path).toBe('fallback');
    expect(unknown.body.reason).toBe('unknown item');
  });

  it('answers a repeated request from the LRU, counted in the metrics', async () => {
    const first = await get(s, '/recommend/42?k=10');
    const second = await get(s, '/recommend/42?k=10');
    expect(first.body.path).toBe('live');
    expect(second.body.path).toBe('cache');
    expect(second.body.cache).toBe('lru');
    expect(second.body.items).toEqual(first.body.items);
    const metrics = (await s.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(sample(metrics, 'recsys_cache_requests_total{cache="lru",outcome="hit"}')).toBeGreaterThanOrEqual(1);
    expect(sample(metrics, `recsys_model_info{model="als-temporal-user",version="${first.body.version}",kind="als"}`)).toBe(1);
    expect(sample(metrics, 'recsys_http_request_duration_seconds_count{route="/recommend/:userId",path="cache",status="200"}')).toBe(1);
  });

  it('answers from the fallback when the model throws, and counts it', async () => {
    const model = s.service.serving!.model;
    const failing = vi.spyOn(model, 'recommend').mockImplementation(() => {
      throw new Error('injected fault');
    });
    try {
      const { status, body } = await get(s, '/recommend/3?k=5');
      expect(status).toBe(200);
      expect(body.path).toBe('fallback');
      expect(body.reason).toBe('the model failed: injected fault');
    } finally {
      failing.mockRestore();
    }
    const metrics = (await s.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(sample(metrics, 'recsys_errors_total{kind="model_failed"}')).toBe(1);
  });
});

describe('a ranker artifact', () => {
  let s: Opened;
  beforeAll(async () => {
    s = await open('ranker');
  });
  afterAll(() => s?.close());

  it('records the time of each funnel stage', async () => {
    await get(s, '/recommend/5?k=10');
    const metrics = (await s.app.inject({ method: 'GET', url: '/metrics' })).body;
    for (const stage of ['candidates', 'features', 'gbdt', 'rerank'])
      expect(sample(metrics, `recsys_stage_duration_seconds_count{stage="${stage}"}`), stage).toBe(1);
  });

  it('skips a channel that throws and answers from the others', async () => {
    const ranker = s.service.serving!.model as RankerModel;
    const als = ranker.funnel.channels.find((c) => c.name === 'als')!;
    const failing = vi.spyOn(als.model, 'recommend').mockImplementation(() => {
      throw new Error('injected channel fault');
    });
    try {
      const { status, body } = await get(s, '/recommend/5?k=10');
      expect(status).toBe(200);
      expect(body.path).toBe('live');
      expect(body.skipped_channels).toEqual(['als']);
      expect(body.items).toHaveLength(10);
      expect(body.items.some((i) => i.channel === 'als')).toBe(false);
    } finally {
      failing.mockRestore();
    }
  });

  it('answers a history through its ALS channel', async () => {
    const { body } = await post(s, JSON.stringify({ history: [1, 50, 260], k: 5 }));
    expect(body.path).toBe('live');
    expect(body.items.every((i) => i.channel === 'als')).toBe(true);
  });
});

it('is not ready, and answers 503, until a model is loaded', async () => {
  const service = RecommendationService.create(servingSource({ model: join(fx.artifacts, 'als-temporal-user') }), { reloadIntervalMs: 0 });
  const app = buildServer(service);
  try {
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/recommend/1' })).statusCode).toBe(503);
    await service.start();
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ready', model: 'als-temporal-user', kind: 'als' });
  } finally {
    await app.close();
    await service.close();
  }
});

it('answers a history for a two-tower artifact through its ONNX user tower and FAISS index', async () => {
  const s = await open('two-tower');
  try {
    const history = [1, 50, 260];
    const { status, body } = await post(s, JSON.stringify({ history, k: 10 }));
    expect(status).toBe(200);
    expect(body.path).toBe('live');
    expect(body.items).toHaveLength(10);
    expect(body.items.every((i) => i.channel === 'two-tower' && !history.includes(i.item_id))).toBe(true);
    const scores = body.items.map((i) => i.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  } finally {
    await s.close();
  }
});
