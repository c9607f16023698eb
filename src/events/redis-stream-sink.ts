import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { InputError, RecsysError } from '../util/errors.js';
import { writeJsonAtomic } from '../util/fs.js';
import { log } from '../util/log.js';
import { BatchedLogSink, DEFAULT_FLUSH_INTERVAL_MS, DEFAULT_MAX_QUEUE, LocalLogStore } from './log-store.js';
import { parseRecord } from './log-reader.js';
import type { LogRecord } from './records.js';

/**
 * The Redis Streams sink (docs/events.md), for several servers logging to one place: every
 * flush sends the queued records as one pipeline of `XADD <stream> MAXLEN ~ <maxLen> * r <json>`.
 * Delivery is at most once: while Redis is unreachable records wait in the bounded queue (what
 * overflows it is dropped and counted); a pipeline that fails or times out counts its records
 * as dropped rather than resending what Redis may already hold. The client never queues
 * commands offline and reconnects by itself, so appends never block or throw.
 */
export const DEFAULT_STREAM = 'recsys:log';
/** About a day of a busy server; `MAXLEN ~` lets Redis trim whole macro nodes, cheaply. */
export const DEFAULT_STREAM_MAX_LEN = 1_000_000;
const DEFAULT_TIMEOUT_MS = 1000;
const MAX_RECONNECT_DELAY_MS = 2000;
/** The stream entry field that holds the record's JSON. */
const FIELD = 'r';

export interface RedisStreamOptions {
  /** redis://HOST:PORT (the caller validates it: serve's parseRedisUrl). */
  readonly url: string;
  readonly stream?: string;
  readonly maxLen?: number;
  readonly flushIntervalMs?: number;
  readonly maxQueue?: number;
  /** A pipeline or connection attempt that takes longer fails (its records dropped). */
  readonly timeoutMs?: number;
}

/** An ioredis client that reconnects by itself and never queues commands while disconnected. */
function streamClient(url: string, timeoutMs: number): Redis {
  return new Redis(url, {
    commandTimeout: timeoutMs,
    connectTimeout: timeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(100 * attempt, MAX_RECONNECT_DELAY_MS),
  });
}

export class RedisStreamSink extends BatchedLogSink {
  private readonly client: Redis;
  private readonly stream: string;
  private readonly maxLen: string;
  private readonly timeoutMs: number;
  /** The connection's trouble is reported once, and again once it works. */
  private failing = false;

  constructor(opts: RedisStreamOptions) {
    super(opts.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS, opts.maxQueue ?? DEFAULT_MAX_QUEUE);
    this.stream = opts.stream ?? DEFAULT_STREAM;
    this.maxLen = String(opts.maxLen ?? DEFAULT_STREAM_MAX_LEN);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.client = streamClient(opts.url, this.timeoutMs);
    this.client.on('error', (err: Error) => this.trouble(err.message));
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    // A short-lived process may close before the first connection is up: give it that long.
    if (this.queue.length > 0 && this.client.status !== 'ready') await this.ready(this.timeoutMs);
    await this.flush();
    this.closed = true;
    this.stats.dropped += this.queue.length;
    this.queue = [];
    if (this.client.status === 'ready') await this.client.quit().catch(() => this.client.disconnect());
    else this.client.disconnect();
  }

  protected async writeQueue(): Promise<void> {
    if (this.queue.length === 0 || this.client.status !== 'ready') return;
    const batch = this.queue;
    this.queue = [];
    const pipeline = this.client.pipeline();
    for (const json of batch) pipeline.xadd(this.stream, 'MAXLEN', '~', this.maxLen, '*', FIELD, json);
    try {
      const results = (await pipeline.exec()) ?? [];
      const failed = results.filter(([err]) => err !== null).length + (batch.length - results.length);
      this.stats.written += batch.length - failed;
      this.stats.dropped += failed;
      if (failed > 0) this.trouble(String(results.find(([err]) => err !== null)?.[0] ?? 'no reply'));
      else this.recovered();
    } catch (err) {
      this.stats.writeErrors++;
      this.stats.dropped += batch.length;
      this.trouble((err as Error).message);
    }
  }

