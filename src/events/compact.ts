import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { DuckDBAppender } from '@duckdb/node-api';
import { quoteIdent, quoteString, withDuckDb } from '../util/duckdb.js';
import { RecsysError } from '../util/errors.js';
import { makeDirs, tempPathFor, writeJsonAtomic } from '../util/fs.js';
import { log } from '../util/log.js';
import { COMPACTED_DIR, type CompactedManifest, EVENT_COLUMNS, EXPOSURE_COLUMNS, listCompacted } from './compacted.js';
import { emptyReadStats, listSegments, readSegments } from './log-reader.js';
import type { ExposureRecord, UserEventRecord } from './records.js';

/**
 * `recsys events compact`: the segments no writer appends to any more become one batch of two
 * Parquet files (compacted.ts gives the layout), then are removed. Closed segments qualify, and
 * open ones whose writer (pid) no longer runs on this host: a killed server's last segment. Bad
 * and torn lines are not carried over (they are counted and reported).
 */
export interface CompactResult {
  /** The batch written (its manifest's name without .json), or null when there was nothing to compact. */
  readonly batch: string | null;
  readonly segments: number;
  readonly exposures: number;
  readonly exposureRows: number;
  readonly events: number;
  /** Lines dropped: not a valid record, or torn. */
  readonly bad: number;
  readonly torn: number;
}

const LOCK_FILE = '.compact.lock';

export async function compactLog(dir: string): Promise<CompactResult> {
  const compactedDir = join(dir, COMPACTED_DIR);
  const done = new Set(listCompacted(dir).flatMap((m) => m.segments));
  // A segment a batch already holds (a compaction that crashed before removing it) is only removed.
  const segments = listSegments(dir).filter((s) => !s.open || !running(s.pid));
  const fresh = segments.filter((s) => !done.has(basename(s.path)));
  const stale = segments.filter((s) => done.has(basename(s.path)));
  const empty: CompactResult = { batch: null, segments: 0, exposures: 0, exposureRows: 0, events: 0, bad: 0, torn: 0 };
  if (fresh.length === 0) {
    for (const s of stale) rmSync(s.path, { force: true });
    return empty;
  }
  makeDirs(compactedDir);
  const release = lock(join(compactedDir, LOCK_FILE));
  try {
    const batch = `${Date.now()}-${process.pid}`;
    const stats = emptyReadStats();
    const names = { exposures: `${batch}.exposures.parquet`, events: `${batch}.events.parquet` };
    const counts = await writeBatch(
      readSegments(
        fresh.map((s) => s.path),
        { stats },
      ),
      join(compactedDir, names.exposures),
      join(compactedDir, names.events),
    );
    const manifest: CompactedManifest = {
      format_version: 1,
      created_at: new Date().toISOString(),
      segments: fresh.map((s) => basename(s.path)),
      ...names,
      counts,
    };
    writeJsonAtomic(join(compactedDir, `${batch}.json`), manifest);
    for (const s of [...fresh, ...stale]) rmSync(s.path, { force: true });
    if (stats.bad + stats.torn > 0) log.warn(`${dir}: ${stats.bad} bad and ${stats.torn} torn log lines were not carried into ${batch}`);
    log.event('events.compact', { dir, batch, segments: fresh.length, ...counts });
    return {
      batch,
      segments: fresh.length,
      exposures: counts.exposures,
      exposureRows: counts.exposure_rows,
      events: counts.events,
      bad: stats.bad,
      torn: stats.torn,
    };
  } finally {
    release();
  }
}

/** Whether a process with this pid runs on this host (a process of another user counts). */
function running(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One compaction per log directory at a time; a lock left by a process that died is taken over. */
function lock(path: string): () => void {
  try {
    writeFileSync(path, String(process.pid), { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const holder = Number(readFileSync(path, 'utf8'));
    if (Number.isInteger(holder) && running(holder)) {
      throw new RecsysError(`${path}: another compaction (pid ${holder}) is running on this log; try again when it ends`);
    }
    writeFileSync(path, String(process.pid));
  }
  return () => rmSync(path, { force: true });
}

/** Appends the records into two DuckDB tables and writes each as Parquet (temporary name, then rename). */
async function writeBatch(
  records: AsyncIterable<ExposureRecord | UserEventRecord>,
  exposuresPath: string,
  eventsPath: string,
): Promise<CompactedManifest['counts']> {
  return withDuckDb(async (con) => {
    const create = (table: string, columns: ReadonlyArray<readonly [string, string]>) =>
      con.run(`CREATE TABLE ${table}(${columns.map(([name, type]) => `${quoteIdent(name)} ${type}`).join(', ')})`);
    await create('exposures', EXPOSURE_COLUMNS);
    await create('events', EVENT_COLUMNS);
    const exposures = await con.createAppender('exposures');
    const events = await con.createAppender('events');
    const counts = { exposures: 0, exposure_rows: 0, events: 0 };
    for await (const r of records) {
      if (r.kind === 'event') {
        appendRow(events, [r.user_id, r.item_id, r.type, r.request_id, r.time], EVENT_COLUMNS);
        counts.events++;
        continue;
      }
      const head = [
        counts.exposures,
        r.request_id,
        r.time,
        r.user_id,
        r.route,
        r.model,
        r.version,
        r.path,
        r.experiment,
        r.variant,
        r.policy,
      ];
      for (const item of r.items) {
        appendRow(exposures, [...head, item.item_id, item.position, item.score, item.channel, item.propensity], EXPOSURE_COLUMNS);
      }
      // An exposure that showed nothing still counts (A/B exposure counts): one row without an item.
      if (r.items.length === 0) appendRow(exposures, [...head, null, null, null, null, null], EXPOSURE_COLUMNS);
      counts.exposures++;
      counts.exposure_rows += Math.max(1, r.items.length);
    }
    exposures.closeSync();
    events.closeSync();
    for (const [table, path] of [
      ['exposures', exposuresPath],
      ['events', eventsPath],
    ] as const) {
      const tmp = tempPathFor(path);
      try {
        await con.run(`COPY ${table} TO ${quoteString(tmp)} (FORMAT parquet, COMPRESSION zstd)`);
        renameSync(tmp, path);
      } catch (err) {
        rmSync(tmp, { force: true });
        throw err;
      }
    }
    return counts;
  });
}

type Cell = string | number | null;

function appendRow(appender: DuckDBAppender, row: readonly Cell[], columns: ReadonlyArray<readonly [string, string]>): void {
  row.forEach((value, i) => {
    if (value === null) appender.appendNull();
    else if (columns[i][1] === 'VARCHAR') appender.appendVarchar(value as string);
    else if (columns[i][1] === 'INTEGER') appender.appendInteger(value as number);
    else appender.appendDouble(value as number);
  });
  appender.endRow();
}
