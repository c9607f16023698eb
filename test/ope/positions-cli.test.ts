import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalLogStore } from '../../src/events/log-store.js';
import type { LogRecord } from '../../src/events/records.js';
import { swapPolicy } from '../../src/explore/swap.js';
import { estimatePositionBias } from '../../src/ope/position-bias.js';
import { Rng } from '../../src/util/rng.js';
import { oneErrorLine, runCli } from '../cli-runner.js';
import { asPlaced, ClickLog, PLANTED_THETA, randomItems } from './click-logs.js';

async function writeLog(dir: string, records: readonly LogRecord[]): Promise<void> {
  const store = new LocalLogStore({ dir });
  for (const r of records) store.append(r);
  await store.close();
}

describe('recsys positions', () => {
  const root = mkdtempSync(join(tmpdir(), 'positions-cli-'));
  const swapLogs = join(root, 'swap');
  const fixedLogs = join(root, 'fixed');
  const log = new ClickLog(PLANTED_THETA.slice(0, 5), (_, item) => 0.2 + (item % 5) / 10, new Rng(1));

  beforeAll(async () => {
    const rng = new Rng(2);
    const policy = swapPolicy(0.8);
    for (let r = 0; r < 3000; r++) {
      const ranked = randomItems(rng, 50, 5).map((item_id, j) => ({ item_id, score: -j, channel: 'als' }));
      log.show(r % 100, policy.place(ranked, { k: 5, userId: r % 100, random: () => rng.next() }), policy.name);
    }
    await writeLog(swapLogs, log.records());
    const fixed = new ClickLog(PLANTED_THETA, () => 0.3, new Rng(3));
    for (let r = 0; r < 200; r++) fixed.show(r, asPlaced([1, 2, 3], 1), 'greedy');
    await writeLog(fixedLogs, fixed.records());
  });

  it('prints, as JSON, the report the library computes from the same logs', async () => {
    for (const method of ['swap', 'em'] as const) {
      const run = await runCli(['positions', '--logs', swapLogs, '--method', method, '--bootstrap', '20', '--seed', '5', '--json']);
      expect(run.code, run.stderr).toBe(0);
      const printed = JSON.parse(run.stdout);
      const expected = estimatePositionBias(log.attributed(), { method, bootstrap: 20, seed: 5 });
      expect(printed.positions).toEqual(expected.positions);
      expect(printed).toMatchObject({ method, exposures: 3000, bootstrap: 20, seed: 5, logs: { dir: swapLogs, unattributedPositives: 0 } });
      expect(printed.logs.read.records).toBe(log.records().length);
    }
  });

  it('prints a table with a row per position', async () => {
    const run = await runCli(['positions', '--logs', swapLogs, '--method', 'swap', '--bootstrap', '10']);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^position bias by swap from 3000 exposures of .*: 95 % bootstrap interval of 10 replicates \(seed 42\)$/);
    expect(lines[1].split(/\s+/)).toEqual(['position', 'theta', 'low', 'high', 'observations', 'clicks']);
    expect(lines.slice(2).map((l) => l.trim().split(/\s+/)[0])).toEqual(['1', '2', '3', '4', '5']);
    expect(lines[2].trim().split(/\s+/).slice(1, 4)).toEqual(['1.0000', '1.0000', '1.0000']);
  });

  it('answers bad input with one line and exit code 2', async () => {
    const missing = await runCli(['positions', '--logs', join(root, 'nowhere')]);
    expect(missing.code).toBe(2);
    expect(oneErrorLine(missing)).toMatch(/nowhere: no such log directory/);
    const fixed = await runCli(['positions', '--logs', fixedLogs]);
    expect(fixed.code).toBe(2);
    expect(oneErrorLine(fixed)).toMatch(/cannot identify θ/);
  });
});
