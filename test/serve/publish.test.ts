import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPipeline } from '../../src/pipeline/load.js';
import { runPipeline } from '../../src/pipeline/runner.js';
import { metaKey, pointerKey, userKey } from '../../src/serve/cache/protocol.js';
import { publishRecommendations } from '../../src/serve/cache/redis-publish.js';
import { readCachedRecommendations } from '../../src/serve/cache/redis-read.js';
import { InputError } from '../../src/util/errors.js';
import { runCli, startCli } from '../cli-runner.js';
import { ML_SMALL, tempDir } from '../helpers.js';
import { CHANNELS, expectSameList, listsOf, type Row, versionOf, writeSyntheticRecs } from './recs-fixture.js';
import { freeLoopbackPort, type RedisServer, startRedisServer } from './redis-server.js';

/**
 * `recsys publish` against a real redis-server on a loopback port: the keys, values and TTLs
 * a publish leaves, read back independently of the reader; the pointer switch seen by a
 * reader polling during a publish; a publish killed half-way; a foreign key under the prefix;
 * a server that is not there.
 */
const TTL = 3600;

let server: RedisServer;
let redis: Redis;
const work = tempDir();

beforeAll(async () => {
  server = await startRedisServer();
  redis = new Redis(server.url);
});

afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

/** A synthetic recs file `name`.parquet in this file's work directory. */
function writeRecs(name: string, users: number, k: number, seed: number): Promise<string> {
  return writeSyntheticRecs(join(work, `${name}.parquet`), users, k, seed);
}

