import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, type CliRun, runCli, runProcess, STACK_TRACE, startCli } from '../cli-runner.js';
import { tempDir } from '../helpers.js';

/**
 * No command destroys what it did not create (issue 9): every writing command, through the
 * built CLI on real files. A refused output exits 2 with one line naming the path, at once, and
 * every file that was there before is byte-identical afterwards.
 */
const work = tempDir();
const input = join(work, 'csv');
const data = join(work, 'data');
const root = join(work, 'artifacts');

/** Every file and folder under `dir` (or the file itself) with the sha256 of its bytes. */
function snapshot(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string): void => {
    const key = relative(path, p) || '.';
    if (statSync(p).isDirectory()) {
      out[`${key}/`] = 'dir';
      for (const name of readdirSync(p)) walk(join(p, name));
    } else out[key] = createHash('sha256').update(readFileSync(p)).digest('hex');
  };
  walk(path);
  return out;
}

/** Exit 2 and one line on stderr that names `path`; no stack trace. */
function expectRefused(r: CliRun, path: string, reason?: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toContain(path);
  expect(r.stderr).not.toMatch(STACK_TRACE);
  if (reason) expect(lines[0]).toMatch(reason);
}

/** Runs `args`, expecting a refusal naming `path`, and checks `kept` is byte-identical after. */
async function expectUntouched(args: string[], path: string, kept: string, reason?: RegExp): Promise<void> {
  const before = snapshot(kept);
  expectRefused(await runCli(args), path, reason);
  expect(snapshot(kept)).toEqual(before);
}

/** A new folder under the test's holding one file of the user's. */
function userFolder(name: string, file: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, file), `the user's ${file}\n`);
  return dir;
}

function writeRatings(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const rows = ['userId,movieId,rating,timestamp'];
  for (let u = 1; u <= 30; u++)
    for (let i = 0; i < 12; i++) rows.push(`${u},${(u * 7 + i * 3) % 40},${1 + ((u + i) % 5)},${1_500_000_000 + u * 1000 + i}`);
  writeFileSync(join(dir, 'ratings.csv'), `${rows.join('\n')}\n`);
}

beforeAll(async () => {
  writeRatings(input);
  const synth = await runCli(['data', 'synth', '--users', '200', '--items', '120', '--interactions', '5000', '--out', data]);
  expect(synth.code, synth.stderr).toBe(0);
  const als = await runCli(['train', 'als', '--data', data, '--out', join(root, 'als'), '--factors', '8', '--iterations', '2']);
  expect(als.code, als.stderr).toBe(0);
});

