import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { importDataset } from '../../src/data/import.js';
import { LocalLogStore } from '../../src/events/log-store.js';
import { loadServingModel } from '../../src/pipeline/serving.js';
import { trainModel } from '../../src/pipeline/train.js';
import type { OpeRunReport } from '../../src/pipeline/ope.js';
import { fallbackAnswer, liveUserAnswer } from '../../src/serve/serving-model.js';
import { oneErrorLine, runCli, STACK_TRACE } from '../cli-runner.js';
import { ML_SMALL, tempDir } from '../helpers.js';

describe('recsys ope', () => {
  const work = tempDir();
  const logs = join(work, 'logs');
  let model = '';
  let clicks = 0;
  const requests = 300;

  /** Greedy logs of the model itself (propensity 1): every estimator's IPS weight is 1, so the estimate is the logged clicks per request. */
  beforeAll(async () => {
    const data = join(work, 'ml');
    await importDataset({ format: 'movielens', input: ML_SMALL, out: data });
    const trained = await trainModel({
      kind: 'popularity',
      datasetDir: data,
      split: { strategy: 'temporal-user', frac: 0.8 },
      params: {},
      seed: 1,
      out: join(work, 'artifacts/popularity'),
      ks: [5],
    });
    model = trained.dir;
    const serving = await loadServingModel(model);
    const store = new LocalLogStore({ dir: logs });
    for (let r = 0; r < requests; r++) {
      // Users 1..150 twice; user 1000000 is unknown to the model and gets the popularity fallback.
      const userId = r === 0 ? 1_000_000 : (r % 150) + 1;
      const user = serving.model.users.indexOf(userId);
      const answer =
        user < 0 ? fallbackAnswer(serving, userId, 5, new Set(), 'unknown') : liveUserAnswer(serving, userId, user, 5, new Set()).answer;
      const items = answer.items.map((item, p) => ({
        item_id: item.item_id,
        position: p + 1,
        score: item.score,
        channel: item.channel,
        propensity: 1,
      }));
      const time = 1_700_000_000_000 + r * 1000;
      store.append({
        kind: 'exposure',
        request_id: `r${r}`,
        time,
        user_id: userId,
        route: 'user',
        model: 'popularity',
        version: 'v',
        path: 'live',
        experiment: null,
        variant: null,
        policy: 'greedy',
        items,
      });
      // Position 1 clicked for even users, position 3 for multiples of 3.
      for (const p of [userId % 2 === 0 ? 1 : 0, userId % 3 === 0 ? 3 : 0].filter((x) => x > 0)) {
        store.append({
          kind: 'event',
          user_id: userId,
          item_id: items[p - 1].item_id,
          type: 'click',
          request_id: `r${r}`,
          time: time + 10,
        });
        clicks++;
      }
    }
    await store.close();
    await serving.close();
  });

  it("estimates the logging model's own clicks per request exactly from its greedy logs", async () => {
    const r = await runCli(['ope', '--model', model, '--logs', logs, '--k', '5', '--bootstrap', '50', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as OpeRunReport;
    expect(report.requests).toBe(requests);
    expect(report.unsupportedShare).toBe(0);
    expect(report.unshownToUserShare).toBe(0);
    expect(report.warning).toBeNull();
    const byName = Object.fromEntries(report.estimates.map((e) => [e.estimator, e]));
    for (const name of ['ips', 'snips', 'dr', 'pbm']) {
      expect(byName[name].value, name).toBeCloseTo(clicks / requests, 9);
      expect(byName[name].ctr, name).toBeCloseTo(clicks / requests / 5, 9);
      expect(byName[name].interval[0]).toBeLessThanOrEqual(byName[name].value);
      expect(byName[name].interval[1]).toBeGreaterThanOrEqual(byName[name].value);
    }
    // All weights 1 over 5 slots per request: the effective sample size is every slot.
    expect(byName.ips.effectiveSampleSize).toBeCloseTo(5 * requests, 6);
  });

  it('prints a table, and refuses a bad estimator or log directory with one line and exit 2', async () => {
    const table = await runCli(['ope', '--model', model, '--logs', logs, '--k', '5', '--bootstrap', '20', '--estimator', 'snips']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^snips\s+0\.\d{4}\s+\[0\.\d{4}, 0\.\d{4}\]/m);
    const bad = await runCli(['ope', '--model', model, '--logs', logs, '--estimator', 'ipw']);
    expect(bad.code).toBe(2);
    expect(oneErrorLine(bad)).toContain('--estimator must be one of ips, snips, dr, pbm, all');
    const missing = await runCli(['ope', '--model', model, '--logs', join(work, 'nope')]);
    expect(missing.code).toBe(2);
    expect(oneErrorLine(missing)).toContain('no such log directory');
    expect(missing.stderr).not.toMatch(STACK_TRACE);
  });

  it('recommend --all-users refuses a bad --policy with one line naming the wrong part, exit 2', async () => {
    const out = join(work, 'placed.parquet');
    const bad = await runCli(['recommend', '--model', model, '--all-users', '--out', out, '--policy', 'epsilon-greedy:2:fresh']);
    expect(bad.code).toBe(2);
    expect(oneErrorLine(bad)).toContain('policy "epsilon-greedy:2:fresh": EPS "2" is not a number in [0, 1]');
    expect(bad.stderr).not.toMatch(STACK_TRACE);
    const alone = await runCli(['recommend', '--model', model, '--history', '1,2', '--policy', 'greedy']);
    expect(alone.code).toBe(2);
    expect(oneErrorLine(alone)).toContain('--policy goes with --all-users');
  });
});
