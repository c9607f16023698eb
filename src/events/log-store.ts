import { type FileHandle, mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { log } from '../util/log.js';
import type { LogRecord, LogSink } from './records.js';

/**
 * The local log store (docs/events.md): an append-only directory of JSON-lines segment files.
 *
 *   <dir>/segments/<start-ms>-<pid>-<seq>.jsonl.open   the segment a live writer appends to
 *   <dir>/segments/<start-ms>-<pid>-<seq>.jsonl        a closed segment (rotated or closed)
 *
 * `append` only pushes into memory; a timer writes the queue every `flushIntervalMs` with one
 * append to the open segment. So a kill -9 loses at most the records of the last flush interval
 * (plus the write in flight, whose torn last line the reader skips and counts); a power loss
 * also loses what the OS had not written back yet, unless `fsync` is on. Several processes may
 * write to one directory: the pid in the name keeps their segments apart.
 */
export const SEGMENTS_DIR = 'segments';
export const SEGMENT_SUFFIX = '.jsonl';
export const OPEN_SEGMENT_SUFFIX = '.jsonl.open';

export const DEFAULT_FLUSH_INTERVAL_MS = 200;
export const DEFAULT_MAX_SEGMENT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_SEGMENT_AGE_MS = 60 * 60 * 1000;
export const DEFAULT_MAX_QUEUE = 100_000;

export interface LocalLogOptions {
  /** The log directory (created when missing). */
  readonly dir: string;
  readonly flushIntervalMs?: number;
  /** A segment is closed and a new one started before a write would take it past this size. */
  readonly maxSegmentBytes?: number;
  /** ... or once it is this old. */
  readonly maxSegmentAgeMs?: number;
  /** Records waiting for the next flush, at most; beyond it appends are dropped and counted. */
  readonly maxQueue?: number;
  /** fdatasync after every flush: survives a power loss too, at the cost of a disk sync per flush. */
  readonly fsync?: boolean;
}

/** What a sink did since it was opened; `dropped` is what the server exports. */
export interface LogSinkStats {
  /** Records given to `append`: once everything is flushed, written + dropped. */
  appended: number;
  /** Records written to the sink. */
  written: number;
  /** Records lost: the queue was full, or the sink failed for longer than the queue could hold. */
  dropped: number;
  /** Failed writes (each retried at the next flush). */
  writeErrors: number;
}

/** A LogSink that counts what it did. */
export interface CountingLogSink extends LogSink {
  readonly stats: Readonly<LogSinkStats>;
}

export function emptyStats(): LogSinkStats {
  return { appended: 0, written: 0, dropped: 0, writeErrors: 0 };
}

/** The parts of a segment file name; null for a name that is not a segment. */
export interface SegmentName {
  readonly start: number;
  readonly pid: number;
  readonly seq: number;
  readonly open: boolean;
}

const SEGMENT_NAME = /^(\d+)-(\d+)-(\d+)\.jsonl(\.open)?$/;

export function parseSegmentName(name: string): SegmentName | null {
  const m = SEGMENT_NAME.exec(name);
  if (!m) return null;
  return { start: Number(m[1]), pid: Number(m[2]), seq: Number(m[3]), open: m[4] !== undefined };
}

/** Oldest first: by start time, then writer and sequence, so one writer's segments keep their order. */
export function compareSegments(a: SegmentName, b: SegmentName): number {
  return a.start - b.start || a.pid - b.pid || a.seq - b.seq;
}

interface OpenSegment {
  readonly handle: FileHandle;
  readonly path: string;
  readonly started: number;
  bytes: number;
}

/** Per process, across stores: two stores of one process on one directory never share a segment. */
let segmentSeq = 0;

/**
 * What every sink shares: `append` queues the record's JSON (dropping and counting beyond
 * `maxQueue`, so it never blocks or throws), a timer flushes every interval, and flushes run one
 * at a time, in order. A sink says how a batch is written (`writeQueue`) and how it closes.
 */
export abstract class BatchedLogSink implements CountingLogSink {
  readonly stats = emptyStats();
  protected queue: string[] = [];
  /** The flush in progress. */
  protected writing: Promise<void> = Promise.resolve();
  protected readonly timer: NodeJS.Timeout;
  protected closed = false;

  constructor(
    flushIntervalMs: number,
    protected readonly maxQueue: number,
  ) {
    this.timer = setInterval(() => void this.flush(), flushIntervalMs);
    // Logging never keeps a process alive; whoever ends it calls close().
    this.timer.unref();
  }

  append(record: LogRecord): void {
    this.stats.appended++;
    if (this.closed || this.queue.length >= this.maxQueue) {
      this.stats.dropped++;
      return;
    }
    this.queue.push(JSON.stringify(record));
  }

  flush(): Promise<void> {
    this.writing = this.writing.then(() => this.writeQueue());
    return this.writing;
  }

  abstract close(): Promise<void>;

  /** Writes (or keeps for later) what the queue holds. Never throws. */
  protected abstract writeQueue(): Promise<void>;
}

export class LocalLogStore extends BatchedLogSink {
  private segment: OpenSegment | null = null;
  /** A failing disk is reported once, and again once it works. */
  private failing = false;
  private readonly maxSegmentBytes: number;
  private readonly maxSegmentAgeMs: number;

  constructor(private readonly opts: LocalLogOptions) {
    super(opts.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS, opts.maxQueue ?? DEFAULT_MAX_QUEUE);
    this.maxSegmentBytes = opts.maxSegmentBytes ?? DEFAULT_MAX_SEGMENT_BYTES;
    this.maxSegmentAgeMs = opts.maxSegmentAgeMs ?? DEFAULT_MAX_SEGMENT_AGE_MS;
  }

  get dir(): string {
    return this.opts.dir;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    this.closed = true;
    this.writing = this.writing.then(() => this.closeSegment());
    await this.writing;
    // What could not be written by now is lost.
    this.stats.dropped += this.queue.length;
    this.queue = [];
  }

  /** Writes the queue with one append; on failure keeps it for the next flush (within maxQueue). Never throws. */
  protected async writeQueue(): Promise<void> {
    const now = Date.now();
    if (this.segment && now - this.segment.started >= this.maxSegmentAgeMs) await this.closeSegment();
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    const data = Buffer.from(`${batch.join('\n')}\n`);
    try {
      if (this.segment && this.segment.bytes > 0 && this.segment.bytes + data.length > this.maxSegmentBytes) await this.closeSegment();
      this.segment ??= await this.openSegment(now);
      const segment = this.segment;
      await segment.handle.appendFile(data);
      segment.bytes += data.length;
      if (this.opts.fsync) await segment.handle.datasync();
      this.stats.written += batch.length;
      if (this.failing) log.info(`event log ${this.opts.dir}: writing again`);
      this.failing = false;
    } catch (err) {
      this.stats.writeErrors++;
      if (!this.failing) log.warn(`event log ${this.opts.dir}: cannot write (${(err as Error).message}); retrying at every flush`);
      this.failing = true;
      // A partial write may have left a torn line: that segment ends there (the reader skips it).
      await this.closeSegment();
      const keep = Math.max(0, this.maxQueue - this.queue.length);
      this.stats.dropped += Math.max(0, batch.length - keep);
      this.queue = batch.slice(0, keep).concat(this.queue);
    }
  }

  private async openSegment(now: number): Promise<OpenSegment> {
    const dir = join(this.opts.dir, SEGMENTS_DIR);
    await mkdir(dir, { recursive: true });
    const path = join(dir, `${now}-${process.pid}-${segmentSeq++}${OPEN_SEGMENT_SUFFIX}`);
    return { handle: await open(path, 'a'), path, started: now, bytes: 0 };
  }

  /** Closes the open segment and gives it its closed name; a failure leaves it `.open` (the reader reads both). */
  private async closeSegment(): Promise<void> {
    const segment = this.segment;
    if (!segment) return;
    this.segment = null;
    try {
      await segment.handle.close();
      await rename(segment.path, segment.path.slice(0, -'.open'.length));
    } catch {
      // The directory is gone or unwritable: reported by the write that failed.
    }
  }
}
