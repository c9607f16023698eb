import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CliRun, runCli } from '../cli-runner.js';
import { ML_SMALL, tempDir } from '../helpers.js';

/**
 * The README's main command on the shipped pipelines/movielens.yaml, through the built
 * binary, in a fresh working directory: the acceptance run of issue 6. The two-tower and re-ranker
 * steps (the two-tower index and the export of the ranker's recommendations with them) are left out to keep the suite fast (they
 * have their own tests; scripts/bench/pipeline.ts times the whole file).
 */
const SHIPPED = new URL('../../pipelines/movielens.yaml', import.meta.url).pathname;
const cwd = tempDir();
const MOVIELENS = join(cwd, 'movielens.yaml');
const TWO_TOWER_STEP = / {2}- kind: train[^\n]*\n {4}model: two-tower[^\n]*\n(?: {4}[^\n]*\n)+/;
const TWO_TOWER_INDEX_STEP = / {2}- kind: index[^\n]*\n {4}model: two-tower[^\n]*\n(?: {4}[^\n]*\n)+/;
const RANKER_STEP = / {2}- kind: train[^\n]*\n {4}model: ranker\n(?: {4}[^\n]*\n)+/;
const RECS_STEP = / {2}- kind: recommend[^\n]*\n {4}model: ranker\n(?: {4}[^\n]*\n)*/;
/** Every command runs in `cwd`, the pipeline's data from ML_DIR. */
const RUN = { cwd, env: { ML_DIR: ML_SMALL } };

