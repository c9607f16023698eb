import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REJECTED_FILE, outboxPath, readOutboxFile } from '../../src/tracking/outbox.js';
import { RestTracker } from '../../src/tracking/rest-tracker.js';
import { FAST_RETRY, type MlflowTestServer } from './mlflow-test-server.js';
import { useServerFixture, type ServerFixture } from './server-fixture.js';

let dir: string;
let server: MlflowTestServer;
let logs: ServerFixture['logs'];
useServerFixture('recsys-rest-', (f) => ({ dir, server, logs } = f));

function tracker(flushIntervalMs = 60_000): RestTracker {
  return new RestTracker({ uri: server.uri, root: dir, retry: FAST_RETRY, flushIntervalMs });
}

describe('RestTracker against an MLflow REST API server', () => {
  it('runs a full lifecycle: experiment created once and reused, params, metrics per step, tags, status', async () => {
    const t = tracker();
    const first = await t.startRun({
      experiment: 'movielens-als',
      runName: 'train',
      params: { factors: 64, regularization: 0.01, als: { iterations: 15, cg: true } },
      tags: { 'recsys.dataset.sha256': 'ab12' },
      startTime: 1_700_000_000_000,
    });
    first.logMetrics({ loss: 0.5, 'ndcg@10': 0.125 }, 1, 1_700_000_001_000);
    first.logMetrics({ loss: 0.25, 'ndcg@10': Number.NaN }, 2, 1_700_000_002_000);
    first.setTag('recsys.artifact.path', '/artifacts/als/v1');
    await first.end('FINISHED', 1_700_000_003_000);

    const second = await t.startRun({ experiment: 'movielens-als', runName: 'evaluate' });
    second.logMetric('recall_at_20', 0.3, 0);
    await second.end('FAILED', 1_700_000_009_000);

    // The experiment was looked up (missing), created once, and the second run reused it.
    expect(server.count('experiments/get-by-name', 404)).toBe(1);
    expect(server.count('experiments/create')).toBe(1);
    const experimentId = server.experimentByName('movielens-als')?.experiment_id;
    expect(experimentId).toBeDefined();

    const run1 = server.runs.get(first.runId)!;
    expect(run1.info).toMatchObject({
      experiment_id: experimentId,
      run_name: 'train',
      status: 'FINISHED',
      start_time: 1_700_000_000_000,
      end_time: 1_700_000_003_000,
    });
    expect(Object.fromEntries(run1.params)).toEqual({
      factors: '64',
      regularization: '0.01',
      'als.iterations': '15',
      'als.cg': 'true',
    });
    // "ndcg@10" is not a valid MLflow name ('@'): recorded as ndcg_10, with a warning.
    expect(run1.metrics).toEqual([
      { key: 'loss', value: 0.5, timestamp: 1_700_000_001_000, step: 1 },
      { key: 'ndcg_10', value: 0.125, timestamp: 1_700_000_001_000, step: 1 },
      { key: 'loss', value: 0.25, timestamp: 1_700_000_002_000, step: 2 },
      { key: 'ndcg_10', value: Number.NaN, timestamp: 1_700_000_002_000, step: 2 },
    ]);
    expect(logs.warnings().some((w) => w.includes('"ndcg@10"') && w.includes('"ndcg_10"'))).toBe(true);
    const head = execFileSync('git', ['log', '-1', '--format=%H']).toString().trim();
    expect(Object.fromEntries(run1.tags)).toMatchObject({
      'recsys.dataset.sha256': 'ab12',
      'recsys.artifact.path': '/artifacts/als/v1',
      'mlflow.runName': 'train',
      'mlflow.source.type': 'LOCAL',
      'mlflow.source.git.commit': head,
    });

    const run2 = server.runs.get(second.runId)!;
    expect(run2.info).toMatchObject({ experiment_id: experimentId, run_name: 'evaluate', status: 'FAILED', end_time: 1_700_000_009_000 });
    expect(run2.metrics).toEqual([{ key: 'recall_at_20', value: 0.3, timestamp: expect.any(Number), step: 0 }]);
    expect(existsSync(outboxPath(dir))).toBe(false);
  });

  it('splits log-batch requests to stay within 1000 metrics and 100 params per request', async () => {
    const params = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`p${i}`, i]));
    const run = await tracker().startRun({ experiment: 'batching', runName: 'train', params });
    for (let step = 0; step < 2500; step++) run.logMetric('loss', 1 / (step + 1), step, 1_700_000_000_000 + step);
    await run.end();

    const batches = server.requests.filter((r) => r.endpoint === 'runs/log-batch');
    expect(batches.every((r) => r.status === 200)).toBe(true);
    const sizes = batches.map((r) => {
      const b = r.body as { metrics?: unknown[]; params?: unknown[] };
      return [b.params?.length ?? 0, b.metrics?.length ?? 0];
    });
    // 150 params at start: 100 + 50; then the buffer sends at 1000 metrics: 1000, 1000, 500 at the end.
    expect(sizes).toEqual([
      [100, 0],
      [50, 0],
      [0, 1000],
      [0, 1000],
      [0, 500],
    ]);
    const stored = server.runs.get(run.runId)!;
    expect(stored.params.size).toBe(150);
    expect(stored.metrics.map((m) => m.step)).toEqual(Array.from({ length: 2500 }, (_, i) => i));
    expect(stored.metrics[2499].value).toBe(1 / 2500);
  });

  it('retries 503 answers and then succeeds, without the outbox', async () => {
    server.failNext(2, 503);
    const run = await tracker().startRun({ experiment: 'retry', runName: 'train' });
    run.logMetric('loss', 1, 0);
    await run.end();

    expect(server.count('experiments/get-by-name', 503)).toBe(2);
    expect(server.runs.get(run.runId)?.info.status).toBe('FINISHED');
    expect(existsSync(outboxPath(dir))).toBe(false);
    expect(logs.warnings()).toEqual([]);
  });

  it('does not retry a refused request (404): one attempt, a warning, kept aside with the error', async () => {
    const run = await tracker().startRun({ experiment: 'refused', runName: 'train' });
    server.runs.delete(run.runId);
    run.logMetric('loss', 1, 0);
    await run.flush();

    expect(server.count('runs/log-batch', 404)).toBe(1);
    expect(logs.warnings().some((w) => w.includes('refused log-batch') && w.includes('RESOURCE_DOES_NOT_EXIST'))).toBe(true);
    expect(existsSync(outboxPath(dir))).toBe(false);
    const [rejected] = readOutboxFile(join(dir, REJECTED_FILE)) as unknown as Array<{ op: string; error: string }>;
    expect(rejected).toMatchObject({ op: 'log-batch', body: { metrics: [{ key: 'loss', value: 1, step: 0 }] } });
    expect(rejected.error).toContain('RESOURCE_DOES_NOT_EXIST');
  });

  it('keeps everything in the outbox during an outage, warns once, never throws, within bounded time', async () => {
    await server.stop();
    const t = tracker();
    const started = Date.now();
    const run = await t.startRun({ experiment: 'outage', runName: 'train', params: { factors: 8 } });
    run.logMetrics({ loss: 0.5 }, 1);
    run.logMetrics({ loss: 0.4 }, 2);
    await run.end('FINISHED');
    const elapsed = Date.now() - started;

    expect(run.runId).toMatch(/^local-[0-9a-f]{32}$/);
    expect(t.isOffline).toBe(true);
    // One retried call (3 attempts of at most 20 ms waits), then no more waiting on the network.
    expect(elapsed).toBeLessThan(3000);
    const outageWarnings = logs.warnings().filter((w) => w.includes('is unavailable'));
    expect(outageWarnings).toHaveLength(1);
    expect(outageWarnings[0]).toContain('ECONNREFUSED');
    expect(outageWarnings[0]).toContain('recsys tracking sync');
    expect(existsSync(outboxPath(dir))).toBe(true);
  });
});
