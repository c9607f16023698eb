import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Started } from '../cli-runner.js';
import { queryPrometheus, type RunningServer, startPrometheus } from './prometheus-servers.js';
import { servedPipeline } from './served-pipeline.js';
import { startServe } from './serve-process.js';

/**
 * A real Prometheus (Debian package) scrapes `recsys serve --workers 2` every second: its query
 * API returns the request-latency histogram summed over both workers (as many requests as the
 * test sent), the per-stage histogram of the ranker's funnel, and the served version.
 */
let serve: { base: string; server: Started };
let prometheus: RunningServer;

beforeAll(async () => {
  const fx = await servedPipeline();
  serve = await startServe(['--model', join(fx.artifacts, 'ranker-temporal-user'), '--workers', '2', '--lru-size', '0']);
  prometheus = await startPrometheus([{ job: 'recsys-serve', address: serve.base.replace('http://', '') }]);
}, 600_000);

afterAll(async () => {
  serve?.server.child.kill('SIGTERM');
  await serve?.server.exited;
  await prometheus?.stop();
});

it('scrapes the latency histograms of both workers, summed', async () => {
  const requests = 40;
  for (let u = 1; u <= requests; u++) {
    const res = await fetch(`${serve.base}/recommend/${u}?k=10`);
    expect(res.status).toBe(200);
  }
  const count = `sum(recsys_http_request_duration_seconds_count{job="recsys-serve",route="/recommend/:userId",path="live"})`;
  const samples = await queryPrometheus(prometheus.url, `${count} == ${requests}`, 30_000);
  expect(Number(samples[0].value[1])).toBe(requests);
  const p95 = await queryPrometheus(
    prometheus.url,
    'histogram_quantile(0.95, sum by (le) (recsys_http_request_duration_seconds_bucket{route="/recommend/:userId"}))',
  );
  expect(Number(p95[0].value[1])).toBeGreaterThan(0);
  const stages = await queryPrometheus(prometheus.url, `recsys_stage_duration_seconds_count{stage="gbdt"} == ${requests}`);
  expect(stages).toHaveLength(1);
  const info = await queryPrometheus(prometheus.url, 'recsys_model_info');
  expect(info.map((s) => [s.metric.model, s.value[1]])).toEqual([['ranker-temporal-user', '1']]);
}, 120_000);
