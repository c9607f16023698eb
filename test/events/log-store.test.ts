import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLog, readLogInto } from '../../src/events/log-reader.js';
import { LocalLogStore, SEGMENTS_DIR } from '../../src/events/log-store.js';
import type { LogRecord } from '../../src/events/records.js';
import { InputError } from '../../src/util/errors.js';
import { tempDir } from '../helpers.js';
import { exited } from '../serve/redis-server.js';
import { event, exposure } from './log-records.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const segmentNames = (dir: string) => readdirSync(join(dir, SEGMENTS_DIR)).sort();

describe('the local log store', () => {
  it('writes exactly the records appended, in order, and names its segments closed on close', async () => {
    const dir = tempDir();
    const store = new LocalLogStore({ dir });
    const records: LogRecord[] = [
      exposure('r1', 1000, 7, [3, 1, 2]),
      event(7, 1, 'click', 1500, 'r1'),
      exposure('r2', 2000, null, []),
      event(8, 4, 'add_to_cart', 2500),
    ];
    for (const r of records) store.append(r);
    await store.close();
    expect(segmentNames(dir)).toEqual([expect.stringMatching(new RegExp(`^\\d+-${process.pid}-\\d+\\.jsonl$`))]);
    const read: LogRecord[] = [];
    for await (const r of readLog(dir)) read.push(r);
    expect(read).toEqual(records);
    expect(store.stats).toEqual({ appended: 4, written: 4, dropped: 0, writeErrors: 0 });
    // One line per record, each exactly its JSON.
    const text = readFileSync(join(dir, SEGMENTS_DIR, segmentNames(dir)[0]), 'utf8');
    expect(text).toBe(`${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
  });

  it('writes nothing on append and everything within a flush interval, without being asked', async () => {
    const dir = tempDir();
    const store = new LocalLogStore({ dir, flushIntervalMs: 50 });
    store.append(event(1, 2, 'click', 10));
    expect(existsSync(join(dir, SEGMENTS_DIR))).toBe(false);
    const deadline = Date.now() + 5000;
    while ((await readLogInto(dir).catch(() => null))?.events.length !== 1 && Date.now() < deadline) await sleep(20);
    const { events } = await readLogInto(dir);
    expect(events).toEqual([event(1, 2, 'click', 10)]);
    // Still open: the live segment keeps its .open name until rotation or close.
    expect(segmentNames(dir)[0]).toMatch(/\.jsonl\.open$/);
    await store.close();
  });

  it('rotates by size and by age, and the reader reads the segments in order', async () => {
    const dir = tempDir();
    const line = JSON.stringify(event(1, 2, 'click', 10)).length + 1;
    const bySize = new LocalLogStore({ dir, maxSegmentBytes: 3 * line });
    for (let i = 0; i < 10; i++) {
      bySize.append(event(1, i, 'click', 10));
      await bySize.flush();
    }
    await bySize.close();
    // 3 one-line writes fit a segment: 10 records make 4 segments.
    expect(segmentNames(dir)).toHaveLength(4);
    expect((await readLogInto(dir)).events.map((e) => e.item_id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

    const dir2 = tempDir();
    const byAge = new LocalLogStore({ dir: dir2, maxSegmentAgeMs: 30, flushIntervalMs: 1000 });
    for (let i = 0; i < 3; i++) {
      byAge.append(event(1, i, 'view', 10));
      await byAge.flush();
      await sleep(60);
    }
    await byAge.close();
    expect(segmentNames(dir2)).toHaveLength(3);
    expect(segmentNames(dir2).every((n) => n.endsWith('.jsonl'))).toBe(true);
  });

  it('drops and counts what is beyond its queue, never throwing', async () => {
    const dir = tempDir();
    const store = new LocalLogStore({ dir, maxQueue: 10, flushIntervalMs: 60_000 });
    for (let i = 0; i < 25; i++) store.append(event(1, i, 'click', 10));
    expect(store.stats.dropped).toBe(15);
    await store.close();
    expect((await readLogInto(dir)).events.map((e) => e.item_id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(store.stats).toMatchObject({ appended: 25, written: 10, dropped: 15 });
  });

  it('survives a write error: counts it, keeps the records and writes them once it can', async () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    // A file where the segments directory should be: every write fails.
    writeFileSync(join(dir, SEGMENTS_DIR), 'in the way');
    const store = new LocalLogStore({ dir, flushIntervalMs: 60_000 });
    store.append(event(1, 1, 'click', 10));
    await store.flush();
    store.append(event(1, 2, 'click', 20));
    await store.flush();
    expect(store.stats).toMatchObject({ written: 0, writeErrors: 2, dropped: 0 });
    rmSync(join(dir, SEGMENTS_DIR));
    await store.flush();
    expect(store.stats).toMatchObject({ written: 2, writeErrors: 2, dropped: 0 });
    await store.close();
    expect((await readLogInto(dir)).events.map((e) => e.item_id)).toEqual([1, 2]);
  });

  it('two stores of one process on one directory keep separate segments', async () => {
    const dir = tempDir();
    const a = new LocalLogStore({ dir });
    const b = new LocalLogStore({ dir });
    for (let i = 0; i < 100; i++) {
      a.append(event(1, i, 'click', i));
      b.append(event(2, i, 'click', i));
    }
    await Promise.all([a.close(), b.close()]);
    expect(segmentNames(dir)).toHaveLength(2);
    const { events } = await readLogInto(dir);
    expect(events.filter((e) => e.user_id === 1).map((e) => e.item_id)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(events.filter((e) => e.user_id === 2)).toHaveLength(100);
  });
});

const STORE_JS = new URL('../../dist/events/log-store.js', import.meta.url).pathname;

describe('a writer killed with SIGKILL', () => {
  it('loses at most the last flush interval: every record appended earlier is read back, none corrupted', async () => {
    const dir = tempDir();
    const flushIntervalMs = 100;
    // Appends one click per millisecond, item_id counting up, time = when it was appended.
    const script = `
      import { LocalLogStore } from ${JSON.stringify(STORE_JS)};
      const store = new LocalLogStore({ dir: ${JSON.stringify(dir)}, flushIntervalMs: ${flushIntervalMs} });
      let n = 0;
      setInterval(() => {
        for (let k = 0; k < 5; k++) store.append({ kind: 'event', user_id: 1, item_id: n++, type: 'click', request_id: null, time: Date.now() });
        if (n === 500) process.stdout.write('ready\\n');
      }, 1);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await sleep(800);
    const killedAt = Date.now();
    child.kill('SIGKILL');
    await exited(child);

    const { events, stats } = await readLogInto(dir);
    expect(stats.bad).toBe(0);
    const items = events.map((e) => e.item_id);
    // A prefix of what was appended, in order, without gaps or repeats.
    expect(items).toEqual(Array.from({ length: items.length }, (_, i) => i));
    // Slack for a timer that fires late on a loaded machine and for the write itself.
    const slackMs = 400;
    const lastRead = events[events.length - 1].time;
    expect(killedAt - lastRead).toBeLessThan(flushIntervalMs + slackMs);
    expect(items.length).toBeGreaterThan(500);
  });
});

describe('the log reader', () => {
  it('skips and counts a torn last line and a bad line; strict mode names file, line and field', async () => {
    const dir = tempDir();
    const store = new LocalLogStore({ dir });
    store.append(event(1, 1, 'click', 10));
    store.append(event(1, 2, 'click', 20));
    await store.close();
    const file = join(dir, SEGMENTS_DIR, segmentNames(dir)[0]);
    appendFileSync(file, `${JSON.stringify({ ...event(1, 3, 'click', 30), type: 'Click!' })}\n`);
    appendFileSync(file, JSON.stringify(event(1, 4, 'click', 40)).slice(0, 25));
    const { events, stats } = await readLogInto(dir);
    expect(events.map((e) => e.item_id)).toEqual([1, 2]);
    expect(stats).toEqual({ files: 1, records: 2, bad: 1, torn: 1 });
    await expect(readLogInto(dir, { strict: true })).rejects.toThrow(InputError);
    await expect(readLogInto(dir, { strict: true })).rejects.toThrow(`${file}:3: field type: a lower-case word`);
  });

  it('refuses a directory that does not exist, and reads an empty log directory as empty', async () => {
    await expect(readLogInto(join(tempDir(), 'nope'))).rejects.toThrow(/no such log directory/);
    const { exposures, events } = await readLogInto(tempDir());
    expect([exposures.length, events.length]).toEqual([0, 0]);
  });
});