describe('recsys publish into a real redis-server', () => {
  it('writes every user list, the meta and the pointer, each key expiring at the same instant', async () => {
    const recs = await writeRecs('keys', 300, 12, 1);
    const version = versionOf(recs);
    const ns = { prefix: 'keys', name: 'recs' };
    const r = await runCli([
      'publish',
      '--recs',
      recs,
      '--redis',
      server.url,
      '--ttl',
      String(TTL),
      '--prefix',
      'keys',
      '--batch',
      '64',
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { version: string; previous: string | null; users: number; rows: number };
    const lists = await listsOf(recs);
    expect(report).toMatchObject({ version, previous: null, users: 300, rows: [...lists.values()].flat().length });

    expect(await redis.get(pointerKey(ns))).toBe(version);
    expect((await redis.keys('keys:*')).length).toBe(300 + 2);
    const meta = JSON.parse((await redis.get(metaKey(ns, version))) ?? 'null') as Record<string, unknown>;
    expect(meta).toMatchObject({
      version,
      channels: CHANNELS,
      k: 12,
      users: 300,
      rows: report.rows,
      name: 'recs',
      artifact: null,
      // The sidecar's model: the version of the model that computed the lists.
      model: { name: 'synthetic', version: '1' },
    });
    const expiry = await redis.pexpiretime(pointerKey(ns));
    expect(expiry - Date.now()).toBeGreaterThan((TTL - 60) * 1000);
    expect(expiry - Date.now()).toBeLessThanOrEqual(TTL * 1000);
    expect(await redis.pexpiretime(metaKey(ns, version))).toBe(expiry);
    for (const [user, rows] of lists) {
      const key = userKey(ns, version, user);
      const stored = JSON.parse((await redis.get(key)) ?? 'null') as [number, number, number][];
      expect(stored.map(([item, score, channel]) => [item, Math.fround(score), CHANNELS[channel]])).toEqual(
        rows.map((row) => [row.item_id, Math.fround(row.score), row.channel]),
      );
      expect(await redis.pexpiretime(key)).toBe(expiry);
    }
  });

  it('readCachedRecommendations answers from the current version; null for an unknown user or an empty cache', async () => {
    const recs = await writeRecs('reader', 40, 8, 2);
    const report = await publishRecommendations({ recs, redis: server.url, ttlSeconds: TTL, prefix: 'reader' });
    const lists = await listsOf(recs);
    for (const [user, rows] of lists) {
      const got = await readCachedRecommendations(redis, 'recs', user, 'reader');
      expect(got?.version).toBe(report.version);
      expect(got?.model).toEqual({ name: 'synthetic', version: '2' });
      expectSameList(got, rows);
    }
    expect(await readCachedRecommendations(redis, 'recs', 11, 'reader')).toBeNull();
    expect(await readCachedRecommendations(redis, 'recs', 10, 'nothing-here')).toBeNull();
  });

  it('a reader polling during the publish of a new version sees one complete version at a time, then the new one', async () => {
    const users = 3000;
    const [v1, v2] = [await writeRecs('switch-1', users, 10, 3), await writeRecs('switch-2', users, 10, 4)];
    const expected = new Map([
      [versionOf(v1), await listsOf(v1)],
      [versionOf(v2), await listsOf(v2)],
    ]);
    await publishRecommendations({ recs: v1, redis: server.url, ttlSeconds: TTL, prefix: 'switch' });
    const reader = new Redis(server.url);
    const seen: string[] = [];
    const readOnce = async (u: number): Promise<void> => {
      const user = 10 + 3 * (u % users);
      const got = await readCachedRecommendations(reader, 'recs', user, 'switch');
      const want = expected.get(got?.version ?? '')?.get(user);
      expect(want, `user ${user}: no list or an unknown version ${got?.version}`).toBeDefined();
      expectSameList(got, want as Row[]);
      if (seen.at(-1) !== got?.version) seen.push(got?.version as string);
    };
    try {
      await readOnce(0);
      let done = false;
      const publishing = publishRecommendations({
        recs: v2,
        redis: server.url,
        ttlSeconds: TTL,
        prefix: 'switch',
        batchUsers: 100,
      }).finally(() => (done = true));
      let reads = 0;
      while (!done) await readOnce(reads++ * 7919);
      expect((await publishing).previous).toBe(versionOf(v1));
      await readOnce(reads++);
      // Versions only move forward: v1 until the switch, v2 after it, never back and forth.
      expect(seen).toEqual([versionOf(v1), versionOf(v2)]);
      expect(reads).toBeGreaterThan(0);
    } finally {
      reader.disconnect();
    }
  });

  let big: Promise<string> | undefined;

  it.each(['SIGTERM', 'SIGKILL'] as const)(
    'a publish killed half-way (%s) leaves the pointer on the old version; publishing again completes',
    async (signal) => {
      const prefix = `kill-${signal}`;
      const ns = { prefix, name: 'recs' };
      const old = await writeRecs(`${prefix}-old`, 20, 5, 5);
      big ??= writeRecs('kill-big', 20_000, 20, 6);
      const bigFile = await big;
      const oldVersion = (await publishRecommendations({ recs: old, redis: server.url, ttlSeconds: TTL, prefix })).version;
      const before = await redis.dbsize();
      const { child, closed } = startCli(['publish', '--recs', bigFile, '--redis', server.url, '--prefix', prefix, '--batch', '50']);
      // Killed once its first batches are in Redis.
      while ((await redis.dbsize()) < before + 100) await new Promise((resolve) => setTimeout(resolve, 5));
      child.kill(signal);
      // Once its output is closed: all of what it wrote to stderr.
      const { code, signal: killedBy, stderr } = await closed;
      expect({ code, signal: killedBy }).toEqual(signal === 'SIGTERM' ? { code: 143, signal: null } : { code: null, signal });
      if (signal === 'SIGTERM') expect(stderr).toMatch(/interrupted by SIGTERM: the pointer stays on the version it named/);

      const bigVersion = versionOf(bigFile);
      expect(await redis.get(pointerKey(ns))).toBe(oldVersion);
      expect(await redis.exists(metaKey(ns, bigVersion))).toBe(0);
      const half = await redis.keys(`${prefix}:recs:v:${bigVersion}:u:*`);
      expect(half.length).toBeGreaterThan(0);
      expect(half.length).toBeLessThan(20_000);
      expect(await redis.pttl(half[0])).toBeGreaterThan(0);
      expectSameList(await readCachedRecommendations(redis, 'recs', 10, prefix), (await listsOf(old)).get(10) as Row[]);

      const again = await publishRecommendations({ recs: bigFile, redis: server.url, ttlSeconds: TTL, prefix });
      expect(again).toMatchObject({ version: bigVersion, previous: oldVersion, users: 20_000 });
      expect(await redis.get(pointerKey(ns))).toBe(bigVersion);
    },
    60_000,
  );

  it('a publish whose pointer another publish switched meanwhile does not switch it back', async () => {
    const ns = { prefix: 'race', name: 'recs' };
    const [first, slow, quick] = [
      await writeRecs('race-1', 10, 3, 9),
      await writeRecs('race-2', 20_000, 20, 10),
      await writeRecs('race-3', 10, 3, 11),
    ];
    await publishRecommendations({ recs: first, redis: server.url, ttlSeconds: TTL, prefix: 'race' });
    const before = await redis.dbsize();
    const slowPublish = publishRecommendations({ recs: slow, redis: server.url, ttlSeconds: TTL, prefix: 'race', batchUsers: 50 });
    slowPublish.catch(() => {});
    while ((await redis.dbsize()) < before + 100) await new Promise((resolve) => setTimeout(resolve, 5));
    const quickReport = await publishRecommendations({ recs: quick, redis: server.url, ttlSeconds: TTL, prefix: 'race' });
    expect(quickReport.previous).toBe(versionOf(first));
    await expect(slowPublish).rejects.toThrow(
      `race:recs:current changed from ${versionOf(first)} to ${versionOf(quick)} while publishing (another publish?); not switching`,
    );
    expect(await redis.get(pointerKey(ns))).toBe(versionOf(quick));
  }, 60_000);

  it('refuses a prefix whose pointer another program wrote, and leaves its keys as they were', async () => {
    const recs = await writeRecs('foreign', 5, 3, 7);
    await redis.set('foreign:recs:current', 'not a version');
    await redis.hset('hashed:recs:current', 'a', '1');
    await redis.set('fake:recs:current', 'v1');
    await redis.set('fake:recs:v:v1:meta', '{"some": "json"}');
    const r = await runCli(['publish', '--recs', recs, '--redis', server.url, '--prefix', 'foreign']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'error: redis key foreign:recs:current holds something that is not a version name, not written by recsys publish; ' +
        'refusing to touch it (choose another --prefix or --name)\n',
    );
    for (const [prefix, why] of [
      ['hashed', 'is a hash'],
      ['fake', 'points at "v1", whose fake:recs:v:v1:meta is not a cache meta'],
    ]) {
      const publishing = publishRecommendations({ recs, redis: server.url, prefix });
      await expect(publishing).rejects.toThrow(InputError);
      await expect(publishing).rejects.toThrow(`redis key ${prefix}:recs:current ${why}, not written by recsys publish`);
    }
    expect(await redis.get('foreign:recs:current')).toBe('not a version');
    expect(await redis.hgetall('hashed:recs:current')).toEqual({ a: '1' });
    expect((await redis.keys('fake:*')).sort()).toEqual(['fake:recs:current', 'fake:recs:v:v1:meta']);
    expect(await redis.get('fake:recs:v:v1:meta')).toBe('{"some": "json"}');
  });

  it('a server that is not there, a bad URL, a changed file: one line each, exit 1 or 2', async () => {
    const recs = await writeRecs('errors', 5, 3, 8);
    const down = await runCli(['publish', '--recs', recs, '--redis', `redis://127.0.0.1:${await freeLoopbackPort()}`]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^error: redis:\/\/127\.0\.0\.1:\d+: cannot reach Redis \(.*ECONNREFUSED.*\)\n$/);

    const bad = await runCli(['publish', '--recs', recs, '--redis', 'http://127.0.0.1:6379']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('error: --redis "http://127.0.0.1:6379": expected a redis:// or rediss:// URL\n');

    writeFileSync(recs, 'changed');
    const changed = await runCli(['publish', '--recs', recs, '--redis', server.url, '--prefix', 'errors']);
    expect(changed.code).toBe(2);
    expect(changed.stderr).toMatch(
      new RegExp(`^error: ${recs}: sha256 [0-9a-f]{64} differs from [0-9a-f]{64} recorded in ${recs}.manifest.json`),
    );
    expect(await redis.keys('errors:*')).toEqual([]);

    await expect(publishRecommendations({ recs: join(work, 'none.parquet'), redis: server.url })).rejects.toThrow(InputError);
    const empty = await writeRecs('empty', 0, 3, 8);
    await expect(publishRecommendations({ recs: empty, redis: server.url, prefix: 'errors' })).rejects.toThrow(
      `${empty}: no recommendations`,
    );
    expect(await redis.keys('errors:*')).toEqual([]);
  });
});

describe('the publish step of a pipeline file', () => {
  const file = (step: string): string => {
    const path = join(tempDir(), 'p.yaml');
    writeFileSync(
      path,
      `name: t\ndata: {in: ${ML_SMALL}, out: /tmp/x}\nsplits: {tu: {strategy: temporal-user}}\nsteps:\n  - kind: import\n  - kind: split\n` +
        `  - kind: train\n    model: popularity\n  - kind: recommend\n    model: popularity\n${step}`,
    );
    return path;
  };

  it('validates its options at load and plans a publication of the recommend step export', () => {
    const p = loadPipeline(file('  - kind: publish\n    model: popularity\n    redis: redis://:secret@127.0.0.1:6390\n    ttl: 600\n'));
    const [unit] = p.steps[4].plan();
    expect(unit.output).toBe('publish-popularity-tu');
    expect(unit.config).toEqual({
      model: 'popularity',
      split: 'tu',
      redis: 'redis://:***@127.0.0.1:6390',
      ttl: 600,
      prefix: 'recsys',
      name: 'recs-popularity-tu',
    });
    const saved = process.env.REDIS_URL;
    delete process.env.REDIS_URL;
    try {
      expect(() => loadPipeline(file('  - kind: publish\n    model: popularity\n    ttl: 5\n'))).toThrow(
        /steps\[4\]\.ttl: Number must be greater than or equal to 60/,
      );
      expect(() => loadPipeline(file('  - kind: publish\n    model: als\n    redis: ftp://x\n    prefix: "a:b"\n'))).toThrow(
        /steps\[4\]\.model: no recommend step before this one exports "als".*steps\[4\]\.redis: redis "ftp:\/\/x": expected a redis:\/\/.*steps\[4\]\.prefix: prefix "a:b"/s,
      );
      expect(() => loadPipeline(file('  - kind: publish\n    model: popularity\n'))).toThrow(/steps\[4\]\.redis: no Redis server/);
    } finally {
      if (saved !== undefined) process.env.REDIS_URL = saved;
    }
  });

  it('runs: the recs.parquet of the recommend step is published under its artifact version, and again on the next run', async () => {
    const dir = tempDir();
    const path = join(dir, 'p.yaml');
    writeFileSync(
      path,
      `name: t\nartifacts: ${join(dir, 'artifacts')}\ndata: {in: ${ML_SMALL}, out: ${join(dir, 'data')}}\n` +
        'splits: {tu: {strategy: temporal-user}}\nsteps:\n  - kind: import\n  - kind: split\n  - kind: train\n    model: popularity\n' +
        `  - kind: recommend\n    model: popularity\n    k: 5\n  - kind: publish\n    model: popularity\n    redis: \${REDIS_URL}\n    prefix: step\n`,
    );
    const saved = process.env.REDIS_URL;
    process.env.REDIS_URL = server.url;
    try {
      const first = await runPipeline(loadPipeline(path));
      const recsDir = first.units.find((u) => u.kind === 'recommend')?.dir as string;
      const modelDir = first.units.find((u) => u.kind === 'train')?.dir as string;
      const published = first.units.find((u) => u.kind === 'publish');
      const manifestOf = (dir: string): { name: string; version: string } =>
        JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { name: string; version: string };
      const version = manifestOf(recsDir).version;
      const model = { name: manifestOf(modelDir).name, version: manifestOf(modelDir).version };
      expect(model.name).toBe('popularity-tu');
      const report = JSON.parse(readFileSync(join(published?.dir as string, 'publish.json'), 'utf8')) as Record<string, unknown>;
      expect(report).toMatchObject({ name: 'recs-popularity-tu', prefix: 'step', version, previous: null, users: 610, rows: 610 * 5 });
      const lists = await listsOf(join(recsDir, 'recs.parquet'));
      for (const user of [1, 414, 610]) {
        const got = await readCachedRecommendations(redis, 'recs-popularity-tu', user, 'step');
        expect(got?.version).toBe(version);
        // The recs artifact's lineage: the model artifact version that computed the lists.
        expect(got?.model).toEqual(model);
        expectSameList(got, lists.get(user) as Row[]);
      }
      // The cache lives outside the artifact root: an unchanged run publishes again (and extends the TTL).
      const second = await runPipeline(loadPipeline(path));
      expect(second.units.map((u) => `${u.kind} ${u.status}`)).toEqual([
        'import skipped',
        'split skipped',
        'train skipped',
        'recommend skipped',
        'publish ran',
      ]);
      const again = JSON.parse(readFileSync(join(second.units[4].dir, 'publish.json'), 'utf8')) as Record<string, unknown>;
      expect(again).toMatchObject({ version, previous: version, users: 610 });
    } finally {
      if (saved === undefined) delete process.env.REDIS_URL;
      else process.env.REDIS_URL = saved;
    }
  }, 60_000);
});