describe('an output path is replaced only when it holds a previous output of the same kind', () => {
  it('data import refuses an existing directory of other files and leaves them as they were', async () => {
    const dir = userFolder('mine', 'notes.txt');
    await expectUntouched(
      ['data', 'import', '--in', input, '--out', dir],
      dir,
      dir,
      /not a previous dataset directory \(it has no dataset\.json\)/,
    );
  });

  it('data import refuses --out equal to --in, inside it or containing it: the input CSV stays', async () => {
    await expectUntouched(['data', 'import', '--in', input, '--out', input], input, input, /is the input/);
    await expectUntouched(
      ['data', 'import', '--in', input, '--out', join(input, 'parquet')],
      join(input, 'parquet'),
      input,
      /lies inside the input/,
    );
    expect(existsSync(join(input, 'parquet'))).toBe(false);
    const csvFile = join(input, 'ratings.csv');
    await expectUntouched(
      ['data', 'import', '--format', 'csv', '--columns', 'user=userId,item=movieId', '--in', csvFile, '--out', csvFile],
      csvFile,
      input,
      /is the input/,
    );
  });

  it('data import and data synth refuse a regular file where the dataset directory goes', async () => {
    const file = join(work, 'precious.txt');
    writeFileSync(file, 'do not replace me\n');
    await expectUntouched(['data', 'import', '--in', input, '--out', file], file, file, /it is a file, not a directory/);
    await expectUntouched(['data', 'synth', '--users', '5', '--items', '5', '--interactions', '20', '--out', file], file, file);
  });

  it('a dataset directory is replaced by a new import, but not once it holds a file a dataset does not', async () => {
    const ds = join(work, 'ds');
    expect((await runCli(['data', 'import', '--in', input, '--out', ds])).code).toBe(0);
    const again = await runCli(['data', 'import', '--in', input, '--out', ds]);
    expect(again.code, again.stderr).toBe(0);
    writeFileSync(join(ds, 'analysis.ipynb'), '{}\n');
    await expectUntouched(
      ['data', 'import', '--in', input, '--out', ds],
      ds,
      ds,
      /holds analysis\.ipynb, which a dataset directory does not/,
    );
  });

  it('split refuses a dataset directory as --out and its own --data; replaces its own previous split', async () => {
    await expectUntouched(['split', '--data', data, '--out', data], data, data, /is the input/);
    const other = join(work, 'other-ds');
    expect((await runCli(['data', 'import', '--in', input, '--out', other])).code).toBe(0);
    await expectUntouched(
      ['split', '--data', data, '--out', other],
      other,
      other,
      /not a previous split directory \(it has no split\.json\)/,
    );
    const split = join(work, 'split');
    expect((await runCli(['split', '--data', data, '--out', split])).code).toBe(0);
    const again = await runCli(['split', '--data', data, '--out', split, '--frac', '0.7']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(split, 'split.json'), 'utf8')).frac).toBe(0.7);
  });

  it('train and index add versions only to an artifact folder: a folder of other files is refused', async () => {
    const folder = userFolder('docs', 'report.md');
    await expectUntouched(
      ['train', 'popularity', '--data', data, '--out', folder],
      folder,
      folder,
      /holds report\.md, which is not an artifact version/,
    );
    await expectUntouched(
      ['index', '--model', join(root, 'als', 'latest'), '--out', folder],
      folder,
      folder,
      /not a previous artifact folder/,
    );
  });

  it('recommend --out replaces only a recommendations Parquet file it wrote', async () => {
    const notes = join(work, 'recs.parquet');
    writeFileSync(notes, 'not parquet\n');
    const model = join(root, 'als', 'latest');
    await expectUntouched(['recommend', '--model', model, '--all-users', '--out', notes], notes, notes, /it is not a Parquet file/);
    // Another Parquet file (a dataset's interactions) is not recommendations either.
    const interactions = join(data, 'interactions.parquet');
    await expectUntouched(
      ['recommend', '--model', model, '--all-users', '--out', interactions],
      interactions,
      data,
      /it has no column rank/,
    );
    const recs = join(work, 'out', 'recs.parquet');
    expect((await runCli(['recommend', '--model', model, '--all-users', '--out', recs])).code).toBe(0);
    const again = await runCli(['recommend', '--model', model, '--all-users', '--k', '5', '--out', recs]);
    expect(again.code, again.stderr).toBe(0);
  });

  it('eval --dump-recs replaces only a dump it wrote, and refuses a directory', async () => {
    const model = join(root, 'als', 'latest');
    const csv = join(input, 'ratings.csv');
    await expectUntouched(['eval', '--model', model, '--dump-recs', csv], csv, input, /its first line is not user_id,item_id,rank/);
    await expectUntouched(['eval', '--model', model, '--dump-recs', input], input, input, /it is a directory/);
    const dump = join(work, 'dump.csv');
    expect((await runCli(['eval', '--model', model, '--dump-recs', dump])).code).toBe(0);
    const again = await runCli(['eval', '--model', model, '--dump-recs', dump, '--k', '5']);
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(dump, 'utf8').split('\n')[0]).toBe('user_id,item_id,rank');
  });

  it('a pipeline refuses a data.out holding other files before its first step', async () => {
    const dir = userFolder('pipeline-data', 'keep.csv');
    const file = join(work, 'p-foreign.yaml');
    writeFileSync(
      file,
      `name: foreign\nartifacts: ${join(work, 'p-root')}\ndata: {in: ${input}, out: ${dir}}\nsplits: {t: {strategy: temporal}}\nsteps:\n  - kind: import\n  - kind: split\n`,
    );
    await expectUntouched(['train', '--pipeline', file], dir, dir, /not a previous dataset directory/);
    expect(existsSync(join(work, 'p-root', 'split-t'))).toBe(false);
  });
});

