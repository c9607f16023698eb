import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { withDuckDb } from '../../src/data/parquet.js';
import { readLogInto } from '../../src/events/log-reader.js';
import { LocalLogStore } from '../../src/events/log-store.js';
import type { ExposureRecord, LogRecord } from '../../src/events/records.js';
import { assignVariant, loadExperiment } from '../../src/experiments/experiment.js';
import { planSampleSize } from '../../src/experiments/plan.js';
import { abReport } from '../../src/experiments/report.js';
import { Rng } from '../../src/util/rng.js';
import { oneErrorLine, runCli } from '../cli-runner.js';
import { exposureRecord, shownItems } from '../events/log-records.js';

const START = Date.parse('2026-01-01T00:00:00Z');
const HOUR = 3_600_000;
const EXPERIMENT = `# popularity against the ranker, 50/50
id: ranker-vs-pop
salt: 2026-01
start: 2026-01-01T00:00:00Z
end: 2026-01-08T00:00:00Z
control: pop
variants:
  - { name: pop, share: 0.5, model: artifacts/popularity }
  - { name: ranker, share: 0.5, model: artifacts/ranker }
`;

async function writeLog(dir: string, records: readonly LogRecord[]): Promise<void> {
  const store = new LocalLogStore({ dir });
  for (const r of records) store.append(r);
  await store.close();
}

let requests = 0;
function exposure(user: number, time: number, variant: string | null): ExposureRecord {
  return exposureRecord({
    request_id: `q${++requests}`,
    time,
    user_id: user,
    model: variant ?? 'als',
    experiment: variant === null ? null : 'ranker-vs-pop',
    variant,
    items: shownItems(
      Array.from({ length: 5 }, (_, i) => (user * 7 + i * 13) % 50),
      'x',
    ),
  });
}

/** 400 users over a week, a quarter with a day of history before it; the ranker's users click more. */
function simulatedLogs(experimentFile: string): LogRecord[] {
  const experiment = loadExperiment(experimentFile);
  const rng = new Rng(11);
  const records: LogRecord[] = [];
  const clicks = (x: ExposureRecord, rate: number, t: number): void => {
    for (const item of x.items) {
      if (rng.next() < rate)
        records.push({
          kind: 'event',
          user_id: x.user_id as number,
          item_id: item.item_id,
          type: 'click',
          request_id: x.request_id,
          time: t,
        });
    }
  };
  for (let user = 1; user <= 400; user++) {
    const taste = 0.2 * rng.next();
    if (user % 4 === 0) {
      const pre = exposure(user, START - 20 * HOUR + user, null);
      records.push(pre);
      clicks(pre, taste, pre.time + 1000);
    }
    const variant = assignVariant(experiment, user).name;
    for (let k = 0; k <= rng.int(3); k++) {
      const x = exposure(user, START + (1 + rng.int(150)) * HOUR, variant);
      records.push(x);
      clicks(x, variant === 'ranker' ? taste * 1.3 : taste, x.time + 5000);
      if (rng.next() < 0.05)
        records.push({
          kind: 'event',
          user_id: user,
          item_id: x.items[0].item_id,
          type: 'purchase',
          request_id: x.request_id,
          time: x.time + 9000,
        });
    }
  }
  records.push(exposure(7, START + 200 * HOUR, 'pop')); // after the end
  return records;
}

