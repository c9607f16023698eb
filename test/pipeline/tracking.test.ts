import { cpSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDatasetMeta } from '../../src/data/dataset.js';
import { loadPipeline, type Pipeline } from '../../src/pipeline/load.js';
import { runPipeline } from '../../src/pipeline/runner.js';
import { outboxPath } from '../../src/tracking/index.js';
import { runCli } from '../cli-runner.js';
import { ML_SMALL, tempDir } from '../helpers.js';
import { FAST_RETRY, MlflowTestServer } from '../tracking/mlflow-test-server.js';

/**
 * With MLFLOW_TRACKING_URI=http://..., each step is a run on the tracking server (the test
 * server implements MLflow's REST API); when the server is down the pipeline still succeeds
 * and `recsys tracking sync` sends what was kept.
 */
process.env.RECSYS_QUIET = '1';

describe('pipeline runs on an MLflow tracking server', () => {
  const server = new MlflowTestServer();
  const work = tempDir();
  let pipeline: Pipeline;

  beforeAll(async () => {
    await server.start();
    process.env.MLFLOW_TRACKING_URI = server.uri;
    cpSync(ML_SMALL, join(work, 'ml'), { recursive: true });
    const file = join(work, 'p.yaml');
    writeFileSync(
      file,
      `name: tracked\nartifacts: ${work}/a\ndata: {in: ${work}/ml, out: ${work}/data}\nsplits: {tu: {strategy: temporal-user}}\nsteps:\n  - kind: import\n  - kind: split\n  - kind: train\n    model: als\n    params: {factors: 8, iterations: 3, threads: 1}\n`,
    );
    pipeline = loadPipeline(file);
  });
  afterAll(async () => {
    delete process.env.MLFLOW_TRACKING_URI;
    await server.stop();
  });

  it('creates the experiment and one finished run per step, with params, per-iteration metrics and tags', async () => {
    await runPipeline(pipeline, { trackingRetry: FAST_RETRY });
    const experiment = server.experimentByName('tracked');
    expect(experiment).toBeDefined();
    const runs = [...server.runs.values()];
    expect(runs.map((r) => r.info.run_name)).toEqual(['import', 'split tu', 'train als-tu']);
    expect(runs.every((r) => r.info.status === 'FINISHED' && r.info.experiment_id === experiment?.experiment_id)).toBe(true);
    const als = runs[2];
    expect(Object.fromEntries(als.params)).toMatchObject({
      step: 'train',
      model: 'als',
      'params.factors': '8',
      'params.iterations': '3',
      seed: '42',
      k: '[10]',
    });
    expect(als.metrics.filter((m) => m.key === 'seconds').map((m) => m.step)).toEqual([1, 2, 3]);
    expect(als.metrics.find((m) => m.key === 'ndcg_at_10')?.value).toBeGreaterThan(0);
    expect(als.tags.get('recsys.dataset.sha256')).toBe(readDatasetMeta(join(work, 'data')).interactions_sha256);
    expect(als.tags.get('recsys.artifact.path')).toMatch(new RegExp(`^${work}/a/als-tu/\\d+T`));
    expect(als.tags.get('mlflow.source.git.commit')).toMatch(/^[0-9a-f]{40}$/);
  });

  it('succeeds while the server is down; `recsys tracking sync` sends the kept runs later', async () => {
    await server.stop();
    const outcome = await runPipeline(pipeline, { force: true, trackingRetry: FAST_RETRY });
    expect(outcome.units.map((u) => u.status)).toEqual(['ran', 'ran', 'ran']);
    expect(existsSync(outboxPath(join(work, 'a')))).toBe(true);
    expect(server.runs.size).toBe(3);

    await server.start();
    // not spawnSync: the test server answers from this process's event loop
    const sync = await runCli(['tracking', 'sync', '--root', join(work, 'a')]);
    expect(sync.code, sync.stderr).toBe(0);
    expect(sync.stdout).toMatch(/^sent \d+, refused 0 \(kept in \.tracking-outbox\.rejected\.jsonl\), pending 0$/m);
    const runs = [...server.runs.values()];
    expect(runs.map((r) => r.info.run_name)).toEqual(['import', 'split tu', 'train als-tu', 'import', 'split tu', 'train als-tu']);
    expect(runs.slice(3).every((r) => r.info.status === 'FINISHED')).toBe(true);
  });

  it('tracking sync without a server URI is bad input', async () => {
    const r = await runCli(['tracking', 'sync', '--root', join(work, 'a')], { env: { MLFLOW_TRACKING_URI: '' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('tracking sync needs a tracking server');
  });
});
