import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishRecommendations } from '../../src/serve/cache/redis-publish.js';
import type { Answer } from '../../src/serve/types.js';
import { oneErrorLine, runCli, type Started } from '../cli-runner.js';
import { listsOf, type Row } from './recs-fixture.js';
import { freeLoopbackPort, type RedisServer, startRedisServer } from './redis-server.js';
import { servedPipeline } from './served-pipeline.js';
import { startServe, until } from './serve-process.js';

/**
 * `recsys serve --redis` against a real redis-server holding the ranker's batch export
 * (published by `publishRecommendations`): known users answered from Redis (`path: "cache"`)
 * with the export's rows; lists of another model refused; and under a steady load, Redis
 * killed (SIGKILL): no request fails, the live funnel answers the same lists, and once Redis is
 * back (and published again) the cache answers again.
 */
const RANKER = 'ranker-temporal-user';

let redis: RedisServer;
let serve: { base: string; server: Started };
let rankerRecs: string;
let alsRecs: string;
let lists: Map<number, Row[]>;
let users: number[];
let artifacts: string;

beforeAll(async () => {
  redis = await startRedisServer();
  const fx = await servedPipeline();
  artifacts = fx.artifacts;
  rankerRecs = join(fx.artifacts, `recs-${RANKER}`, 'latest', 'recs.parquet');
  alsRecs = join(fx.artifacts, 'recs-als-temporal-user', 'latest', 'recs.parquet');
  lists = await listsOf(rankerRecs);
  users = [...lists.keys()];
  await publishRecommendations({ recs: rankerRecs, redis: redis.url, ttlSeconds: 600 });
  // A timeout no loaded test machine reaches by being slow: the timeout itself is redis-cache.test.ts's.
  const args = ['--model', join(fx.artifacts, RANKER), '--redis', redis.url, '--redis-timeout-ms', '1000', '--reload-interval-ms', '0'];
  serve = await startServe(args, { env: { RECSYS_QUIET: '0' } });
}, 600_000);

afterAll(async () => {
  serve?.server.child.kill('SIGKILL');
  await redis?.stop();
});

async function recommend(user: number, query = 'k=100'): Promise<Answer> {
  const res = await fetch(`${serve.base}/recommend/${user}?${query}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Answer;
}

/** The answer's items are the export's rows for the user (scores to float32 precision). */
function expectExportRows(answer: Answer, rows: readonly Row[]): void {
  expect(answer.items.map((i) => [i.item_id, i.rank, Math.fround(i.score), i.channel])).toEqual(
    rows.map((r) => [r.item_id, r.rank, Math.fround(r.score), r.channel]),
  );
}

async function redisOutcomes(): Promise<Record<string, number>> {
  const text = await (await fetch(`${serve.base}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const [, outcome, n] of text.matchAll(/^recsys_cache_requests_total\{cache="redis",outcome="(\w+)"\} (\d+)$/gm))
    counts[outcome] = Number(n);
  return counts;
}

