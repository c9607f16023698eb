import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { FileStoreTracker } from '../../src/tracking/file-store.js';
import { captureLog } from './log-capture.js';

const PYTHON = '/usr/bin/python3';
const READER = join(dirname(fileURLToPath(import.meta.url)), 'read_mlruns.py');
const hasPythonYaml = spawnSync(PYTHON, ['-c', 'import yaml']).status === 0;

/** The meta.yaml keys MLflow's file store writes for an experiment and for a run. */
const EXPERIMENT_KEYS = ['artifact_location', 'creation_time', 'experiment_id', 'last_update_time', 'lifecycle_stage', 'name'];
const RUN_KEYS = [
  'artifact_uri',
  'end_time',
  'entry_point_name',
  'experiment_id',
  'lifecycle_stage',
  'run_id',
  'run_name',
  'run_uuid',
  'source_name',
  'source_type',
  'source_version',
  'start_time',
  'status',
  'tags',
  'user_id',
];

let dir: string;
let store: string;
let logs: ReturnType<typeof captureLog>;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'recsys-mlruns-'));
  store = join(dir, 'mlruns');
  logs = captureLog(dir);
});

afterEach(() => {
  logs.stop();
  rmSync(dir, { recursive: true, force: true });
});

const T0 = 1_700_000_000_000;

/** Two runs of one experiment (FINISHED, FAILED), one still running in a second experiment. */
async function writeRuns(): Promise<{ train: string; evaluate: string; other: string }> {
  const tracker = new FileStoreTracker(store);
  const train = await tracker.startRun({
    experiment: 'movielens-als',
    runName: 'train',
    params: { factors: 64, als: { regularization: 0.01 } },
    tags: { 'recsys.dataset.sha256': 'ab12' },
    startTime: T0,
  });
  train.logMetrics({ loss: 0.5, 'train/loss': 100 }, 1, T0 + 1);
  train.logMetrics({ loss: 1e-7, 'train/loss': 1e16 }, 2, T0 + 2);
  train.logMetrics({ loss: Number.NaN, 'train/loss': -0.25 }, 3, T0 + 3);
  await train.end('FINISHED', T0 + 9);

  const evaluate = await tracker.startRun({ experiment: 'movielens-als', runName: 'evaluate', startTime: T0 + 10 });
  evaluate.logMetric('ndcg_at_10', 0.1 + 0.2, 0, T0 + 11);
  await evaluate.end('FAILED', T0 + 12);

  const other = await new FileStoreTracker(store).startRun({ experiment: 'other', runName: 'index', startTime: T0 + 20 });
  return { train: train.runId, evaluate: evaluate.runId, other: other.runId };
}

function experimentDirByName(name: string): string {
  for (const id of readdirSync(store)) {
    if (id.startsWith('.')) continue;
    const meta = YAML.parse(readFileSync(join(store, id, 'meta.yaml'), 'utf8')) as { name: string };
    if (meta.name === name) return id;
  }
  throw new Error(`no experiment ${name}`);
}