describe('recsys train|eval|index --pipeline pipelines/movielens.yaml', () => {
  let first: CliRun;
  beforeAll(async () => {
    const text = readFileSync(SHIPPED, 'utf8');
    expect(text).toMatch(TWO_TOWER_STEP);
    expect(text).toMatch(TWO_TOWER_INDEX_STEP);
    expect(text).toMatch(RANKER_STEP);
    expect(text).toMatch(RECS_STEP);
    writeFileSync(
      MOVIELENS,
      text.replace(TWO_TOWER_STEP, '').replace(TWO_TOWER_INDEX_STEP, '').replace(RANKER_STEP, '').replace(RECS_STEP, ''),
    );
    first = await runCli(['train', '--pipeline', MOVIELENS], RUN);
  });

  it('runs end to end and prints the metrics of every model and stage, then the gates', () => {
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^ +0 {2}import +ran /m);
    expect(first.stdout).toContain('metrics on split temporal-user (temporal-user frac=0.8)');
    expect(first.stdout).toMatch(/^popularity +0\.0853 +0\.0391 /m);
    expect(first.stdout).toMatch(/^als +0\.\d{4} /m);
    expect(first.stdout).toMatch(/^als via Flat +0\.\d{4} /m);
    expect(first.stdout).toContain('metrics on split temporal (temporal frac=0.8)');
    expect(first.stdout).toMatch(/^temporal-user +popularity +fail_under +ndcg@10 +0\.0853 +0\.0500 +- +ok$/m);
    expect(readlinkSync(join(cwd, 'artifacts/als-temporal/latest'))).toMatch(/^\d{8}T\d{9}Z-\d+$/);
  });

  it('a second run right after skips every step', async () => {
    const again = await runCli(['train', '--pipeline', MOVIELENS], RUN);
    expect(again.code, again.stderr).toBe(0);
    const statuses = again.stdout.split('\n\n')[0].split('\n').slice(1);
    expect(statuses).toHaveLength(10);
    for (const line of statuses) expect(line).toContain('skipped (unchanged)');
  });

  it('eval --split temporal passes its gates, and exits 3 with a table of what failed when a gate is raised', async () => {
    const ok = await runCli(['eval', '--pipeline', MOVIELENS, '--split', 'temporal'], RUN);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^ +5 {2}eval temporal +skipped \(unchanged\)/m); // steps[5]: the ranker step is out
    expect(ok.stdout).not.toContain('temporal-user');

    const raised = join(cwd, 'raised.yaml');
    writeFileSync(raised, readFileSync(MOVIELENS, 'utf8').replace('fail_under: {ndcg@10: 0.01}', 'fail_under: {ndcg@10: 0.5}'));
    const breached = await runCli(['eval', '--pipeline', raised, '--split', 'temporal'], RUN);
    expect(breached.code).toBe(3);
    expect(breached.stderr).toContain('quality gates failed (2 of 4):');
    expect(breached.stderr).toMatch(/^temporal +popularity +fail_under +ndcg@10 +0\.1099 +0\.5000 +- +FAILED$/m);
    expect(breached.stderr).toMatch(/^temporal +als +fail_under +ndcg@10 +0\.\d{4} +0\.5000 +- +FAILED$/m);
  });

  it('index --pipeline rebuilds only the indexes (--force), and eval/index need a step of their kind', async () => {
    const index = await runCli(['index', '--pipeline', MOVIELENS, '--force'], RUN);
    expect(index.code, index.stderr).toBe(0);
    expect(index.stdout.split('\n\n')[0].split('\n').slice(1)).toEqual([
      expect.stringMatching(/^ +4 {2}index als-temporal-user +ran +[\d.]+ +artifacts\/index-als-temporal-user\/\d+T/),
    ]);
    const noEval = join(cwd, 'no-index.yaml');
    writeFileSync(noEval, readFileSync(MOVIELENS, 'utf8').replace(/ {2}- kind: index[^\n]*\n(?: {4}[^\n]*\n)+/, ''));
    const r = await runCli(['index', '--pipeline', noEval], RUN);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no-index.yaml has no index step');
  });

  it('bad config exits 2 naming file, line and path; a held lock exits 1 naming the pid', async () => {
    const bad = join(cwd, 'bad.yaml');
    writeFileSync(bad, readFileSync(MOVIELENS, 'utf8').replace('model: popularity', 'model: popularity\n    parms: {}'));
    const r = await runCli(['train', '--pipeline', bad], RUN);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml:\d+:5: steps\[2\]\.parms: unknown key "parms" \(did you mean "params"\?\)/);

    const holder = spawn('sleep', ['30']);
    writeFileSync(
      join(cwd, 'artifacts/.lock'),
      JSON.stringify({ pid: holder.pid, host: (await import('node:os')).hostname(), started_at: 'now', command: 'x' }),
    );
    try {
      const locked = await runCli(['train', '--pipeline', MOVIELENS], RUN);
      expect(locked.code).toBe(1);
      expect(locked.stderr).toContain(`another run holds the artifact root: pid ${holder.pid}`);
    } finally {
      const gone = new Promise((resolve) => holder.on('exit', resolve));
      holder.kill('SIGKILL');
      await gone; // reaped: no longer a live pid
    }
  });

  it('artifacts promote rolls latest back; gc keeps what latest needs', async () => {
    const versions = await runCli(['artifacts', 'list', '--root', 'artifacts', '--json'], RUN);
    const rows = JSON.parse(versions.stdout) as Array<{ name: string; version: string; latest: boolean }>;
    const index = rows.filter((r) => r.name === 'index-als-temporal-user');
    expect(index).toHaveLength(2);
    const older = index.find((r) => !r.latest)?.version ?? '';
    const p = await runCli(['artifacts', 'promote', `index-als-temporal-user/${older}`], RUN);
    expect(p.code, p.stderr).toBe(0);
    expect(readlinkSync(join(cwd, 'artifacts/index-als-temporal-user/latest'))).toBe(older);
    const gc = await runCli(['artifacts', 'gc', '--keep', '0', '--dry-run'], RUN);
    expect(gc.code, gc.stderr).toBe(0);
    // the newer index is neither latest nor anyone's dependency
    expect(gc.stdout.trim().split('\n')).toEqual([
      `would remove index-als-temporal-user/${index.find((r) => r.latest)?.version}`,
      `1 version(s) to remove, ${rows.length - 1} kept`,
    ]);
  });
});
