import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDatasetMeta } from '../../src/data/dataset.js';
import { loadPipeline } from '../../src/pipeline/load.js';
import { runPipeline } from '../../src/pipeline/runner.js';
import { type CliRun, oneErrorLine, runCli, runProcess } from '../cli-runner.js';
import { tempDir } from '../helpers.js';
import { writeMovieLensCsv } from '../ops/pipeline-fixture.js';
import { type RunningServer, queryPrometheus, startPrometheus, startPushgateway } from '../serve/prometheus-servers.js';
import { freeLoopbackPort, type RedisServer, startRedisServer } from '../serve/redis-server.js';

/**
 * A pipeline run reported to Prometheus: pushed to a real Pushgateway (prometheus-pushgateway
 * from Debian) and scraped from there by a real Prometheus, or written as a node_exporter
 * textfile (checked by the real `promtool`). The pipeline is small (200 users, popularity), with
 * a recommend step and a publish step into a real Redis; a publish to a closed port is the failing
 * step of a nightly run.
 */
const STEPS = ['import', 'split tu', 'train popularity-tu', 'eval tu', 'recommend popularity-tu', 'publish recs-popularity-tu'];
const USERS = 200;
const K = 10;
const JOB = 'nightly';

interface Setup {
  readonly redis: string;
  /** The file's `monitoring:` block, if any. */
  readonly monitoring?: string;
  /** The bound of the ndcg@10 gate (default 0.01, which the model passes). */
  readonly ndcgBound?: number;
}

/** Writes `<work>/p.yaml` over `<work>/ml`; `<work>/artifacts` is its root. */
function writePipelineFile(work: string, setup: Setup): string {
  const file = join(work, 'p.yaml');
  writeFileSync(
    file,
    `name: small
artifacts: ${work}/artifacts
seed: 3
k: [${K}]
data:
  format: movielens
  in: ${work}/ml
  out: ${work}/data
splits:
  tu: {strategy: temporal-user, frac: 0.8}
steps:
  - kind: import
  - kind: split
  - kind: train
    model: popularity
  - kind: eval
  - kind: recommend
    model: popularity
    k: ${K}
  - kind: publish
    model: popularity
    redis: ${setup.redis}
gates:
  - fail_under: {ndcg@10: ${setup.ndcgBound ?? 0.01}}
${setup.monitoring ?? ''}`,
  );
  return file;
}

function newWork(): string {
  const work = tempDir();
  writeMovieLensCsv(join(work, 'ml'), 11, USERS);
  return work;
}

/** One sample line of the text format. */
interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** The samples of a text-format exposition (our label values hold no quotes or escapes). */
function parseSamples(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
      return { name: m[1], labels, value: Number(m[3]) };
    });
}

/** The value of the one sample named `name` whose labels include `labels`; undefined when none. */
function sampleValue(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0]?.value;
}

/** The step whose status sample is 1. */
function stepStatuses(samples: readonly Sample[]): Record<string, string> {
  return Object.fromEntries(
    samples.filter((s) => s.name === 'recsys_pipeline_step_status' && s.value === 1).map((s) => [s.labels.step, s.labels.status]),
  );
}

/** ndcg@10 etc. of popularity on split tu, as the eval step wrote them in its report. */
function evalReportMetrics(work: string): Record<string, number> {
  const report = JSON.parse(readFileSync(join(work, 'artifacts/eval-tu/latest/report.json'), 'utf8')) as {
    rows: { model: string; metrics: Record<string, number> }[];
  };
  const row = report.rows.find((r) => r.model === 'popularity');
  if (!row) throw new Error('no popularity row in the eval report');
  return row.metrics;
}

function warnings(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('warning:'));
}

async function pushedSamples(pushgateway: string): Promise<Sample[]> {
  const res = await fetch(`${pushgateway}/metrics`);
  return parseSamples(await res.text()).filter((s) => s.labels.job === JOB && s.labels.pipeline === 'small');
}

