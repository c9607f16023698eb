import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli-runner.js';
import { ML_SMALL, tempDir } from '../helpers.js';

function readManifestIndex(dir: string): unknown {
  return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).config.index;
}

describe('recsys CLI (built binary)', () => {
  const work = tempDir();
  const data = join(work, 'ml');
  beforeAll(async () => {
    const r = await runCli(['data', 'import', '--format', 'movielens', '--in', ML_SMALL, '--out', data]);
    expect(r.code, r.stderr).toBe(0);
  });

  it('lists every subcommand in --help, and each has its own --help with defaults', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    for (const c of ['data', 'split', 'train', 'eval', 'artifacts']) expect(help.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    const evalHelp = await runCli(['eval', '--help']);
    expect(evalHelp.stdout).toContain('--fail-under');
    expect(evalHelp.stdout).toContain('(default: 0.8)');
  });

  it('eval --json prints the metrics object with the documented keys; --dump-recs writes raw ids', async () => {
    const dump = join(work, 'recs.csv');
    const r = await runCli([
      'eval',
      '--data',
      data,
      '--split',
      'temporal-user',
      '--frac',
      '0.8',
      '--model',
      'popularity',
      '--k',
      '10,20',
      '--json',
      '--dump-recs',
      dump,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout) as Record<string, number>;
    for (const key of [
      'ndcg@10',
      'recall@10',
      'precision@10',
      'map@10',
      'mrr@10',
      'hit_rate@10',
      'coverage@10',
      'diversity@10',
      'novelty@10',
      'arp@10',
      'ndcg@20',
      'users',
    ]) {
      expect(m[key], key).toBeTypeOf('number');
    }
    expect(m['ndcg@10']).toBeCloseTo(0.0853456, 7);
    const lines = readFileSync(dump, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('user_id,item_id,rank');
    expect(lines).toHaveLength(1 + 610 * 20);
    // user 1's first recommendation: the most popular movie user 1 did not rate in training
    expect(lines[1]).toMatch(/^1,\d+,1$/);
  });

  it('--fail-under exits 3 naming the metric, value and bound', async () => {
    const r = await runCli([
      'eval',
      '--data',
      data,
      '--split',
      'temporal-user',
      '--model',
      'popularity',
      '--fail-under',
      'ndcg@10=0.5',
      '--fail-under',
      'recall@10=0.01',
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('ndcg@10 = 0.085346 is below the bound 0.5');
    expect(r.stderr).not.toContain('recall@10 =');
    const ok = await runCli(['eval', '--data', data, '--split', 'temporal-user', '--model', 'popularity', '--fail-under', 'ndcg@10=0.05']);
    expect(ok.code).toBe(0);
  });

  it('bad input exits 2 with a message naming the problem', async () => {
    const bad = join(work, 'bad');
    const r1 = await runCli(['data', 'import', '--in', join(work, 'nowhere'), '--out', bad]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toContain('nowhere: input directory not found');
    const r2 = await runCli(['eval', '--data', data, '--split', 'sideways', '--model', 'popularity']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('--split "sideways"');
    const r3 = await runCli(['eval', '--model', 'popularity', '--data', data, '--split', 'temporal', '--k', 'ten']);
    expect(r3.code).toBe(2);
    expect(existsSync(bad)).toBe(false);
  });

  it('split writes train/test Parquet and a manifest; train writes a versioned artifact that eval re-evaluates', async () => {
    const splitDir = join(work, 'split');
    const s = await runCli(['split', '--data', data, '--strategy', 'temporal', '--frac', '0.8', '--out', splitDir]);
    expect(s.code, s.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(splitDir, 'split.json'), 'utf8'));
    expect(manifest.strategy).toBe('temporal');
    expect(manifest.counts.evaluated_users).toBe(28);
    expect(manifest.counts.train_rows + manifest.counts.test_rows).toBe(100836);

    const out = join(work, 'artifacts', 'popularity');
    const t = await runCli(['train', 'popularity', '--data', data, '--split', 'temporal-user', '--out', out, '--json']);
    expect(t.code, t.stderr).toBe(0);
    const trained = JSON.parse(t.stdout);
    const version = readlinkSync(join(out, 'latest'));
    expect(trained.artifact.endsWith(version)).toBe(true);
    const art = JSON.parse(readFileSync(join(out, 'latest', 'manifest.json'), 'utf8'));
    expect(art.kind).toBe('popularity');
    expect(art.split.strategy).toBe('temporal-user');
    expect(art.files.map((f: { path: string }) => f.path)).toEqual(['item_counts.npy', 'item_ids.npy', 'user_ids.npy']);
    const e = await runCli(['eval', '--model', join(out, 'latest'), '--json']);
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout)['ndcg@10']).toBeCloseTo(0.0853456, 7);
    const metricsFile = JSON.parse(readFileSync(join(out, 'latest', 'metrics.json'), 'utf8'));
    expect(metricsFile['temporal-user frac=0.8']['ndcg@10']).toBeCloseTo(0.0853456, 7);
    const leak = await runCli(['eval', '--model', join(out, 'latest'), '--split', 'temporal']);
    expect(leak.code).toBe(2);
    expect(leak.stderr).toContain('would put training data in the test set');
    const list = await runCli(['artifacts', 'list', '--root', join(work, 'artifacts')]);
    expect(list.stdout).toMatch(/^\* popularity\/\S+ {2}popularity {2}temporal-user frac=0.8: ndcg@10=0.0853/m);
  });

  it('index passes --mips-transform through: off keeps inner product, on refuses a PQ that cannot split d + 1', async () => {
    const als = join(work, 'artifacts', 'als');
    const t = await runCli(['train', 'als', '--data', data, '--split', 'temporal-user', '--iterations', '3', '--out', als]);
    expect(t.code, t.stderr).toBe(0);
    const auto = await runCli([
      'index',
      '--model',
      join(als, 'latest'),
      '--factory',
      'IVF16,Flat',
      '--out',
      join(work, 'artifacts', 'als-auto'),
      '--json',
    ]);
    expect(auto.code, auto.stderr).toBe(0);
    expect(readManifestIndex(JSON.parse(auto.stdout).artifact)).toMatchObject({ transform: { kind: 'mips-l2' }, index_metric: 'l2' });
    const off = await runCli([
      'index',
      '--model',
      join(als, 'latest'),
      '--factory',
      'IVF16,Flat',
      '--mips-transform',
      'off',
      '--out',
      join(work, 'artifacts', 'als-off'),
      '--json',
    ]);
    expect(off.code, off.stderr).toBe(0);
    expect(readManifestIndex(JSON.parse(off.stdout).artifact)).toMatchObject({ transform: null, index_metric: 'ip' });
    const on = await runCli([
      'index',
      '--model',
      join(als, 'latest'),
      '--factory',
      'IVF16,PQ16np',
      '--mips-transform',
      'on',
      '--out',
      join(work, 'artifacts', 'als-on'),
    ]);
    expect(on.code).toBe(2);
    expect(on.stderr).toContain('makes the vectors 65-dimensional');
  });
});