describe('impossible, unwritable and mistyped output paths exit 2 at once', () => {
  it('/proc/x (which used to loop forever at 100 % CPU) and a missing parent under it', async () => {
    const started = Date.now();
    expectRefused(
      await runCli(['data', 'import', '--in', input, '--out', '/proc/x'], { timeout: 20_000 }),
      '/proc/x',
      /cannot write in \/proc/,
    );
    expectRefused(
      await runCli(['split', '--data', data, '--out', '/proc/x/y/z'], { timeout: 20_000 }),
      '/proc/x/y/z',
      /cannot write in \/proc/,
    );
    expectRefused(await runCli(['train', 'popularity', '--data', data, '--out', '/proc/x/pop'], { timeout: 20_000 }), '/proc/x/pop');
    const file = join(work, 'p-proc.yaml');
    writeFileSync(
      file,
      `name: proc\nartifacts: /proc/x\ndata: {out: ${data}}\nsplits: {t: {strategy: temporal}}\nsteps:\n  - kind: split\n`,
    );
    expectRefused(await runCli(['train', '--pipeline', file], { timeout: 20_000 }), '/proc/x', /cannot write in \/proc/);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('/sys: permission denied even as root', async () => {
    expectRefused(await runCli(['data', 'synth', '--out', '/sys/x']), '/sys/x', /permission denied/);
  });

  it('a file where a directory is expected, and a directory where a file is expected', async () => {
    const file = join(work, 'plain.txt');
    writeFileSync(file, 'plain\n');
    await expectUntouched(
      ['split', '--data', data, '--out', join(file, 'split')],
      join(file, 'split'),
      file,
      /plain\.txt is not a directory/,
    );
    await expectUntouched(['train', 'popularity', '--data', data, '--out', file], file, file, /it is a file, not a directory/);
    const dir = join(work, 'a-dir');
    mkdirSync(dir);
    await expectUntouched(
      ['recommend', '--model', join(root, 'als', 'latest'), '--all-users', '--out', dir],
      dir,
      dir,
      /it is a directory/,
    );
  });

  // A read-only bind mount in a private mount namespace: gone when the command ends.
  const canMount = spawnSync('unshare', ['-m', 'true']).status === 0;
  it.skipIf(!canMount)('a read-only mount (root ignores chmod 555, not a read-only file system)', async () => {
    const ro = userFolder('ro', 'kept.txt');
    const before = snapshot(ro);
    const r = await runProcess('unshare', [
      '-m',
      'sh',
      '-c',
      `mount --bind -o ro "$0" "$0" && exec "$1" "$2" data import --in "$3" --out "$0/ds"`,
      ro,
      process.execPath,
      BIN,
      input,
    ]);
    expectRefused(r, join(ro, 'ds'), /read-only file system/);
    expect(snapshot(ro)).toEqual(before);
  });
});

describe('temporary paths live beside their final path: nothing assumes two paths share a file system', () => {
  // tmpfs, while the test's folder is on the disk.
  const shm = '/dev/shm';
  const twoFileSystems = existsSync(shm) && statSync(shm).dev !== statSync(work).dev;
  let shmRoot = '';
  afterAll(() => {
    if (shmRoot) rmSync(shmRoot, { recursive: true, force: true });
  });

  it.skipIf(!twoFileSystems)('a pipeline with its artifact root on tmpfs and data.out on disk runs, twice', async () => {
    shmRoot = mkdtempSync(join(shm, 'recsys-test-'));
    const out = join(work, 'xfs-data');
    const file = join(work, 'xfs.yaml');
    writeFileSync(
      file,
      `name: xfs\nartifacts: ${shmRoot}\ndata: {in: ${input}, out: ${out}}\nsplits: {t: {strategy: temporal}}\nsteps:\n  - kind: import\n  - kind: split\n  - kind: train\n    model: popularity\n`,
    );
    const first = await runCli(['train', '--pipeline', file]);
    expect(first.code, first.stderr).toBe(0);
    expect(existsSync(join(out, 'run.log.jsonl'))).toBe(true);
    // the unit's own log, closed and moved into the dataset across file systems
    expect(readFileSync(join(out, 'run.log.jsonl'), 'utf8')).toContain('"unit.log_closed"');
    const forced = await runCli(['train', '--pipeline', file, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(readdirSync(out).filter((n) => n.includes('.tmp-'))).toEqual([]);
    expect(readdirSync(shmRoot).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });
});

describe("a pipeline's clean-up beside data.out", () => {
  it('removes only the temporaries named after data.out, not a stranger entry of the same shape', async () => {
    const parent = join(work, 'shared-parent');
    const out = join(parent, 'dataset');
    mkdirSync(parent, { recursive: true });
    // 999999999: above Linux's pid limit, so never a live process.
    const ours = join(parent, '.dataset.tmp-999999999-abcdefgh');
    const stranger = join(parent, '.notes.tmp-999999999-abcdefgh');
    mkdirSync(ours);
    writeFileSync(stranger, 'not recsys output');
    const file = join(work, 'cleanup.yaml');
    writeFileSync(
      file,
      `name: cleanup\nartifacts: ${join(work, 'cleanup-root')}\ndata: {in: ${input}, out: ${out}}\nsplits: {t: {strategy: temporal}}\nsteps:\n  - kind: import\n`,
    );
    const r = await runCli(['train', '--pipeline', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(ours)).toBe(false);
    expect(readFileSync(stranger, 'utf8')).toBe('not recsys output');
  });
});

describe('an interrupted GBDT training leaves nothing behind', () => {
  const ranker = join(work, 'ranker-root', 'ranker');
  const systemTemps = (): string[] => readdirSync(tmpdir()).filter((n) => n.includes('recsys-gbdt'));
  const engineDirs = (pid?: number): string[] =>
    existsSync(ranker)
      ? readdirSync(ranker).filter((n) => n.startsWith(pid === undefined ? '.recsys-gbdt.tmp-' : `.recsys-gbdt.tmp-${pid}-`))
      : [];

  /** The engine programs (xgboost, lightgbm) `pid` started. */
  const engines = (pid: number): number[] =>
    (spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout ?? '').split('\n').filter(Boolean).map(Number);

  /** Running, not a zombie waiting to be reaped. */
  const running = (pid: number): boolean => existsSync(`/proc/${pid}/stat`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));

  /**
   * `recsys train ranker`, sent `signal` once the GBDT engine's work folder exists, or once the
   * engine program runs (then with rounds enough to outlast the test: the signal must stop it).
   */
  async function killDuringGbdt(
    signal: NodeJS.Signals,
    waitForEngine: boolean,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; pid: number; engines: number[] }> {
    const trees = waitForEngine ? '100000' : '50';
    const args = ['train', 'ranker', '--data', data, '--out', ranker, '--channels', 'popularity,cooc', '--trees', trees];
    const run = startCli(args);
    const { child } = run;
    const pid = child.pid ?? -1;
    const deadline = Date.now() + 90_000;
    while (engineDirs(pid).length === 0 || (waitForEngine && engines(pid).length === 0)) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the child never reached the GBDT training:\n${run.stderr()}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const started = engines(pid);
    child.kill(signal);
    return { ...(await run.exited), pid, engines: started };
  }

  it('SIGTERM: the engine program is stopped, its work folder removed and the lock released (exit 143)', async () => {
    const before = systemTemps();
    const r = await killDuringGbdt('SIGTERM', true);
    expect(r.code).toBe(143);
    expect(r.engines.length).toBeGreaterThan(0);
    // Killed as the process exits; the kernel needs a moment on a busy machine.
    for (let waited = 0; waited < 5000 && r.engines.some(running); waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(r.engines.filter(running)).toEqual([]);
    expect(engineDirs()).toEqual([]);
    expect(systemTemps()).toEqual(before);
    expect(existsSync(join(ranker, '..', '.lock'))).toBe(false);
  });

  it('SIGKILL: the work folder, under the artifact folder, is removed by the next run there', async () => {
    const r = await killDuringGbdt('SIGKILL', false);
    expect(r.signal).toBe('SIGKILL');
    expect(engineDirs(r.pid)).toHaveLength(1);
    const next = await runCli(['train', 'popularity', '--data', data, '--out', ranker]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toContain(`.recsys-gbdt.tmp-${r.pid}-`);
    expect(engineDirs()).toEqual([]);
    expect(readdirSync(ranker).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });
});

describe('standalone commands respect the lock a pipeline run holds on its artifact root', () => {
  it('train, index and recommend --out under a held root exit 2 naming the holder; after it ends they run', async () => {
    const lockModule = new URL('../../dist/pipeline/lock.js', import.meta.url).href;
    // A real holder: another process takes the lock with the pipeline's own code and keeps it.
    const holder = spawn(process.execPath, [
      '--input-type=module',
      '-e',
      `const { acquireRootLock } = await import(${JSON.stringify(lockModule)}); acquireRootLock(${JSON.stringify(root)}, 'recsys train --pipeline nightly.yaml'); console.log('held'); setInterval(() => {}, 1000);`,
    ]);
    await new Promise<void>((resolve, reject) => {
      holder.stdout.on('data', () => resolve());
      holder.on('exit', () => reject(new Error('the lock holder exited')));
    });
    try {
      const before = snapshot(root);
      const holderText = new RegExp(`pid ${holder.pid} .*recsys train --pipeline nightly\\.yaml`);
      for (const args of [
        ['train', 'popularity', '--data', data, '--out', join(root, 'popularity')],
        ['index', '--model', join(root, 'als', 'latest')],
        ['recommend', '--model', join(root, 'als', 'latest'), '--all-users', '--out', join(root, 'als', 'recs.parquet')],
      ]) {
        expectRefused(await runCli(args), join(root, '.lock'), holderText);
      }
      expect(snapshot(root)).toEqual(before);
    } finally {
      await new Promise((resolve) => {
        holder.on('exit', resolve);
        holder.kill('SIGKILL');
      });
    }
    const after = await runCli(['train', 'popularity', '--data', data, '--out', join(root, 'popularity')]);
    expect(after.code, after.stderr).toBe(0);
    expect(after.stderr).toContain('took over a stale lock');
    expect(existsSync(join(root, '.lock'))).toBe(false);
  });
});