describe('recsys serve --redis', () => {
  it("answers known users from Redis with the export's rows; refuses another model's lists; unknown users get the fallback", async () => {
    const before = await redisOutcomes();
    const sample = users.filter((_, i) => i % 7 === 0);
    let fromCache = 0;
    for (const user of sample) {
      const answer = await recommend(user);
      const exported = lists.get(user) as Row[];
      // A list the export cut short (fewer items left than k) cannot say what comes next: the server asks the model.
      if (exported.length === 100) {
        expect(answer).toMatchObject({ user_id: user, model: RANKER, path: 'cache', cache: 'redis' });
        fromCache++;
      } else expect(answer).toMatchObject({ user_id: user, model: RANKER, path: 'live' });
      expectExportRows(answer, exported);
    }
    expect(fromCache).toBeGreaterThan(sample.length / 2);
    // A shorter list and a request-time exclusion: the cached list cut and ranked again.
    const user = users.find((u) => lists.get(u)?.length === 100) as number;
    const rows = lists.get(user) as Row[];
    const excluded = [rows[0].item_id, rows[3].item_id];
    const cut = await recommend(user, `k=10&exclude=${excluded.join(',')}`);
    expect(cut.path).toBe('cache');
    expect(cut.items.map((i) => [i.item_id, i.rank])).toEqual(
      rows
        .filter((r) => !excluded.includes(r.item_id))
        .slice(0, 10)
        .map((r, j) => [r.item_id, j + 1]),
    );
    expect((await recommend(10_000_000)).path).toBe('fallback');
    const after = await redisOutcomes();
    expect((after.hit ?? 0) - (before.hit ?? 0)).toBe(sample.length + 1);

    // The ALS export published under the ranker's name: computed by another model, so not served.
    await publishRecommendations({ recs: alsRecs, redis: redis.url, ttlSeconds: 600, name: `recs-${RANKER}` });
    const live = await recommend(user);
    expect(live.version).toBe(cut.version);
    expect(live.path).toBe('live');
    expectExportRows(live, rows);
    expect((await redisOutcomes()).stale).toBe(1);
    // The ranker's export again: from the cache again.
    await publishRecommendations({ recs: rankerRecs, redis: redis.url, ttlSeconds: 600 });
    expect((await recommend(user)).path).toBe('cache');
  });

  it('Redis killed mid-load: no request fails, the live funnel answers the same lists, and the cache answers again once Redis is back', async () => {
    const stop = { done: false };
    const answers: Answer[] = [];
    const failures: string[] = [];
    const worker = async (w: number): Promise<void> => {
      for (let i = w; !stop.done; i += 8) {
        const user = users[(i * 37) % users.length];
        try {
          const res = await fetch(`${serve.base}/recommend/${user}?k=100`);
          if (res.status !== 200) failures.push(`user ${user}: ${res.status} ${await res.text()}`);
          else answers.push((await res.json()) as Answer);
        } catch (err) {
          failures.push(`user ${user}: ${(err as Error).message}`);
        }
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
    await until('answers from the cache', async () => answers.filter((a) => a.path === 'cache').length > 50, 30_000);
    const port = redis.port;
    await redis.kill('SIGKILL');
    const killedAt = answers.length;
    await until('live answers after the kill', async () => answers.slice(killedAt).filter((a) => a.path === 'live').length > 50, 60_000);
    stop.done = true;
    await load;

    expect(failures).toEqual([]);
    for (const answer of answers) {
      expect(answer.path === 'cache' || answer.path === 'live', answer.path).toBe(true);
      expectExportRows(answer, lists.get(answer.user_id as number) as Row[]);
    }
    const outcomes = await redisOutcomes();
    expect(outcomes.error).toBeGreaterThanOrEqual(1);
    // The breaker opened: most lookups after the kill did not even try Redis.
    expect(outcomes.open).toBeGreaterThan(outcomes.error);
    expect(serve.server.stderr()).toMatch(
      /warning: redis cache redis:\/\/127\.0\.0\.1:\d+: 3 lookups failed in a row \(.+\); answering live/,
    );

    redis = await startRedisServer(port);
    await publishRecommendations({ recs: rankerRecs, redis: redis.url, ttlSeconds: 600 });
    const back = await until('the cache to answer again', async () => (await recommend(users[0])).path === 'cache', 20_000);
    expect(back).toBe(true);
    expect(serve.server.stderr()).toMatch(/redis cache redis:\/\/127\.0\.0\.1:\d+: answering again/);
  }, 180_000);

  it('a Redis that is down at start: one warning line, and the live path answers; a bad URL: exit 2', async () => {
    const down = `redis://127.0.0.1:${await freeLoopbackPort()}`;
    const als = join(artifacts, 'als-temporal-user');
    const started = await startServe(['--model', als, '--redis', down, '--reload-interval-ms', '0'], { env: { RECSYS_QUIET: '0' } });
    try {
      const res = await fetch(`${started.base}/recommend/${users[0]}?k=10`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as Answer).path).toBe('live');
      expect(started.server.stderr()).toContain(`warning: redis cache ${down}: not reachable (connect ECONNREFUSED`);
    } finally {
      started.server.child.kill('SIGTERM');
      expect((await started.server.exited).code).toBe(0);
    }
    const bad = await runCli(['serve', '--model', als, '--redis', 'http://127.0.0.1:6379', '--port', '0']);
    expect(bad.code).toBe(2);
    expect(oneErrorLine(bad)).toBe('error: --redis "http://127.0.0.1:6379": expected a redis:// or rediss:// URL');
  });
});