/** Checks what every report of a run of the file holds, whatever its status. */
function expectRunMetrics(samples: readonly Sample[], work: string, status: string): void {
  expect(sampleValue(samples, 'recsys_pipeline_run_status', { status })).toBe(1);
  expect(samples.filter((s) => s.name === 'recsys_pipeline_run_status' && s.value === 1)).toHaveLength(1);
  const metrics = evalReportMetrics(work);
  expect(metrics['ndcg@10']).toBeGreaterThan(0.01);
  for (const [metric, value] of Object.entries(metrics))
    expect(sampleValue(samples, 'recsys_pipeline_eval_metric', { split: 'tu', model: 'popularity', metric }), metric).toBe(value);
}

describe('pipeline runs reported to a real Pushgateway, scraped by a real Prometheus', () => {
  const work = newWork();
  let pushgateway: RunningServer;
  let prometheus: RunningServer;
  let redis: RedisServer;
  let file: string;
  let first: CliRun;
  let firstWindow: [number, number];
  let firstSamples: Sample[];

  beforeAll(async () => {
    [pushgateway, redis] = await Promise.all([startPushgateway(), startRedisServer()]);
    prometheus = await startPrometheus([{ job: 'pushgateway', address: pushgateway.address, honorLabels: true }]);
    file = writePipelineFile(work, { redis: redis.url, monitoring: `monitoring: {pushgateway: ${pushgateway.url}, job: ${JOB}}\n` });
    const before = Date.now() / 1000;
    first = await runCli(['train', '--pipeline', file]);
    firstWindow = [before, Date.now() / 1000];
    firstSamples = await pushedSamples(pushgateway.url);
  });

  afterAll(async () => {
    await Promise.all([prometheus?.stop(), pushgateway?.stop(), redis?.stop()]);
  });

  it('a successful run pushes each step, its duration and rows, the evaluated metrics and the time of this success', () => {
    expect(first.code, first.stderr).toBe(0);
    expect(warnings(first.stderr)).toEqual([]);
    expectRunMetrics(firstSamples, work, 'success');
    expect(stepStatuses(firstSamples)).toEqual(Object.fromEntries(STEPS.map((s) => [s, 'ran'])));
    for (const step of STEPS) expect(sampleValue(firstSamples, 'recsys_pipeline_step_duration_seconds', { step }), step).toBeGreaterThan(0);
    const interactions = readDatasetMeta(join(work, 'data')).counts.interactions;
    expect(sampleValue(firstSamples, 'recsys_pipeline_step_rows_processed', { step: 'import' })).toBe(interactions);
    // Every user gets k recommendations (150 items, at most 25 seen each), all published.
    expect(sampleValue(firstSamples, 'recsys_pipeline_step_rows_processed', { step: 'recommend popularity-tu' })).toBe(USERS * K);
    expect(sampleValue(firstSamples, 'recsys_pipeline_step_rows_processed', { step: 'publish recs-popularity-tu' })).toBe(USERS * K);
    expect(sampleValue(firstSamples, 'recsys_pipeline_gate_passed', { gate: 'fail_under', metric: 'ndcg@10' })).toBe(1);
    const lastSuccess = sampleValue(firstSamples, 'recsys_pipeline_last_success_timestamp_seconds');
    expect(lastSuccess).toBe(sampleValue(firstSamples, 'recsys_pipeline_run_end_timestamp_seconds'));
    expect(lastSuccess).toBeGreaterThanOrEqual(firstWindow[0]);
    expect(lastSuccess).toBeLessThanOrEqual(firstWindow[1]);
    // No textfile when the metrics go to a Pushgateway.
    expect(existsSync(join(work, 'artifacts/recsys_pipeline.prom'))).toBe(false);
  });

  it('Prometheus scrapes the Pushgateway: the query API returns ndcg@10 and the age of the last success', async () => {
    const ndcg = await queryPrometheus(prometheus.url, `recsys_pipeline_eval_metric{job="${JOB}",pipeline="small",metric="ndcg@10"}`);
    expect(ndcg).toHaveLength(1);
    expect(ndcg[0].metric).toMatchObject({ split: 'tu', model: 'popularity' });
    expect(Number(ndcg[0].value[1])).toBe(evalReportMetrics(work)['ndcg@10']);
    // The alert's expression: the nightly job succeeded within 36 hours.
    const age = await queryPrometheus(prometheus.url, `time() - recsys_pipeline_last_success_timestamp_seconds{job="${JOB}"}`);
    expect(Number(age[0].value[1])).toBeGreaterThanOrEqual(0);
    expect(Number(age[0].value[1])).toBeLessThan(36 * 3600);
  });

  it('a run whose step fails marks that step and the run failed, and keeps the time of the last success', async () => {
    const closed = await freeLoopbackPort();
    writePipelineFile(work, {
      redis: `redis://127.0.0.1:${closed}`,
      monitoring: `monitoring: {pushgateway: ${pushgateway.url}, job: ${JOB}}\n`,
    });
    const failed = await runCli(['train', '--pipeline', file]);
    expect(failed.code, failed.stderr).toBe(1);
    const samples = await pushedSamples(pushgateway.url);
    expectRunMetrics(samples, work, 'failed');
    expect(stepStatuses(samples)).toEqual({
      ...Object.fromEntries(STEPS.slice(0, -1).map((s) => [s, 'skipped'])),
      'publish recs-popularity-tu': 'failed',
    });
    expect(sampleValue(samples, 'recsys_pipeline_run_end_timestamp_seconds')).toBeGreaterThan(firstWindow[1]);
    expect(sampleValue(samples, 'recsys_pipeline_last_success_timestamp_seconds')).toBe(
      sampleValue(firstSamples, 'recsys_pipeline_last_success_timestamp_seconds'),
    );
    // What the step did not get to: no rows.
    expect(sampleValue(samples, 'recsys_pipeline_step_rows_processed', { step: 'publish recs-popularity-tu' })).toBeUndefined();
  });

  it('a Pushgateway that is down (PUSHGATEWAY_URL at a closed port): the run succeeds with one warning', async () => {
    writePipelineFile(work, { redis: redis.url });
    const down = `http://127.0.0.1:${await freeLoopbackPort()}`;
    const before = await pushedSamples(pushgateway.url);
    const r = await runCli(['train', '--pipeline', file], { env: { PUSHGATEWAY_URL: down } });
    expect(r.code, r.stderr).toBe(0);
    const lines = warnings(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`monitoring: the run's metrics did not reach the pushgateway ${down}`);
    expect(lines[0]).toContain('ECONNREFUSED');
    // The event in the pipeline's log; nothing reached the other Pushgateway, no textfile.
    const logs = readdirSync(join(work, 'artifacts/logs')).map((f) => readFileSync(join(work, 'artifacts/logs', f), 'utf8'));
    expect(logs.join('').match(/"event":"monitoring.failed"/g)).toHaveLength(1);
    expect((await pushedSamples(pushgateway.url)).filter((s) => s.name.startsWith('recsys_'))).toEqual(
      before.filter((s) => s.name.startsWith('recsys_')),
    );
    expect(existsSync(join(work, 'artifacts/recsys_pipeline.prom'))).toBe(false);
  });

  it('a Pushgateway that accepts connections and never answers: the run succeeds after the short timeout, with one warning', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const r = await runCli(['train', '--pipeline', file], { env: { PUSHGATEWAY_URL: `http://127.0.0.1:${port}` } });
      expect(r.code, r.stderr).toBe(0);
      expect(warnings(r.stderr)).toEqual([
        `warning: monitoring: the run's metrics did not reach the pushgateway http://127.0.0.1:${port} (request timed out); the run itself is not affected`,
      ]);
    } finally {
      silent.close();
    }
  });

  it('a PUSHGATEWAY_URL that is not an http(s) URL is bad configuration: exit 2 before any step', async () => {
    const r = await runCli(['train', '--pipeline', file], { env: { PUSHGATEWAY_URL: 'pushgateway:9091' } });
    expect(r.code, r.stderr).toBe(2);
    expect(oneErrorLine(r)).toBe('error: PUSHGATEWAY_URL="pushgateway:9091": expected an http:// or https:// URL of a Pushgateway');
    expect(r.stderr).not.toContain('[1/6]');
  });
});

