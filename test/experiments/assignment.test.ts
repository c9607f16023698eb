import { execFileSync } from 'node:child_process';
import chisquareCdf from '@stdlib/stats-base-dists-chisquare-cdf';
import { describe, expect, it } from 'vitest';
import { assignVariant, BUCKETS, bucketOf, type Experiment, parseExperiment } from '../../src/experiments/experiment.js';
import { runProcess } from '../cli-runner.js';

const USERS = 1_000_000;

const experiment = (id: string, salt: string, shares: number[]): Experiment =>
  parseExperiment({ id, salt, start: '2026-01-01T00:00:00Z', variants: shares.map((share, i) => ({ name: `v${i}`, share })) }, 'test');

/** Pearson's χ² of independence of an r × c table of counts, and its p-value on (r − 1)(c − 1) df. */
function independence(table: number[][]): { statistic: number; p: number } {
  const total = table.flat().reduce((s, v) => s + v, 0);
  const rows = table.map((r) => r.reduce((s, v) => s + v, 0));
  const cols = table[0].map((_, j) => table.reduce((s, r) => s + r[j], 0));
  let statistic = 0;
  table.forEach((r, i) =>
    r.forEach((o, j) => {
      const e = (rows[i] * cols[j]) / total;
      statistic += ((o - e) * (o - e)) / e;
    }),
  );
  const df = (rows.length - 1) * (cols.length - 1);
  return { statistic, p: 1 - chisquareCdf(statistic, df) };
}

describe('hash assignment', () => {
  it('computes the bucket as the first 8 bytes of sha256("salt:id:user") modulo 10,000, as sha256sum does', () => {
    const digest = execFileSync('sha256sum', { input: 'pepper:exp-7:123456' }).toString().slice(0, 16);
    expect(bucketOf({ id: 'exp-7', salt: 'pepper' }, 123456)).toBe(Number(BigInt(`0x${digest}`) % BigInt(BUCKETS)));
  });

  it('spreads 1,000,000 users uniformly over the 10,000 buckets (χ² on 9,999 df)', () => {
    const counts = new Float64Array(BUCKETS);
    const exp = { id: 'uniformity', salt: 'salt-1' };
    for (let u = 0; u < USERS; u++) counts[bucketOf(exp, u)]++;
    const expected = USERS / BUCKETS;
    let statistic = 0;
    for (const o of counts) statistic += ((o - expected) * (o - expected)) / expected;
    const p = 1 - chisquareCdf(statistic, BUCKETS - 1);
    expect(p).toBeGreaterThan(0.001);
    // A hash that put 5 % more users in the first half of the buckets would be caught.
    let skewed = 0;
    counts.forEach((o, b) => {
      const shifted = o * (b < BUCKETS / 2 ? 1.05 : 0.95);
      skewed += ((shifted - expected) * (shifted - expected)) / expected;
    });
    expect(1 - chisquareCdf(skewed, BUCKETS - 1)).toBeLessThan(0.001);
  });

  it('splits users independently in experiments with different salts, and identically with the same', () => {
    const first = experiment('ranker-test', 'a', [0.5, 0.3, 0.2]);
    const second = experiment('ranker-test', 'b', [0.5, 0.5]);
    const twin = experiment('ranker-test', 'a', [0.5, 0.3, 0.2]);
    const users = 100_000;
    const table = [
      [0, 0],
      [0, 0],
      [0, 0],
    ];
    const same = [
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ];
    const index = (e: Experiment, u: number): number => e.variants.indexOf(assignVariant(e, u));
    for (let u = 0; u < users; u++) {
      const i = index(first, u);
      table[i][index(second, u)]++;
      same[i][index(twin, u)]++;
    }
    expect(independence(table).p).toBeGreaterThan(0.001);
    // The shares hold: 50/30/20 within 4 standard errors.
    table.forEach((row, i) => {
      const share = first.variants[i].share;
      expect(Math.abs(row[0] + row[1] - users * share)).toBeLessThan(4 * Math.sqrt(users * share * (1 - share)));
    });
    // The same salt and id: the second split is the first one, as dependent as it gets.
    expect(independence(same).p).toBe(0);
  });

  it('gives the same users the same variants in a new process', async () => {
    const exp = experiment('stable', 'fixed-salt', [0.34, 0.33, 0.33]);
    const ids = Array.from({ length: 2000 }, (_, i) => i * 7919);
    const here = ids.map((u) => assignVariant(exp, u).name);
    const module = new URL('../../dist/experiments/experiment.js', import.meta.url).href;
    const script = `const { assignVariant } = await import(${JSON.stringify(module)});
const exp = ${JSON.stringify(exp)};
process.stdout.write(JSON.stringify(${JSON.stringify(ids)}.map((u) => assignVariant(exp, u).name)));`;
    const child = await runProcess(process.execPath, ['--input-type=module', '-e', script]);
    expect(child.code, child.stderr).toBe(0);
    expect(JSON.parse(child.stdout)).toEqual(here);
    expect(new Set(here).size).toBe(3);
  });
});
