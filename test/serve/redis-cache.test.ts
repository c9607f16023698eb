import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRedisCache, type RedisCacheOptions } from '../../src/serve/cache/redis-cache.js';
import { publishRecommendations } from '../../src/serve/cache/redis-publish.js';
import { RECS_SIDECAR_SUFFIX } from '../../src/serve/recs-file.js';
import type { CachedAnswer, CacheOutcome, RecsCache } from '../../src/serve/types.js';
import { runProcess } from '../cli-runner.js';
import { tempDir } from '../helpers.js';
import { expectSameList, listsOf, type Row, versionOf, writeSyntheticRecs } from './recs-fixture.js';
import { freeLoopbackPort, type RedisServer, startRedisServer } from './redis-server.js';

/**
 * The server's read path of the published batch recommendations (`openRedisCache`) against a
 * real redis-server: hits only for the model version that computed the lists, and a Redis that
 * is killed, hung and brought back: each lookup ends within its timeout, then the breaker stops
 * asking, then the cache answers again by itself.
 */
/**
 * Longer than the default: on a 2-core machine shared with other tests a loaded process may not
 * run for tens of milliseconds, and a lookup that timed out for that reason fails a test.
 */
const TIMEOUT_MS = 100;
const RESET_MS = 400;
// Lookups of a process under load may end late.
const SLACK_MS = 100;
const USERS = 50;
/** The sidecar of a synthetic file names model version String(seed). */
const SEED = 4;
const MODEL_VERSION = String(SEED);

let server: RedisServer;
const work = tempDir();
let recs: string;
let lists: Map<number, Row[]>;

beforeAll(async () => {
  server = await startRedisServer();
  recs = await writeSyntheticRecs(join(work, 'recs.parquet'), USERS, 10, SEED);
  lists = await listsOf(recs);
});

afterAll(async () => {
  await server?.stop();
});

/** Publishes the synthetic file under `prefix` (of this file's server unless `redis` says otherwise). */
function publish(prefix: string, file = recs, redis = server.url): Promise<unknown> {
  return publishRecommendations({ recs: file, redis, prefix, ttlSeconds: 600 });
}

interface Lookup {
  readonly outcome: CacheOutcome;
  readonly ms: number;
  readonly got: CachedAnswer | null;
}

/** A cache whose outcomes are recorded, and one timed lookup of it. */
async function openRecorded(opts: Partial<RedisCacheOptions> & { prefix: string }): Promise<{
  cache: RecsCache;
  lookup: (user: number, modelVersion?: string) => Promise<Lookup>;
}> {
  const outcomes: CacheOutcome[] = [];
  const cache = await openRedisCache({
    url: server.url,
    name: 'recs',
    timeoutMs: TIMEOUT_MS,
    resetMs: RESET_MS,
    onOutcome: (o) => outcomes.push(o),
    ...opts,
  });
  const lookup = async (user: number, modelVersion = MODEL_VERSION): Promise<Lookup> => {
    const started = performance.now();
    const got = await cache.get(user, modelVersion);
    const ms = performance.now() - started;
    expect(outcomes).toHaveLength(1);
    const outcome = outcomes.pop() as CacheOutcome;
    if (outcome === 'hit') expectSameList(got, lists.get(user) as Row[]);
    else expect(got).toBeNull();
    return { outcome, ms, got };
  };
  return { cache, lookup };
}

