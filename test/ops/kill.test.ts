import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeFiles, readManifest } from '../../src/artifacts/store.js';
import { writeDataset } from '../../src/data/dataset.js';
import { Rng } from '../../src/util/rng.js';
import { runCli, startCli } from '../cli-runner.js';
import { tempDir } from '../helpers.js';

/**
 * A real `recsys train --pipeline` child process is killed while its split step writes a new
 * version (the version's temporary directory exists), by SIGTERM and by SIGKILL. Both leave
 * `latest` and the finished version intact; SIGTERM cleans up at once (exit 143), SIGKILL's
 * leftovers (temporary output, the lock) are cleaned and taken over by the next run.
 */
const ROWS = 1_000_000;

const work = tempDir();
const root = join(work, 'artifacts');
const file = join(work, 'p.yaml');

/** Entries with a temporary name under the root and its artifact folders. */
function temporaries(): string[] {
  const dirs = [
    root,
    ...readdirSync(root)
      .map((n) => join(root, n))
      .filter((d) => existsSync(d) && !d.endsWith('.lock') && !d.includes('.tmp-')),
  ];
  return dirs.flatMap((d) => {
    try {
      return readdirSync(d)
        .filter((n) => /\.tmp-\d+-/.test(n))
        .map((n) => join(d, n));
    } catch {
      return [];
    }
  });
}

/** Starts a forced run and sends `signal` once its split step is writing the new version. */
async function killDuringSplitBuild(
  signal: NodeJS.Signals,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; pid: number }> {
  const run = startCli(['train', '--pipeline', file, '--force']);
  const { child } = run;
  const building = new RegExp(`^\\..*\\.tmp-${child.pid}-`);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (readdirSync(join(root, 'split-tu')).some((n) => building.test(n))) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the child never reached the split build:\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 2));
  }
  // closed, not exited: the stderr assertions need all of it (no grandchild holds the pipes here)
  child.kill(signal);
  return { ...(await run.closed), pid: child.pid ?? -1 };
}

/** status (1 RUNNING, 3 FINISHED, 5 KILLED) and end_time of every MLflow run in the root's file store. */
function runMetas(): { runId: string; status: string | undefined; endTime: string | undefined }[] {
  const [experiment] = readdirSync(join(root, 'mlruns')).filter((e) => /^\d{10,}$/.test(e));
  return readdirSync(join(root, 'mlruns', experiment))
    .filter((r) => r !== 'meta.yaml')
    .map((runId) => {
      const meta = readFileSync(join(root, 'mlruns', experiment, runId, 'meta.yaml'), 'utf8');
      return { runId, status: meta.match(/^status: (\d)$/m)?.[1], endTime: meta.match(/^end_time: (\S+)$/m)?.[1] };
    });
}

/** The finished version `latest` points at, checked file by file against its manifest. */
async function expectIntact(name: string, version: string): Promise<void> {
  expect(readlinkSync(join(root, name, 'latest'))).toBe(version);
  const dir = join(root, name, version);
  expect(await describeFiles(dir)).toEqual(expect.arrayContaining(readManifest(dir).files));
  expect(readManifest(dir).files.length).toBeGreaterThan(0);
}

describe('a pipeline killed mid-step', () => {
  let splitVersion = '';
  let modelVersion = '';

  beforeAll(async () => {
    // A log large enough that writing a split takes a good fraction of a second.
    const rng = new Rng(7);
    const userId = new Int32Array(ROWS);
    const itemId = new Int32Array(ROWS);
    const rating = new Float32Array(ROWS).fill(1);
    const timestamp = new Float64Array(ROWS);
    for (let i = 0; i < ROWS; i++) {
      userId[i] = rng.int(20_000);
      itemId[i] = rng.int(5_000);
      timestamp[i] = 1_500_000_000 + rng.int(10_000_000);
    }
    await writeDataset(join(work, 'data'), { interactions: { userId, itemId, rating, timestamp }, source: { kind: 'test' } });
    writeFileSync(
      file,
      `name: killed\nartifacts: ${root}\ndata: {out: ${work}/data}\nsplits: {tu: {strategy: temporal-user}}\nsteps:\n  - kind: split\n  - kind: train\n    model: popularity\n`,
    );
    const r = await runCli(['train', '--pipeline', file]);
    expect(r.code, r.stderr).toBe(0);
    splitVersion = readlinkSync(join(root, 'split-tu/latest'));
    modelVersion = readlinkSync(join(root, 'popularity-tu/latest'));
  });

  it('SIGTERM: exits 143 after removing its unfinished output and releasing the lock', async () => {
    const r = await killDuringSplitBuild('SIGTERM');
    expect(r.code, r.stderr).toBe(143);
    expect(r.stderr).toContain('interrupted by SIGTERM');
    expect(temporaries()).toEqual([]);
    expect(existsSync(join(root, '.lock'))).toBe(false);
    await expectIntact('split-tu', splitVersion);
    await expectIntact('popularity-tu', modelVersion);
    // the step's MLflow run is marked KILLED (5)
    expect(runMetas().filter((m) => m.status === '5')).toHaveLength(1);
  });

  it('SIGKILL: leaves its temporary output and lock; the next run removes them, takes over the lock and succeeds', async () => {
    const killedBefore = runMetas().filter((m) => m.status === '5').length;
    const r = await killDuringSplitBuild('SIGKILL');
    const killedAt = Date.now();
    expect(r.signal).toBe('SIGKILL');
    const orphans = runMetas().filter((m) => m.status === '1');
    expect(orphans).toHaveLength(1); // the killed step's run could not end itself
    const left = temporaries();
    expect(left.some((p) => p.includes(`${join(root, 'split-tu')}/.`))).toBe(true);
    expect(JSON.parse(readFileSync(join(root, '.lock'), 'utf8')).pid).toBe(r.pid);
    await expectIntact('split-tu', splitVersion);
    await expectIntact('popularity-tu', modelVersion);

    const next = await runCli(['train', '--pipeline', file]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toContain(`took over a stale lock of pid ${r.pid}`);
    expect(next.stderr).toMatch(/removed unfinished output .*split-tu\/\..*\.tmp-\d+-/);
    expect(temporaries()).toEqual([]);
    expect(next.stdout).toMatch(/split tu\s+skipped \(unchanged\)/);
    // ... and ends the killed step's MLflow run as KILLED, at the last write of its log
    expect(next.stderr).toContain(`run ${orphans[0].runId} (split tu) of process ${r.pid}, which died, is ended as KILLED`);
    const after = runMetas();
    expect(after.filter((m) => m.status === '1')).toEqual([]);
    expect(after.filter((m) => m.status === '5')).toHaveLength(killedBefore + 1);
    const ended = after.find((m) => m.runId === orphans[0].runId);
    expect(ended?.status).toBe('5');
    expect(Number(ended?.endTime)).toBeLessThanOrEqual(killedAt);
    expect(Number(ended?.endTime)).toBeGreaterThan(killedAt - 60_000);
    expect(existsSync(join(root, '.tracking-open'))).toBe(false);
    await expectIntact('split-tu', splitVersion);
    expect(existsSync(join(root, '.lock'))).toBe(false);
  });
});
