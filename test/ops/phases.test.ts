import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readManifest } from '../../src/artifacts/store.js';
import { outboxPath } from '../../src/tracking/index.js';
import { processAlive } from '../../src/util/fs.js';
import { runCli, type Started, startCli } from '../cli-runner.js';
import { tempDir } from '../helpers.js';
import { MlflowTestServer } from '../tracking/mlflow-test-server.js';
import { PIPELINE_ARTIFACTS, writeMovieLensCsv, writePipeline } from './pipeline-fixture.js';

/**
 * `latest` moves last, for every step kind: a real pipeline child process is stopped at each
 * named phase of each step (RECSYS_TEST_PAUSE_AT, src/util/phase.ts) and killed there with
 * SIGTERM. Afterwards every `latest` points at a complete version that verifies against its
 * manifest, the step's MLflow run is not left RUNNING, and nothing temporary is left.
 */
const work = tempDir();
const root = join(work, 'artifacts');
const file = writePipeline(work);

/** Phases of a step that writes an artifact version (store.ts: createArtifact; runner.ts). */
const ARTIFACT_PHASES = ['artifact.built', 'artifact.complete', 'artifact.renamed', 'artifact.latest'];

/** Each step kind of the pipeline: the artifact it writes and its unit label. */
const STEPS = [
  { kind: 'split', artifact: 'split-tu', unit: 'split tu' },
  { kind: 'train', artifact: 'als-tu', unit: 'train als-tu' },
  { kind: 'index', artifact: 'index-als-tu', unit: 'index als-tu' },
  { kind: 'eval', artifact: 'eval-tu', unit: 'eval tu' },
  { kind: 'recommend', artifact: 'recs-als-tu', unit: 'recommend als-tu' },
];

/** Starts the CLI paused at `pauseAt`; resolves once it says it is paused there. */
async function startPaused(args: string[], pauseAt: string, env: Record<string, string> = {}): Promise<Started> {
  const run = startCli(args, { env: { RECSYS_TEST_PAUSE_AT: pauseAt, ...env } });
  await new Promise<void>((resolve, reject) => {
    run.child.stderr.on('data', () => {
      if (run.stderr().includes(`paused at ${pauseAt} `)) resolve();
    });
    run.child.on('exit', () => reject(new Error(`exited before pausing at ${pauseAt}:\n${run.stderr()}`)));
  });
  return run;
}

function latestOf(name: string): string {
  return readlinkSync(join(root, name, 'latest'));
}

function latestVersions(): Record<string, string> {
  return Object.fromEntries(PIPELINE_ARTIFACTS.map((n) => [n, latestOf(n)]));
}

/** MLflow runs (file store) still RUNNING. */
function runningRuns(): string[] {
  const store = join(root, 'mlruns');
  return readdirSync(store)
    .filter((e) => /^\d{6,}$/.test(e))
    .flatMap((e) =>
      readdirSync(join(store, e))
        .filter((r) => r !== 'meta.yaml' && /^status: 1$/m.test(readFileSync(join(store, e, r, 'meta.yaml'), 'utf8')))
        .map((r) => `${e}/${r}`),
    );
}

/** Names with a temporary suffix under the root, its artifact folders and the dataset's parent. */
function temporaries(): string[] {
  const dirs = [work, root, ...PIPELINE_ARTIFACTS.map((n) => join(root, n))];
  return dirs.flatMap((d) => readdirSync(d).filter((n) => /\.tmp-\d+-/.test(n)));
}

/** Every version under the root matches its manifest, and every `latest` is one of them. */
async function expectConsistent(): Promise<void> {
  const verify = await runCli(['artifacts', 'verify', root]);
  expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  for (const name of PIPELINE_ARTIFACTS) expect(verify.stdout).toContain(`ok  * ${name}/${latestOf(name)}`);
  const dataset = JSON.parse(readFileSync(join(work, 'data', 'dataset.json'), 'utf8'));
  const parquet = createHash('sha256')
    .update(readFileSync(join(work, 'data', 'interactions.parquet')))
    .digest('hex');
  expect(parquet).toBe(dataset.interactions_sha256);
}

beforeAll(async () => {
  writeMovieLensCsv(join(work, 'ml'), 5);
  const r = await runCli(['train', '--pipeline', file]);
  expect(r.code, r.stderr).toBe(0);
});

