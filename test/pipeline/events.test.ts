import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDatasetMeta } from '../../src/data/dataset.js';
import { LocalLogStore } from '../../src/events/log-store.js';
import { loadPipeline } from '../../src/pipeline/load.js';
import { runPipeline, type PipelineOutcome } from '../../src/pipeline/runner.js';
import { withDuckDb } from '../../src/util/duckdb.js';
import { tempDir } from '../helpers.js';
import { event, exposure } from '../events/log-records.js';

const T0 = 1_700_000_000;

function rowsOf(o: PipelineOutcome): Record<string, [string, number | null]> {
  return Object.fromEntries(o.units.map((u) => [u.label, [u.status, u.rows]]));
}

describe('a pipeline whose data names an event log', () => {
  it('imports the base data with the logged clicks and purchases appended, and trains again when the log grows', async () => {
    const work = tempDir();
    // The base: 6 users × 5 items, 30 ratings a day apart.
    const lines = ['user,item,rating,ts'];
    for (let u = 1; u <= 6; u++) for (let i = 1; i <= 5; i++) lines.push(`${u},${i},4,${T0 + (u * 5 + i) * 86400}`);
    writeFileSync(join(work, 'base.csv'), `${lines.join('\n')}\n`);
    const logs = join(work, 'logs');
    mkdirSync(logs);
    const file = join(work, 'p.yaml');
    writeFileSync(
      file,
      `name: loop\nartifacts: ${work}/a\n` +
        `data:\n  format: csv\n  in: ${work}/base.csv\n  out: ${work}/data\n  columns: {user: user, item: item, rating: rating, timestamp: ts}\n` +
        `  events: {logs: ${logs}, weights: {click: 1, purchase: 5}}\n` +
        'splits: {tu: {strategy: temporal-user, frac: 0.8}}\nsteps:\n  - kind: import\n  - kind: split\n  - kind: train\n    model: popularity\n',
    );
    const p = loadPipeline(file);
    expect(rowsOf(await runPipeline(p))).toEqual({
      import: ['ran', 30],
      'split tu': ['ran', 30],
      'train popularity-tu': ['ran', null],
    });

    // A day of serving: every user is shown item 9 and clicks it; user 1 also buys item 7; views are not positive.
    const store = new LocalLogStore({ dir: logs });
    const t = (T0 + 60 * 86400) * 1000;
    for (let u = 1; u <= 6; u++) {
      store.append(exposure(`r${u}`, t + u, u, [9, 7]));
      store.append(event(u, 9, 'view', t + u + 1));
      store.append(event(u, 9, 'click', t + u + 2, `r${u}`));
    }
    store.append(event(1, 7, 'purchase', t + 100));
    await store.close();

    const second = rowsOf(await runPipeline(p));
    expect(second.import).toEqual(['ran', 37]);
    expect(second['split tu']).toEqual(['ran', 37]);
    expect(second['train popularity-tu'][0]).toBe('ran');
    const data = join(work, 'data');
    expect(readDatasetMeta(data).counts).toMatchObject({ interactions: 37, items: 7 });
    const rows = await withDuckDb(
      async (con) =>
        (
          await con.runAndReadAll(
            `SELECT item_id, sum(rating)::INT FROM '${data}/interactions.parquet' WHERE item_id > 5 GROUP BY 1 ORDER BY 1`,
          )
        ).getRowsJS() as unknown[][],
    );
    expect(rows).toEqual([
      [7, 5],
      [9, 6],
    ]);
    // Unchanged log and base: nothing runs again.
    expect(Object.values(rowsOf(await runPipeline(p))).map((r) => r[0])).toEqual(['skipped', 'skipped', 'skipped']);
  });
});
