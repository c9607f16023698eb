import { appendFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeDataset } from '../../src/data/dataset.js';
import { importEvents, parseEventWeights } from '../../src/data/events-import.js';
import { LocalLogStore, SEGMENTS_DIR } from '../../src/events/log-store.js';
import type { LogRecord } from '../../src/events/records.js';
import { withDuckDb } from '../../src/util/duckdb.js';
import { InputError } from '../../src/util/errors.js';
import { oneErrorLine, runCli } from '../cli-runner.js';
import { interactionsOf, tempDir } from '../helpers.js';
import { event, exposure } from '../events/log-records.js';

const T = 1_700_000_000_000;

/**
 * A hand-made log. Worked by hand: clicks and purchases become interactions (user 3's click on
 * item 99 too, though nothing showed it); the exposures table credits r1's items 11 (click
 * naming r1) and 12 (purchase without a request id: r1 is user 1's latest exposure of 12 before
 * it; r3 comes later), and r2's item 13 (the click 10 s after it). Views and add_to_cart are not
 * positive under click=1,purchase=3.
 */
const LOG: LogRecord[] = [
  exposure('r1', T, 1, [10, 11, 12]),
  { ...exposure('r2', T + 500, 2, [11, 13]), variant: 'B', policy: 'epsilon-greedy:0.5:candidates' },
  event(1, 11, 'click', T + 1000, 'r1'),
  event(1, 12, 'purchase', T + 2000),
  exposure('r3', T + 5000, 1, [12]),
  event(2, 13, 'view', T + 9000),
  event(2, 13, 'click', T + 10_500),
  event(3, 99, 'click', T + 20_000),
  event(1, 10, 'add_to_cart', T + 30_000),
];

async function writeLog(records: readonly LogRecord[]): Promise<string> {
  const dir = tempDir();
  const store = new LocalLogStore({ dir });
  for (const r of records) store.append(r);
  await store.close();
  return dir;
}

async function sql(query: string): Promise<unknown[][]> {
  return withDuckDb(async (con) => (await con.runAndReadAll(query)).getRowsJS() as unknown[][]);
}

describe('data import --format events', () => {
  it('turns positive events into weighted interactions and the exposures into a table of what was shown and clicked', async () => {
    const logs = await writeLog(LOG);
    const out = join(tempDir(), 'ds');
    const meta = await importEvents({ input: logs, out, weights: { click: 1, purchase: 3 } });
    expect(meta.counts).toMatchObject({ interactions: 4, users: 3, items: 4 });
    const s = Math.floor(T / 1000);
    expect(await sql(`SELECT user_id, item_id, rating, timestamp::DOUBLE FROM '${out}/interactions.parquet' ORDER BY timestamp`)).toEqual([
      [1, 11, 1, s + 1],
      [1, 12, 3, s + 2],
      [2, 13, 1, s + 10],
      [3, 99, 1, s + 20],
    ]);
    expect(
      await sql(
        `SELECT request_id, user_id, item_id, position, propensity, variant, policy, clicked, time FROM '${out}/exposures.parquet' ORDER BY time, position`,
      ),
    ).toEqual([
      ['r1', 1, 10, 1, 1, 'control', 'greedy', 0, T],
      ['r1', 1, 11, 2, 1, 'control', 'greedy', 1, T],
      ['r1', 1, 12, 3, 1, 'control', 'greedy', 1, T],
      ['r2', 2, 11, 1, 1, 'B', 'epsilon-greedy:0.5:candidates', 0, T + 500],
      ['r2', 2, 13, 2, 1, 'B', 'epsilon-greedy:0.5:candidates', 1, T + 500],
      ['r3', 1, 12, 1, 1, 'control', 'greedy', 0, T + 5000],
    ]);
    expect(meta.source.params).toMatchObject({ exposures: 3, exposure_rows: 6, events: 6, positive_events: 4, unattributed_positives: 1 });
  });

  it('appends the events to a base dataset, keeping its catalogue', async () => {
    const base = join(tempDir(), 'base');
    await writeDataset(base, {
      interactions: interactionsOf([
        [1, 10, 4, 100],
        [5, 11, 2, 200],
      ]),
      catalog: { itemId: Int32Array.from([10, 11, 12, 13]), title: ['a', 'b', 'c', 'd'], genres: [[], [], [], []] },
      source: { kind: 'test' },
    });
    const out = join(tempDir(), 'ds');
    const meta = await importEvents({ input: await writeLog(LOG), out, base });
    // Default weights: click=1, purchase=1.
    expect(meta.counts).toMatchObject({ interactions: 6, catalog_items: 4 });
    expect(await sql(`SELECT user_id, item_id, rating FROM '${out}/interactions.parquet'`)).toEqual([
      [1, 10, 4],
      [5, 11, 2],
      [1, 11, 1],
      [1, 12, 1],
      [2, 13, 1],
      [3, 99, 1],
    ]);
    expect(readdirSync(out).sort()).toEqual(['dataset.json', 'exposures.parquet', 'interactions.parquet', 'items.parquet']);
  });

  it('refuses bad weights and a bad log line (naming file, line and field) unless skipping', async () => {
    expect(() => parseEventWeights('click=1,purchase=-2')).toThrow(/purchase=.*positive number/);
    expect(() => parseEventWeights('Click=1')).toThrow(InputError);
    expect(parseEventWeights('click=1, purchase=2.5')).toEqual({ click: 1, purchase: 2.5 });
    const logs = await writeLog(LOG);
    const segment = join(logs, SEGMENTS_DIR, readdirSync(join(logs, SEGMENTS_DIR))[0]);
    appendFileSync(segment, '{"kind":"event","user_id":-1,"item_id":1,"type":"click","request_id":null,"time":1}\n');
    const out = join(tempDir(), 'ds');
    await expect(importEvents({ input: logs, out })).rejects.toThrow(`${segment}:10: field user_id`);
    expect(existsSync(out)).toBe(false);
    const meta = await importEvents({ input: logs, out, skipBad: true });
    expect(meta.skipped.rows).toBe(1);
  });

  it('through the command line: a summary, and exit 2 with one line for bad input', async () => {
    const logs = await writeLog(LOG);
    const out = join(tempDir(), 'ds');
    const ok = await runCli([
      'data',
      'import',
      '--format',
      'events',
      '--in',
      logs,
      '--out',
      out,
      '--weights',
      'click=1,purchase=3',
      '--json',
    ]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).counts.interactions).toBe(4);
    const bad = await runCli(['data', 'import', '--format', 'events', '--in', logs, '--out', join(tempDir(), 'x'), '--weights', 'click']);
    expect(bad.code).toBe(2);
    expect(oneErrorLine(bad)).toMatch(/--weights: "click" is not TYPE=WEIGHT/);
  });
});