describe('FileStoreTracker writes MLflow file-store layout', () => {
  it('writes meta.yaml files with exactly the fields and values MLflow writes', async () => {
    const ids = await writeRuns();
    const expId = experimentDirByName('movielens-als');
    expect(expId).toMatch(/^[1-9][0-9]{17}$/);
    expect(readdirSync(store).sort()).toEqual(['.trash', '0', expId, experimentDirByName('other')].sort());

    const defaultMeta = YAML.parse(readFileSync(join(store, '0', 'meta.yaml'), 'utf8')) as Record<string, unknown>;
    expect(defaultMeta).toMatchObject({ experiment_id: '0', name: 'Default', lifecycle_stage: 'active' });
    const expMeta = YAML.parse(readFileSync(join(store, expId, 'meta.yaml'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(expMeta)).toEqual(EXPERIMENT_KEYS);
    expect(expMeta.artifact_location).toBe(pathToFileURL(join(store, expId)).href);

    const runDir = join(store, expId, ids.train);
    const text = readFileSync(join(runDir, 'meta.yaml'), 'utf8');
    const meta = YAML.parse(text) as Record<string, unknown>;
    expect(Object.keys(meta)).toEqual(RUN_KEYS);
    expect(meta).toMatchObject({
      artifact_uri: `${pathToFileURL(join(store, expId)).href}/${ids.train}/artifacts`,
      end_time: T0 + 9,
      entry_point_name: '',
      experiment_id: expId,
      lifecycle_stage: 'active',
      run_id: ids.train,
      run_name: 'train',
      run_uuid: ids.train,
      source_name: '',
      source_type: 4,
      source_version: '',
      start_time: T0,
      status: 3,
      tags: [],
    });
    // Strings that look like numbers are quoted, as PyYAML writes them.
    expect(text).toContain(`experiment_id: '${expId}'`);
    expect(text).toContain("entry_point_name: ''");
    expect(ids.train).toMatch(/^[0-9a-f]{32}$/);
    expect(readdirSync(runDir).sort()).toEqual(['artifacts', 'meta.yaml', 'metrics', 'params', 'tags']);
  });

  it('writes metric lines "timestamp value step" with values as Python writes floats, params and tags as bare values', async () => {
    const ids = await writeRuns();
    const runDir = join(store, experimentDirByName('movielens-als'), ids.train);
    expect(readFileSync(join(runDir, 'metrics', 'loss'), 'utf8')).toBe(`${T0 + 1} 0.5 1\n${T0 + 2} 1e-07 2\n${T0 + 3} nan 3\n`);
    expect(readFileSync(join(runDir, 'metrics', 'train', 'loss'), 'utf8')).toBe(
      `${T0 + 1} 100.0 1\n${T0 + 2} 1e+16 2\n${T0 + 3} -0.25 3\n`,
    );
    expect(readFileSync(join(runDir, 'params', 'factors'), 'utf8')).toBe('64');
    expect(readFileSync(join(runDir, 'params', 'als.regularization'), 'utf8')).toBe('0.01');
    expect(readFileSync(join(runDir, 'tags', 'mlflow.runName'), 'utf8')).toBe('train');
    expect(readFileSync(join(runDir, 'tags', 'mlflow.source.type'), 'utf8')).toBe('LOCAL');
    expect(readFileSync(join(runDir, 'tags', 'recsys.dataset.sha256'), 'utf8')).toBe('ab12');
  });

  it.skipIf(!hasPythonYaml)('reads back with an independent Python reader of the file store (PyYAML)', async () => {
    const ids = await writeRuns();
    const parsed = JSON.parse(execFileSync(PYTHON, [READER, store]).toString()) as {
      entries: string[];
      experiments: Record<
        string,
        {
          meta: Record<string, unknown>;
          types: Record<string, string>;
          canonical: boolean;
          runs: Record<
            string,
            {
              meta: Record<string, unknown>;
              types: Record<string, string>;
              canonical: boolean;
              metrics: Record<string, unknown[]>;
              params: Record<string, string>;
              tags: Record<string, string>;
            }
          >;
        }
      >;
    };
    const expId = experimentDirByName('movielens-als');
    const exp = parsed.experiments[expId];
    expect(exp.meta.name).toBe('movielens-als');
    // Every meta.yaml is byte for byte what PyYAML's safe_dump (MLflow's write_yaml) writes.
    for (const e of Object.values(parsed.experiments)) {
      expect(e.canonical).toBe(true);
      for (const r of Object.values(e.runs)) expect(r.canonical).toBe(true);
    }
    expect(exp.types).toEqual({
      artifact_location: 'str',
      creation_time: 'int',
      experiment_id: 'str',
      last_update_time: 'int',
      lifecycle_stage: 'str',
      name: 'str',
    });
    const train = exp.runs[ids.train];
    expect(train.types).toMatchObject({
      experiment_id: 'str',
      status: 'int',
      source_type: 'int',
      start_time: 'int',
      end_time: 'int',
      tags: 'list',
    });
    expect(train.metrics).toEqual({
      loss: [
        [T0 + 1, 0.5, 1],
        [T0 + 2, 1e-7, 2],
        [T0 + 3, 'NaN', 3],
      ],
      'train/loss': [
        [T0 + 1, 100, 1],
        [T0 + 2, 1e16, 2],
        [T0 + 3, -0.25, 3],
      ],
    });
    expect(train.params).toEqual({ factors: '64', 'als.regularization': '0.01' });
    expect(train.tags).toMatchObject({ 'mlflow.runName': 'train', 'recsys.dataset.sha256': 'ab12', 'mlflow.source.type': 'LOCAL' });
    expect(exp.runs[ids.evaluate].meta).toMatchObject({ status: 4, end_time: T0 + 12, run_name: 'evaluate' });
    expect(exp.runs[ids.evaluate].metrics).toEqual({ ndcg_at_10: [[T0 + 11, 0.30000000000000004, 0]] });
    // A run that has not ended: RUNNING (1), end_time null.
    const other = parsed.experiments[experimentDirByName('other')].runs[ids.other];
    expect(other.meta).toMatchObject({ status: 1, end_time: null });
    expect(other.types.end_time).toBe('NoneType');
  });

  it('finds an existing experiment by name instead of creating a second one', async () => {
    await writeRuns();
    const before = readdirSync(store).length;
    const run = await new FileStoreTracker(store).startRun({ experiment: 'movielens-als', runName: 'again' });
    await run.end();
    expect(readdirSync(store)).toHaveLength(before);
    expect(readdirSync(join(store, experimentDirByName('movielens-als')))).toContain(run.runId);
  });

  it('keeps params write-once, and warns instead of throwing when the store cannot be written', async () => {
    const run = await new FileStoreTracker(store).startRun({ experiment: 'e', runName: 'r', params: { factors: 64 } });
    run.logParams({ factors: 32 });
    const runDir = join(store, experimentDirByName('e'), run.runId);
    expect(readFileSync(join(runDir, 'params', 'factors'), 'utf8')).toBe('64');
    expect(logs.warnings().some((w) => w.includes('"factors" was already logged as "64"'))).toBe(true);

    const notADir = join(dir, 'file');
    writeFileSync(notADir, 'x');
    const broken = await new FileStoreTracker(notADir).startRun({ experiment: 'e', runName: 'r' });
    expect(broken.runId).toBe('untracked');
    broken.logMetric('loss', 1);
    await broken.end();
    expect(logs.warnings().some((w) => w.includes('could not start the run'))).toBe(true);
  });
});
