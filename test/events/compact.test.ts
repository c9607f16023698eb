import { spawn } from 'node:child_process';
import { copyFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compactLog } from '../../src/events/compact.js';
import { COMPACTED_DIR } from '../../src/events/compacted.js';
import { readLogInto } from '../../src/events/log-reader.js';
import { LocalLogStore, SEGMENTS_DIR } from '../../src/events/log-store.js';
import type { LogRecord } from '../../src/events/records.js';
import { withDuckDb } from '../../src/util/duckdb.js';
import { oneErrorLine, runCli } from '../cli-runner.js';
import { tempDir } from '../helpers.js';
import { exited } from '../serve/redis-server.js';
import { event, exposure } from './log-records.js';

const segments = (dir: string) => readdirSync(join(dir, SEGMENTS_DIR)).sort();

/** A log of 3 closed segments: exposures (one empty, one without user), events with and without request ids. */
async function writeLog(dir: string): Promise<LogRecord[]> {
  const records: LogRecord[] = [
    exposure('a', 1000, 1, [10, 11, 12]),
    event(1, 11, 'click', 1100, 'a'),
    exposure('b', 2000, null, [13]),
    exposure('c', 3000, 2, []),
    event(2, 12, 'purchase', 3500),
    { ...exposure('d', 4000, 3, [14, 15]), experiment: null, variant: null, policy: 'epsilon-greedy:0.1:candidates' },
  ];
  const line = JSON.stringify(records[0]).length;
  const store = new LocalLogStore({ dir, maxSegmentBytes: 2 * line });
  for (const r of records) {
    store.append(r);
    await store.flush();
  }
  await store.close();
  return records;
}

async function sql(query: string): Promise<unknown[][]> {
  return withDuckDb(async (con) => (await con.runAndReadAll(query)).getRowsJS() as unknown[][]);
}

describe('compaction', () => {
  it('turns closed segments into Parquet the reader reads back as the same records, and removes them', async () => {
    const dir = tempDir();
    const records = await writeLog(dir);
    expect(segments(dir).length).toBeGreaterThan(1);
    // A live writer's open segment stays.
    const live = new LocalLogStore({ dir });
    live.append(event(9, 9, 'view', 5000));
    await live.flush();
    const r = await compactLog(dir);
    expect(r).toMatchObject({ exposures: 4, exposureRows: 3 + 1 + 1 + 2, events: 2, bad: 0, torn: 0 });
    expect(segments(dir)).toEqual([expect.stringMatching(/\.jsonl\.open$/)]);
    const { exposures, events } = await readLogInto(dir);
    expect([...exposures, ...events].sort((a, b) => a.time - b.time)).toEqual([...records, event(9, 9, 'view', 5000)]);

    // The files hold what a person reads in the records: one row per shown item, the empty answer as a null item.
    const files = readdirSync(join(dir, COMPACTED_DIR));
    const exposureFile = join(dir, COMPACTED_DIR, files.find((f) => f.endsWith('.exposures.parquet')) as string);
    const eventFile = join(dir, COMPACTED_DIR, files.find((f) => f.endsWith('.events.parquet')) as string);
    expect(
      await sql(
        `SELECT request_id, count(*)::INT, count(item_id)::INT, sum(position)::INT, min(user_id) FROM '${exposureFile}' GROUP BY 1 ORDER BY 1`,
      ),
    ).toEqual([
      ['a', 3, 3, 6, 1],
      ['b', 1, 1, 1, null],
      ['c', 1, 0, null, 2],
      ['d', 2, 2, 3, 3],
    ]);
    expect(await sql(`SELECT user_id, item_id, type, request_id, time FROM '${eventFile}' ORDER BY time`)).toEqual([
      [1, 11, 'click', 'a', 1100],
      [2, 12, 'purchase', null, 3500],
    ]);

    // A second compaction makes a second batch; the reader reads both, oldest first.
    await live.close();
    const second = await compactLog(dir);
    expect(second).toMatchObject({ segments: 1, exposures: 0, events: 1 });
    expect(segments(dir)).toEqual([]);
    const again = await readLogInto(dir);
    expect(again.events).toEqual([...events]);
    expect(again.exposures).toEqual(exposures);
  });

  it('takes the open segment of a writer that died, and recovers from a compaction that crashed', async () => {
    const dir = tempDir();
    const records = await writeLog(dir);
    // A writer killed with SIGKILL leaves an open segment named with its (now unused) pid.
    const child = spawn(process.execPath, ['-e', '']);
    await exited(child);
    const dead = `1000-${child.pid}-0.jsonl.open`;
    writeFileSync(join(dir, SEGMENTS_DIR, dead), `${JSON.stringify(event(4, 4, 'click', 9000))}\n{"kind":"ev`);
    const before = segments(dir);
    const r = await compactLog(dir);
    expect(r).toMatchObject({ segments: before.length, events: 3, torn: 1 });
    expect(segments(dir)).toEqual([]);

    // A crash after the manifest but before the segments were removed: they come back, and are neither read twice nor compacted again.
    const manifest = readdirSync(join(dir, COMPACTED_DIR)).find((f) => f.endsWith('.json')) as string;
    const first = before.find((n) => n.endsWith('.jsonl')) as string;
    const { exposures, events } = await readLogInto(dir);
    writeFileSync(join(dir, SEGMENTS_DIR, first), `${JSON.stringify(records[0])}\n`);
    // ... and an unfinished batch without a manifest is ignored.
    copyFileSync(join(dir, COMPACTED_DIR, manifest.replace('.json', '.events.parquet')), join(dir, COMPACTED_DIR, '1-1.events.parquet'));
    const reread = await readLogInto(dir);
    expect(reread.exposures).toEqual(exposures);
    expect(reread.events).toEqual(events);
    expect(await compactLog(dir)).toMatchObject({ batch: null });
    expect(segments(dir)).toEqual([]);
  });

  it('recsys events compact: prints what it did; a missing directory is bad input (exit 2)', async () => {
    const dir = tempDir();
    await writeLog(dir);
    const ok = await runCli(['events', 'compact', '--logs', dir, '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ exposures: 4, events: 2 });
    const missing = await runCli(['events', 'compact', '--logs', join(dir, 'nope')]);
    expect(missing.code).toBe(2);
    expect(oneErrorLine(missing)).toMatch(/nope: no such log directory/);
  });
});