/** Looks up `user` every 20 ms until a hit, for at most `withinMs`; the outcomes seen meanwhile. */
async function untilHit(lookup: (user: number) => Promise<Lookup>, user: number, withinMs: number): Promise<CacheOutcome[]> {
  const seen: CacheOutcome[] = [];
  const deadline = performance.now() + withinMs;
  while (performance.now() < deadline) {
    const { outcome } = await lookup(user);
    if (seen.at(-1) !== outcome) seen.push(outcome);
    if (outcome === 'hit') return seen;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return seen;
}

describe('openRedisCache: the server reads the published recommendations from Redis', () => {
  it('a hit for the model version that computed the lists; stale for another version or none recorded; a miss for an unknown user', async () => {
    await publish('versions');
    // Not about time: a budget no loaded machine misses.
    const { cache, lookup } = await openRecorded({ prefix: 'versions', timeoutMs: 5000 });
    try {
      for (const user of lists.keys()) {
        const { outcome, got } = await lookup(user);
        expect(outcome).toBe('hit');
        expect(got?.cacheVersion).toBe(versionOf(recs));
      }
      expect((await lookup(10, `${MODEL_VERSION}0`)).outcome).toBe('stale');
      // Raw ids are 10, 13, 16, ...: 11 is nobody.
      expect((await lookup(11)).outcome).toBe('miss');
    } finally {
      await cache.close();
    }
    // Nothing published under the prefix at all.
    const empty = await openRecorded({ prefix: 'nothing', timeoutMs: 5000 });
    expect((await empty.lookup(10)).outcome).toBe('miss');
    await empty.cache.close();

    // A stand-alone file whose sidecar names no model: its lists cannot be matched to a served model.
    const anonymous = await writeSyntheticRecs(join(work, 'anonymous.parquet'), USERS, 10, SEED);
    const sidecar = `${anonymous}${RECS_SIDECAR_SUFFIX}`;
    const { model, ...withoutModel } = JSON.parse(readFileSync(sidecar, 'utf8')) as Record<string, unknown>;
    expect(model).toEqual({ name: 'synthetic', version: MODEL_VERSION });
    writeFileSync(sidecar, JSON.stringify(withoutModel));
    await publish('anonymous', anonymous);
    const unknown = await openRecorded({ prefix: 'anonymous', timeoutMs: 5000 });
    expect((await unknown.lookup(10)).outcome).toBe('stale');
    await unknown.cache.close();
  });

  it('Redis killed (SIGKILL): null at once, then the breaker answers without asking; restarted on its port: hits again after the reset timeout', async () => {
    // A server of its own, killed and restarted: the others' stays up whatever happens here.
    let own = await startRedisServer();
    await publish('outage', recs, own.url);
    const { cache, lookup } = await openRecorded({ url: own.url, prefix: 'outage', failuresToOpen: 3 });
    try {
      // (Retried: a lookup of a process the loaded machine did not run for TIMEOUT_MS is not the point here.)
      expect((await untilHit(lookup, 10, 5000)).at(-1)).toBe('hit');
      await own.kill('SIGKILL');

      const failing = [await lookup(10), await lookup(13), await lookup(16)];
      expect(failing.map((l) => l.outcome)).toEqual(['error', 'error', 'error']);
      for (const l of failing) expect(l.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
      const open: Lookup[] = [];
      for (let i = 0; i < 1000; i++) open.push(await lookup(10 + 3 * (i % USERS)));
      expect(new Set(open.map((l) => l.outcome))).toEqual(new Set(['open']));
      const meanMs = open.reduce((sum, l) => sum + l.ms, 0) / open.length;
      expect(meanMs).toBeLessThan(0.5);

      own = await startRedisServer(own.port);
      // A new redis-server without persistence: empty until published again.
      await publish('outage', recs, own.url);
      const started = performance.now();
      const seen = await untilHit(lookup, 10, 10_000);
      expect(seen.at(-1)).toBe('hit');
      // The breaker stays open for up to RESET_MS from its last failed trial, then lets one lookup through.
      expect(performance.now() - started).toBeLessThan(RESET_MS + 2500);
    } finally {
      await cache.close();
      await own.stop();
    }
  });

  it('Redis hung (SIGSTOP): each lookup gives up after its timeout, then the breaker answers without asking; resumed: hits again', async () => {
    await publish('hung');
    const { cache, lookup } = await openRecorded({ prefix: 'hung', failuresToOpen: 2 });
    try {
      expect((await untilHit(lookup, 10, 5000)).at(-1)).toBe('hit');
      await server.kill('SIGSTOP');
      const failing = [await lookup(10), await lookup(13)];
      expect(failing.map((l) => l.outcome)).toEqual(['error', 'error']);
      for (const l of failing) {
        // Waited for the answer for the whole budget, and not much longer.
        expect(l.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 1);
        expect(l.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
      }
      const open = [await lookup(10), await lookup(13), await lookup(16)];
      expect(open.map((l) => l.outcome)).toEqual(['open', 'open', 'open']);
      // Not asked: asking the hung server takes the whole timeout.
      for (const l of open) expect(l.ms).toBeLessThan(TIMEOUT_MS / 2);
      // Still hung after the reset timeout: the one trial lookup times out and the breaker opens again.
      await new Promise((resolve) => setTimeout(resolve, RESET_MS + 50));
      const trial = await lookup(10);
      expect(trial.outcome).toBe('error');
      expect(trial.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 1);
      expect((await lookup(10)).outcome).toBe('open');

      await server.kill('SIGCONT');
      const seen = await untilHit(lookup, 10, RESET_MS + 2000);
      expect(seen).toEqual(['open', 'hit']);
    } finally {
      await server.kill('SIGCONT');
      await cache.close();
    }
  });

  it('close() lets the process end, and ioredis prints nothing, with Redis up or down', async () => {
    await publish('closing');
    const module = new URL('../../dist/serve/cache/redis-cache.js', import.meta.url).pathname;
    const script = (url: string): string =>
      `import { openRedisCache } from ${JSON.stringify(module)};\n` +
      `const cache = await openRedisCache({ url: ${JSON.stringify(url)}, name: 'recs', prefix: 'closing' });\n` +
      `const got = await cache.get(13, ${JSON.stringify(MODEL_VERSION)});\n` +
      'await cache.close();\n' +
      'console.log(got === null ? "null" : got.items.length);\n';
    const up = await runProcess(process.execPath, ['--input-type=module', '-e', script(server.url)], { timeout: 20_000 });
    expect(up).toMatchObject({ code: 0, signal: null, stdout: '10\n', stderr: '' });

    const down = `redis://127.0.0.1:${await freeLoopbackPort()}`;
    const started = performance.now();
    const r = await runProcess(process.execPath, ['--input-type=module', '-e', script(down)], { timeout: 20_000 });
    expect(r).toMatchObject({ code: 0, signal: null, stdout: 'null\n' });
    expect(r.stderr).toBe(
      `warning: redis cache ${down}: not reachable (connect ECONNREFUSED ${down.slice('redis://'.length)}); answering live until it is\n`,
    );
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
