import { createReadStream, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { InputError } from '../util/errors.js';
import { log } from '../util/log.js';
import { COMPACTED_DIR, listCompacted, readCompacted } from './compacted.js';
import { compareSegments, parseSegmentName, SEGMENTS_DIR, type SegmentName } from './log-store.js';
import type { ExposureRecord, LogRecord, UserEventRecord } from './records.js';

/**
 * Reading a log directory (docs/events.md): every segment, oldest first, each line validated
 * against the record shapes of records.ts. A line that does not end in a newline at the end of
 * its file is a torn write (a kill -9 during a flush, or a write that failed): always skipped and
 * counted. Any other bad line is skipped, counted and warned about with file:line by default;
 * in strict mode (the events import) it is an InputError naming file, line and field.
 */

const finiteTime = z.number().finite().nonnegative();
const id = z.number().int().nonnegative().max(2147483647);

const shownItemSchema = z
  .object({
    item_id: id,
    position: z.number().int().min(1),
    score: z.number().finite(),
    channel: z.string(),
    propensity: z.number().gt(0).lte(1),
  })
  .strict();

export const exposureRecordSchema = z
  .object({
    kind: z.literal('exposure'),
    request_id: z.string().min(1),
    time: finiteTime,
    user_id: id.nullable(),
    route: z.enum(['user', 'history', 'similar']),
    model: z.string(),
    version: z.string(),
    path: z.string(),
    experiment: z.string().nullable(),
    variant: z.string().nullable(),
    policy: z.string(),
    items: z.array(shownItemSchema),
  })
  .strict();

export const EVENT_TYPE = /^[a-z][a-z_]*$/;

export const userEventRecordSchema = z
  .object({
    kind: z.literal('event'),
    user_id: id,
    item_id: id,
    type: z.string().regex(EVENT_TYPE, 'a lower-case word (letters and _)'),
    request_id: z.string().min(1).nullable(),
    time: finiteTime,
  })
  .strict();

export const logRecordSchema = z.discriminatedUnion('kind', [exposureRecordSchema, userEventRecordSchema]);

/** What a read found besides the records. */
export interface LogReadStats {
  files: number;
  records: number;
  /** Lines that are not a valid record (skipped when not strict). */
  bad: number;
  /** Last lines of a file without their newline: writes torn by a kill or a failed write. */
  torn: number;
}

export function emptyReadStats(): LogReadStats {
  return { files: 0, records: 0, bad: 0, torn: 0 };
}

export interface ReadLogOptions {
  /** A bad line is an InputError naming file:line and field, instead of being skipped. */
  readonly strict?: boolean;
  /** Filled in as the read goes. */
  readonly stats?: LogReadStats;
}

/** Bad lines described in warnings, at most, per read. */
const WARNED_LINES = 5;

/** The segment files of a log directory, oldest first; an InputError when `dir` is not a log directory. */
export function listSegments(dir: string): Array<SegmentName & { readonly path: string }> {
  let names: string[];
  try {
    names = readdirSync(join(dir, SEGMENTS_DIR));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      try {
        readdirSync(dir);
      } catch {
        throw new InputError(`${dir}: no such log directory`);
      }
      return [];
    }
    throw err;
  }
  const segments: Array<SegmentName & { path: string }> = [];
  for (const name of names) {
    const parsed = parseSegmentName(name);
    if (parsed) segments.push({ ...parsed, path: join(dir, SEGMENTS_DIR, name) });
  }
  return segments.sort(compareSegments);
}

/** The files a log directory's contents are read from (what changes when new records arrive). */
export function logFiles(dir: string): string[] {
  const compactedDir = join(dir, COMPACTED_DIR);
  return [
    ...listCompacted(dir).flatMap((m) => [m.exposures, m.events].map((f) => join(compactedDir, f))),
    ...listSegments(dir).map((s) => s.path),
  ];
}

/**
 * Every record of the log in `dir`, streamed file by file: the compacted batches, oldest first,
 * then the segments no batch replaced. Compacting while a read goes on may make the read fail
 * (a segment removed under it); read again.
 */
export async function* readLog(dir: string, opts: ReadLogOptions = {}): AsyncGenerator<LogRecord> {
  const stats = opts.stats ?? emptyReadStats();
  const segments = listSegments(dir);
  const manifests = listCompacted(dir);
  const compacted = new Set(manifests.flatMap((m) => m.segments));
  for (const manifest of manifests) {
    stats.files += 2;
    for await (const record of readCompacted(dir, manifest)) {
      stats.records++;
      yield record;
    }
  }
  yield* readSegments(
    segments.filter((s) => !compacted.has(basename(s.path))).map((s) => s.path),
    { ...opts, stats },
  );
}

/** The records of the given segment files, in that order. */
export async function* readSegments(paths: readonly string[], opts: ReadLogOptions = {}): AsyncGenerator<LogRecord> {
  const stats = opts.stats ?? emptyReadStats();
  const warned = { count: 0 };
  for (const path of paths) {
    stats.files++;
    yield* readSegment(path, stats, opts.strict ?? false, warned);
  }
  if (warned.count > WARNED_LINES) log.warn(`${warned.count} bad log lines skipped in all (the first ${WARNED_LINES} are named above)`);
}

/** The log's records split by kind, each sorted by time (stable: a writer's order is kept on ties). */
export interface LogContents {
  readonly exposures: ExposureRecord[];
  readonly events: UserEventRecord[];
  readonly stats: LogReadStats;
}

/** The whole log in memory, for analyses (A/B reports, off-policy evaluation). */
export async function readLogInto(dir: string, opts: Omit<ReadLogOptions, 'stats'> = {}): Promise<LogContents> {
  const stats = emptyReadStats();
  const exposures: ExposureRecord[] = [];
  const events: UserEventRecord[] = [];
  for await (const r of readLog(dir, { ...opts, stats })) {
    if (r.kind === 'exposure') exposures.push(r);
    else events.push(r);
  }
  exposures.sort((a, b) => a.time - b.time);
  events.sort((a, b) => a.time - b.time);
  return { exposures, events, stats };
}

async function* readSegment(path: string, stats: LogReadStats, strict: boolean, warned: { count: number }): AsyncGenerator<LogRecord> {
  let rest = '';
  let line = 0;
  const stream = createReadStream(path, { encoding: 'utf8' });
  for await (const chunk of stream as AsyncIterable<string>) {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const text of lines) {
      line++;
      const record = parseLine(path, line, text, strict, stats, warned);
      if (record) yield record;
    }
  }
  if (rest !== '') stats.torn++;
}

function parseLine(
  path: string,
  line: number,
  text: string,
  strict: boolean,
  stats: LogReadStats,
  warned: { count: number },
): LogRecord | null {
  const problem = parseRecord(text);
  if (typeof problem !== 'string') {
    stats.records++;
    return problem;
  }
  const message = `${path}:${line}: ${problem}`;
  if (strict) throw new InputError(message);
  stats.bad++;
  if (warned.count++ < WARNED_LINES) log.warn(`${message} (skipped)`);
  return null;
}

/** The record a line of JSON holds, or what is wrong with it (naming the field). */
export function parseRecord(text: string): LogRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not a JSON object';
  }
  const parsed = logRecordSchema.safeParse(value);
  if (parsed.success) return parsed.data as LogRecord;
  const issue = parsed.error.issues[0];
  const field = issue.path.join('.');
  return `${field === '' ? 'record' : `field ${field}`}: ${issue.message}`;
}