describe('pipeline runs reported without a Pushgateway: the textfile-collector file', () => {
  const work = newWork();
  const textfile = join(work, 'artifacts/recsys_pipeline.prom');
  let redis: RedisServer;
  let file: string;

  beforeAll(async () => {
    process.env.RECSYS_QUIET = '1';
    delete process.env.PUSHGATEWAY_URL;
    redis = await startRedisServer();
    file = writePipelineFile(work, { redis: redis.url });
  });

  afterAll(async () => {
    await redis?.stop();
  });

  it('a run writes <root>/recsys_pipeline.prom, which promtool accepts, with the evaluated metrics and the last success', async () => {
    const before = Date.now() / 1000;
    await runPipeline(loadPipeline(file));
    const text = readFileSync(textfile, 'utf8');
    const check = await runProcess('promtool', ['check', 'metrics'], { input: text });
    expect(check.code, check.stdout + check.stderr).toBe(0);
    const samples = parseSamples(text);
    expectRunMetrics(samples, work, 'success');
    expect(stepStatuses(samples)).toEqual(Object.fromEntries(STEPS.map((s) => [s, 'ran'])));
    expect(sampleValue(samples, 'recsys_pipeline_step_rows_processed', { step: 'recommend popularity-tu' })).toBe(USERS * K);
    const lastSuccess = sampleValue(samples, 'recsys_pipeline_last_success_timestamp_seconds') ?? 0;
    expect(lastSuccess).toBeGreaterThanOrEqual(before);
    expect(lastSuccess).toBe(sampleValue(samples, 'recsys_pipeline_run_end_timestamp_seconds'));
    // Written through a temporary file beside it: none is left.
    expect(readdirSync(join(work, 'artifacts')).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('a failed run replaces the file and keeps the last success it held', async () => {
    const previous = parseSamples(readFileSync(textfile, 'utf8'));
    writePipelineFile(work, { redis: `redis://127.0.0.1:${await freeLoopbackPort()}` });
    await expect(runPipeline(loadPipeline(file))).rejects.toThrow(/cannot reach Redis/);
    const samples = parseSamples(readFileSync(textfile, 'utf8'));
    expectRunMetrics(samples, work, 'failed');
    expect(stepStatuses(samples)['publish recs-popularity-tu']).toBe('failed');
    expect(sampleValue(samples, 'recsys_pipeline_last_success_timestamp_seconds')).toBe(
      sampleValue(previous, 'recsys_pipeline_last_success_timestamp_seconds'),
    );
  });

  it('a run that breaches a gate is no success either: its status says so, the last success stays', async () => {
    const previous = parseSamples(readFileSync(textfile, 'utf8'));
    writePipelineFile(work, { redis: redis.url, ndcgBound: 0.99 });
    const outcome = await runPipeline(loadPipeline(file));
    expect(outcome.gates.map((g) => g.passed)).toEqual([false]);
    const samples = parseSamples(readFileSync(textfile, 'utf8'));
    expectRunMetrics(samples, work, 'gate_breached');
    expect(sampleValue(samples, 'recsys_pipeline_gate_passed', { gate: 'fail_under', metric: 'ndcg@10' })).toBe(0);
    expect(stepStatuses(samples)['publish recs-popularity-tu']).toBe('ran');
    expect(sampleValue(samples, 'recsys_pipeline_last_success_timestamp_seconds')).toBe(
      sampleValue(previous, 'recsys_pipeline_last_success_timestamp_seconds'),
    );
  });
});