  private ready(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.client.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.client.once('ready', done);
    });
  }

  private trouble(message: string): void {
    if (!this.failing) log.warn(`event log stream ${this.stream}: ${message}; records wait (up to ${this.maxQueue}) or are dropped`);
    this.failing = true;
  }

  private recovered(): void {
    if (this.failing) log.info(`event log stream ${this.stream}: writing again`);
    this.failing = false;
  }
}

/** One stream entry: its id and record. */
export interface StreamEntry {
  readonly id: string;
  readonly record: LogRecord;
}

/** Entries read per XRANGE. */
const RANGE_COUNT = 1000;

/**
 * The stream's entries after `after` (an entry id; from the start when absent), oldest first, as
 * records. An entry that is not a valid record is an error naming stream and id.
 */
export async function* readRedisStream(client: Redis, stream: string, after?: string): AsyncGenerator<StreamEntry> {
  let start = after === undefined ? '-' : `(${after}`;
  for (;;) {
    const entries = await client.xrange(stream, start, '+', 'COUNT', RANGE_COUNT);
    for (const [id, fields] of entries) {
      const at = fields.indexOf(FIELD);
      const json = at >= 0 && at % 2 === 0 ? fields[at + 1] : undefined;
      const record = parseRecord(json ?? '');
      if (typeof record === 'string') throw new InputError(`redis stream ${stream} entry ${id}: ${record}`);
      yield { id, record };
    }
    if (entries.length < RANGE_COUNT) return;
    start = `(${entries[entries.length - 1][0]}`;
  }
}

/** Which entry of each stream a log directory has drained up to (`<dir>/redis-drain.json`). */
export const DRAIN_CHECKPOINT = 'redis-drain.json';

export interface DrainResult {
  readonly records: number;
  /** The last entry id drained, or null when nothing has been yet. */
  readonly lastId: string | null;
}

/**
 * Copies the stream's entries not drained before into the local log in `dir` (as a segment of
 * this process), so the import and the analyses read one format; with `trim`, then removes the
 * drained entries from the stream. At least once: a crash between writing the segment and the
 * checkpoint drains those entries again next time.
 */
export async function drainRedisStream(
  client: Redis,
  opts: { readonly stream?: string; readonly dir: string; readonly trim?: boolean },
): Promise<DrainResult> {
  const stream = opts.stream ?? DEFAULT_STREAM;
  const checkpointPath = join(opts.dir, DRAIN_CHECKPOINT);
  const checkpoint = readCheckpoint(checkpointPath);
  const store = new LocalLogStore({ dir: opts.dir, flushIntervalMs: 60_000 });
  let lastId: string | null = checkpoint[stream] ?? null;
  let records = 0;
  try {
    for await (const entry of readRedisStream(client, stream, lastId ?? undefined)) {
      store.append(entry.record);
      lastId = entry.id;
      // Keeps the store's queue (and memory) bounded.
      if (++records % RANGE_COUNT === 0) await store.flush();
    }
  } finally {
    await store.close();
  }
  if (store.stats.dropped > 0 || store.stats.written !== records) {
    throw new RecsysError(
      `${opts.dir}: could not write the drained records (${store.stats.written} of ${records} written); the stream was left as it was`,
    );
  }
  if (records === 0 || lastId === null) return { records, lastId };
  writeJsonAtomic(checkpointPath, { ...checkpoint, [stream]: lastId });
  // MINID keeps the entry at lastId itself; the checkpoint skips it.
  if (opts.trim) await client.xtrim(stream, 'MINID', lastId);
  return { records, lastId };
}

function readCheckpoint(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    value = null;
  }
  const parsed = z.record(z.string()).safeParse(value);
  if (!parsed.success) throw new InputError(`${path}: not a drain checkpoint ({"<stream>": "<last entry id>"})`);
  return parsed.data;
}