describe('recsys ab', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recsys-ab-'));
  const experimentFile = join(dir, 'experiment.yaml');
  const logDir = join(dir, 'logs');
  writeFileSync(experimentFile, EXPERIMENT);

  beforeAll(async () => {
    await writeLog(logDir, simulatedLogs(experimentFile));
  });

  it('reports what DuckDB counts over the same log files, and what the library reports', async () => {
    const run = await runCli(['ab', 'report', '--experiment', experimentFile, '--logs', logDir, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    // The CLI prints the library's report.
    const logs = await readLogInto(logDir);
    expect(report).toEqual(JSON.parse(JSON.stringify(abReport(loadExperiment(experimentFile), logs, { source: logDir }))));
    // An independent count: SQL over the JSON-lines segments, clicks joined by request id.
    const end = START + 7 * 24 * HOUR;
    const rows = await withDuckDb(async (con) => {
      await con.run(`CREATE TABLE r AS SELECT * FROM read_json_auto('${logDir}/segments/*.jsonl', format = 'newline_delimited')`);
      await con.run(
        `CREATE TABLE x AS SELECT * FROM r WHERE kind = 'exposure' AND experiment = 'ranker-vs-pop' AND time >= ${START} AND time < ${end}`,
      );
      const result = await con.runAndReadAll(`
        WITH shown AS (SELECT variant, request_id, unnest(items).item_id AS item_id FROM x),
             clicked AS (SELECT DISTINCT request_id, item_id FROM r WHERE kind = 'event' AND type IN ('click', 'purchase')),
             clicks AS (SELECT variant, count(*) AS clicks FROM shown JOIN clicked USING (request_id, item_id) GROUP BY variant),
             per AS (SELECT variant, count(DISTINCT user_id) AS users, count(*) AS exposures, sum(len(items)) AS shown FROM x GROUP BY variant)
        SELECT per.variant, users, exposures, shown, clicks FROM per JOIN clicks USING (variant) ORDER BY variant`);
      return result.getRows().map((row) => [String(row[0]), ...row.slice(1).map(Number)]);
    });
    const byName = Object.fromEntries(report.variants.map((v: { name: string }) => [v.name, v]));
    expect(rows.map((r) => r[0])).toEqual(['pop', 'ranker']);
    for (const [name, users, exposures, shown, clicks] of rows) {
      expect(byName[name]).toMatchObject({ users, exposures, shown, clicks, ctr: (clicks as number) / (shown as number) });
    }
    expect(report.variants[0].users + report.variants[1].users).toBe(400);
    expect(report.variants.reduce((s: number, v: { users_with_pre_period: number }) => s + v.users_with_pre_period, 0)).toBe(100);
    expect(report.conversion_event).toBe('purchase');
    expect(report.comparisons.map((c: { metric: string }) => c.metric)).toEqual(['ctr', 'clicks_per_user', 'conversion']);
  });

  it('prints a table with the split check and one line per comparison, and --metric picks one', async () => {
    const run = await runCli(['ab', 'report', '--experiment', experimentFile, '--logs', logDir, '--metric', 'ctr']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^experiment ranker-vs-pop: 2026-01-01T00:00:00Z to 2026-01-08T00:00:00Z, control pop$/m);
    expect(run.stdout).toMatch(/^variant +share +users +exposures/m);
    expect(run.stdout).toMatch(/^sample ratio: χ² = [\d.]+ on 1 df, p = [\d.]+: ok$/m);
    expect(run.stdout).toMatch(/^ctr +ranker +[\d.]+ +[\d.]+ +[+-][\d.]+% +\[/m);
    expect(run.stdout).not.toMatch(/^clicks_per_user/m);
    expect(run.stdout).toMatch(/^CUPED: 100 of 400 users have a pre-period/m);
  });

  it('refuses bad input with one line and exit 2', async () => {
    const other = join(dir, 'other-logs');
    await writeLog(other, [{ ...exposure(3, START + HOUR, 'pop'), variant: 'treatment' }]);
    const unknown = await runCli(['ab', 'report', '--experiment', experimentFile, '--logs', other]);
    expect(unknown.code).toBe(2);
    expect(oneErrorLine(unknown)).toMatch(`${other}: variant "treatment" of experiment ranker-vs-pop`);
    const none = join(dir, 'no-experiment-logs');
    await writeLog(none, [exposure(3, START + HOUR, null)]);
    const empty = await runCli(['ab', 'report', '--experiment', experimentFile, '--logs', none]);
    expect(empty.code).toBe(2);
    expect(oneErrorLine(empty)).toMatch(`${none}: no exposures of experiment ranker-vs-pop between`);
    const missing = await runCli(['ab', 'report', '--experiment', join(dir, 'missing.yaml'), '--logs', logDir]);
    expect(missing.code).toBe(2);
    expect(oneErrorLine(missing)).toMatch('missing.yaml: cannot read the experiment file');
    const badMetric = await runCli(['ab', 'report', '--experiment', experimentFile, '--logs', logDir, '--metric', 'ndcg']);
    expect(badMetric.code).toBe(2);
    expect(badMetric.stderr).toMatch('--metric must be one of ctr, clicks_per_user, conversion');
  });

  it('plans the users per variant, absolute mde by default', async () => {
    const text = await runCli(['ab', 'plan', '--baseline', '0.05', '--mde', '0.02']);
    expect(text.code, text.stderr).toBe(0);
    const n = planSampleSize({ baseline: 0.05, mde: 0.02 }).users_per_variant;
    expect(text.stdout).toBe(`${n} users per variant to detect 0.05 → 0.07 (two-sided α = 0.05, power 0.8)\n`);
    const bad = await runCli(['ab', 'plan', '--baseline', '5', '--mde', '0.02']);
    expect(bad.code).toBe(2);
    expect(oneErrorLine(bad)).toBe('error: --baseline must be between 0 and 1 (exclusive), got 5');
  });
});