describe('SIGTERM at each phase of each pipeline step kind', () => {
  for (const step of STEPS) {
    for (const phase of [...ARTIFACT_PHASES, 'unit.done']) {
      const at = phase === 'unit.done' ? `${phase}:${step.unit}` : `${phase}:${step.artifact}`;
      it(`${step.kind} at ${phase}: latest on a complete version, the run KILLED, nothing temporary left`, async () => {
        const before = latestVersions();
        const { child, exited } = await startPaused(['train', '--pipeline', file, '--force'], at);
        const during = latestOf(step.artifact);
        child.kill('SIGTERM');
        const r = await exited;
        expect(r.code, r.stderr).toBe(143);
        // latest of the step moved only once its version was complete (from artifact.latest on)
        const moved = phase === 'artifact.latest' || phase === 'unit.done';
        expect(latestOf(step.artifact) !== before[step.artifact]).toBe(moved);
        expect(latestOf(step.artifact)).toBe(during);
        const dir = join(root, step.artifact, latestOf(step.artifact));
        expect(existsSync(join(dir, 'run.log.jsonl'))).toBe(true);
        if (step.kind === 'train' || step.kind === 'index') expect(existsSync(join(dir, 'metrics.json'))).toBe(true);
        if (step.kind === 'index') expect(Object.keys(readManifest(dir).metrics)).toContain('temporal-user frac=0.8 via-index');
        await expectConsistent();
        expect(runningRuns()).toEqual([]);
        expect(temporaries()).toEqual([]);
        expect(existsSync(join(root, '.lock'))).toBe(false);
      });
    }
  }

  for (const phase of ['import.written', 'unit.done']) {
    it(`import at ${phase}: the dataset matches its dataset.json; the next run imports again only if it was not recorded`, async () => {
      const at = phase === 'unit.done' ? 'unit.done:import' : `import.written:${join(work, 'data')}`;
      const { child, exited } = await startPaused(['train', '--pipeline', file, '--force'], at);
      child.kill('SIGTERM');
      expect((await exited).code).toBe(143);
      await expectConsistent();
      expect(runningRuns()).toEqual([]);
      // the import is recorded (and skipped next time) only once complete, log included
      const next = await runCli(['train', '--pipeline', file]);
      expect(next.code, next.stderr).toBe(0);
      expect(next.stdout).toMatch(phase === 'import.written' ? /import\s+ran/ : /import\s+skipped \(unchanged\)/);
      expect(existsSync(join(work, 'data', 'run.log.jsonl'))).toBe(true);
    });
  }
});

describe('standalone commands killed at each phase', () => {
  for (const phase of ARTIFACT_PHASES) {
    it(`recsys train --out at ${phase}: latest on a complete version; the leftover is removed by the next train`, async () => {
      const out = join(work, 'standalone', 'standalone');
      const first = await runCli(['train', 'popularity', '--data', join(work, 'data'), '--out', out]);
      expect(first.code, first.stderr).toBe(0);
      const before = readlinkSync(join(out, 'latest'));
      const { child, exited } = await startPaused(
        ['train', 'popularity', '--data', join(work, 'data'), '--out', out],
        `${phase}:standalone`,
      );
      child.kill('SIGTERM');
      expect((await exited).code).toBe(143);
      expect(readlinkSync(join(out, 'latest')) === before).toBe(phase !== 'artifact.latest');
      const verify = await runCli(['artifacts', 'verify', out]);
      expect(verify.code, verify.stdout).toBe(0);
      const next = await runCli(['train', 'popularity', '--data', join(work, 'data'), '--out', out]);
      expect(next.code, next.stderr).toBe(0);
      expect(readdirSync(out).filter((n) => n.startsWith('.'))).toEqual([]);
    });
  }
});

describe('a tracked run killed while its end cannot reach the server', () => {
  const server = new MlflowTestServer();
  beforeAll(() => server.start());
  afterAll(() => server.stop());

  it('stays marked open, and the next run ends it as KILLED', async () => {
    const env = { MLFLOW_TRACKING_URI: server.uri };
    const { child, exited } = await startPaused(['train', '--pipeline', file, '--force'], 'artifact.latest:index-als-tu', env);
    const [indexRun] = [...server.runs.values()].filter((r) => r.info.run_name === 'index als-tu' && r.info.status === 'RUNNING');
    expect(indexRun).toBeDefined();
    server.failNext(10_000); // the server answers 503 until it recovers: the KILLED update cannot get through
    child.kill('SIGTERM');
    const r = await exited;
    expect(r.code, r.stderr).toBe(143);
    expect(server.runs.get(indexRun.info.run_id)?.info.status).toBe('RUNNING');
    // The end never left (the mark stays), or, on a slow machine, the retries gave up within the
    // clean-up time and the end waits in the outbox: either way the next run ends it as KILLED.
    const openDir = join(root, '.tracking-open');
    const marked = existsSync(openDir) && readdirSync(openDir).includes(`${indexRun.info.run_id}.json`);
    const queued = existsSync(outboxPath(root)) && readFileSync(outboxPath(root), 'utf8').includes('KILLED');
    expect(marked || queued).toBe(true);
    server.recover();

    const next = await runCli(['train', '--pipeline', file], { env });
    expect(next.code, next.stderr).toBe(0);
    if (marked)
      expect(next.stderr).toContain(`run ${indexRun.info.run_id} (index als-tu) of process ${child.pid}, which died, is ended as KILLED`);
    expect(server.runs.get(indexRun.info.run_id)?.info.status).toBe('KILLED');
    expect([...server.runs.values()].filter((run) => run.info.status === 'RUNNING')).toEqual([]);
    expect(existsSync(join(root, '.tracking-open'))).toBe(false);
  });
});

describe('a process that died but is not yet reaped (a zombie)', () => {
  it('counts as dead for processAlive, which the lock and the open-run marks ask', async () => {
    // `sleep 0.05` dies as a child of the `sleep 30` that replaced its shell, which never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 0.05 & echo $!; exec sleep 30']);
    const pid = await new Promise<number>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    await new Promise((r) => setTimeout(r, 300));
    try {
      expect(readFileSync(`/proc/${pid}/stat`, 'utf8')).toMatch(/^\d+ \(sleep\) Z /);
      expect(processAlive(pid)).toBe(false);
      expect(processAlive(parent.pid ?? -1)).toBe(true);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
