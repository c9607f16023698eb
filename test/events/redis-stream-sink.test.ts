import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLogInto } from '../../src/events/log-reader.js';
import { openLogSink } from '../../src/events/open-sink.js';
import type { LogRecord } from '../../src/events/records.js';
import { DRAIN_CHECKPOINT, drainRedisStream, readRedisStream, RedisStreamSink } from '../../src/events/redis-stream-sink.js';
import { connectRedis } from '../../src/serve/cache/redis-client.js';
import { tempDir } from '../helpers.js';
import { type RedisServer, startRedisServer } from '../serve/redis-server.js';
import { event, exposure } from './log-records.js';

/** The Redis Streams sink against a real redis-server: round trip, drain, and a server that dies and comes back. */
let server: RedisServer;

beforeAll(async () => {
  server = await startRedisServer();
});

afterAll(async () => {
  await server?.stop();
});

const records = (n: number, user: number): LogRecord[] =>
  Array.from({ length: n }, (_, i) =>
    i % 3 === 0 ? exposure(`u${user}-${i}`, 1000 + i, user, [i, i + 1]) : event(user, i, 'click', 1000 + i),
  );

async function readAll(stream: string): Promise<LogRecord[]> {
  const client = await connectRedis(server.url);
  try {
    const out: LogRecord[] = [];
    for await (const e of readRedisStream(client, stream)) out.push(e.record);
    return out;
  } finally {
    client.disconnect();
  }
}

async function until(what: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the Redis Streams sink', () => {
  it('round-trips records through XADD and XRANGE, in order, and drains them into a local log once', async () => {
    const sink = new RedisStreamSink({ url: server.url, stream: 'rt', flushIntervalMs: 50 });
    const written = records(2500, 1);
    for (const r of written) sink.append(r);
    await sink.close();
    expect(sink.stats).toEqual({ appended: 2500, written: 2500, dropped: 0, writeErrors: 0 });
    expect(await readAll('rt')).toEqual(written);

    const dir = tempDir();
    const client = await connectRedis(server.url);
    try {
      const first = await drainRedisStream(client, { stream: 'rt', dir, trim: true });
      expect(first.records).toBe(2500);
      const { exposures, events } = await readLogInto(dir);
      expect(exposures.length + events.length).toBe(2500);
      expect([...exposures, ...events].sort((a, b) => a.time - b.time)).toEqual(written);
      expect(JSON.parse(readFileSync(join(dir, DRAIN_CHECKPOINT), 'utf8'))).toEqual({ rt: first.lastId });
      // Trimmed: only the last drained entry stays, and a second drain copies nothing again.
      expect(await client.xlen('rt')).toBe(1);
      expect((await drainRedisStream(client, { stream: 'rt', dir })).records).toBe(0);
      await client.xadd('rt', '*', 'r', JSON.stringify(event(5, 5, 'purchase', 9999)));
      expect((await drainRedisStream(client, { stream: 'rt', dir })).records).toBe(1);
      expect((await readLogInto(dir)).events).toHaveLength(events.length + 1);
    } finally {
      client.disconnect();
    }
  });

  it('keeps answering when Redis is killed (appends never throw, losses counted) and writes again after a restart', async () => {
    const local = tempDir();
    const sink = openLogSink({
      local: { dir: local, flushIntervalMs: 50 },
      redis: { url: server.url, stream: 'down', flushIntervalMs: 50, maxQueue: 100, timeoutMs: 200 },
    });
    sink.append(event(1, 1, 'click', 1));
    await until(() => sink.stats.written === 2);
    await server.kill('SIGKILL');
    // The local sink keeps everything; the Redis sink holds up to 100 and drops the rest.
    const started = performance.now();
    for (let i = 0; i < 300; i++) sink.append(event(1, 100 + i, 'click', 2));
    expect(performance.now() - started).toBeLessThan(50);
    await sink.flush();
    await until(() => sink.stats.dropped >= 200);
    server = await startRedisServer(server.port);
    const settled = () => sink.stats.appended === sink.stats.written + sink.stats.dropped;
    // Once it has reconnected, the queue is written.
    await until(settled, 15_000);
    sink.append(event(1, 999, 'click', 3));
    await until(settled);
    await sink.close();
    // Both sinks counted every record (2 × 302); the local one wrote all of its 302.
    expect(sink.stats.appended).toBe(604);
    expect((await readLogInto(local)).events).toHaveLength(302);
    const redisWritten = sink.stats.written - 302;
    // The restarted server (no persistence) holds what was written after the kill: the queued
    // records that survived the outage, in order (none, when the one flush in flight as Redis
    // died took the whole queue with it: delivery is at most once), then the one appended after
    // the restart.
    const stream = await readAll('down');
    expect(stream).toHaveLength(redisWritten - 1);
    const items = stream.map((r) => (r.kind === 'event' ? r.item_id : -1));
    expect(items[items.length - 1]).toBe(999);
    expect(items.slice(0, -1)).toEqual([...items.slice(0, -1)].sort((a, b) => a - b));
    expect(items.slice(0, -1).every((i) => i >= 100 && i < 400)).toBe(true);
  });
});
