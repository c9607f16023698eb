import { existsSync, readFileSync } from 'node:fs';
import { Gauge, Pushgateway, Registry } from 'prom-client';
import { writeFileAtomic } from '../util/fs.js';
import { log } from '../util/log.js';
import { networkMessage } from './http-client.js';

/**
 * A pipeline run's outcome as Prometheus metrics (prom-client): pushed to a Pushgateway when one
 * is configured (PUT: the run replaces the pipeline's whole group), otherwise written to a
 * node_exporter textfile-collector file. The time of the last successful run is carried over
 * from what the Pushgateway or the file held before, so an alert on its age fires when a nightly
 * job keeps failing. Monitoring never fails a run: an unreachable Pushgateway or an unwritable
 * file is one warning line (and a `monitoring.failed` event in the run log).
 * Metric names are documented in docs/serving.md ("Monitoring").
 */
export const TEXTFILE_NAME = 'recsys_pipeline.prom';
export const DEFAULT_MONITORING_JOB = 'recsys_pipeline';
/** How long one request to the Pushgateway may stay unanswered. */
const PUSHGATEWAY_TIMEOUT_MS = 3000;

const RUN_STATUSES = ['success', 'failed', 'gate_breached'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
const STEP_STATUSES = ['ran', 'skipped', 'failed', 'not_run'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

const LAST_SUCCESS_METRIC = 'recsys_pipeline_last_success_timestamp_seconds';

export interface StepRunReport {
  /** The unit's label, e.g. "train als-tu". */
  readonly step: string;
  readonly kind: string;
  readonly status: StepStatus;
  /** null for a step that did not run. */
  readonly seconds: number | null;
  /** Rows the step processed, where it knows them. */
  readonly rows: number | null;
}

/** The evaluated metrics of one model on one split (what the gates check). */
export interface EvalRunReport {
  readonly split: string;
  readonly model: string;
  readonly metrics: Readonly<Record<string, number>>;
}

export interface GateRunReport {
  readonly split: string;
  readonly model: string;
  readonly gate: string;
  readonly metric: string;
  readonly passed: boolean;
}

export interface PipelineRunReport {
  readonly pipeline: string;
  readonly status: RunStatus;
  /** Unix time in seconds. */
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly steps: readonly StepRunReport[];
  readonly evaluations: readonly EvalRunReport[];
  readonly gates: readonly GateRunReport[];
}

export interface MonitoringTarget {
  /** The Pushgateway's base URL, or null to write `textfile`. */
  readonly pushgateway: string | null;
  /** The Pushgateway job the run is pushed under (grouped further by pipeline). */
  readonly job: string;
  /** The textfile-collector file written without a Pushgateway. */
  readonly textfile: string;
}

/** The run's metrics in a registry of their own; `lastSuccess` is the time of the last successful run, if any. */
function runRegistry(report: PipelineRunReport, lastSuccess: number | null): Registry {
  const registry = new Registry();
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> =>
    new Gauge({ name: `recsys_pipeline_${name}`, help, labelNames, registers: [registry] });
  const pipeline = report.pipeline;

  const runStatus = gauge('run_status', 'Status of the last run: 1 for its status, 0 for the others.', ['pipeline', 'status']);
  for (const status of RUN_STATUSES) runStatus.set({ pipeline, status }, status === report.status ? 1 : 0);
  gauge('run_start_timestamp_seconds', 'Unix time the last run started.', ['pipeline']).set({ pipeline }, report.startedAt);
  gauge('run_end_timestamp_seconds', 'Unix time the last run ended.', ['pipeline']).set({ pipeline }, report.finishedAt);
  gauge('run_duration_seconds', 'Wall time of the last run.', ['pipeline']).set({ pipeline }, report.finishedAt - report.startedAt);
  if (lastSuccess !== null)
    gauge('last_success_timestamp_seconds', 'Unix time the last successful run ended.', ['pipeline']).set({ pipeline }, lastSuccess);

  const stepLabels = ['pipeline', 'step', 'kind'] as const;
  const stepStatus = gauge('step_status', 'Status of each step in the last run: 1 for its status, 0 for the others.', [
    ...stepLabels,
    'status',
  ]);
  const stepSeconds = gauge('step_duration_seconds', 'Wall time of each step in the last run (a skipped step: its check).', stepLabels);
  const stepRows = gauge('step_rows_processed', 'Rows each step processed in the last run, where the step knows them.', stepLabels);
  for (const s of report.steps) {
    const labels = { pipeline, step: s.step, kind: s.kind };
    for (const status of STEP_STATUSES) stepStatus.set({ ...labels, status }, status === s.status ? 1 : 0);
    if (s.seconds !== null) stepSeconds.set(labels, s.seconds);
    if (s.rows !== null) stepRows.set(labels, s.rows);
  }

  const evalMetric = gauge('eval_metric', 'Evaluated metric of a model on a split in the last run (e.g. metric="ndcg@10").', [
    'pipeline',
    'split',
    'model',
    'metric',
  ]);
  for (const e of report.evaluations) {
    for (const [metric, value] of Object.entries(e.metrics)) evalMetric.set({ pipeline, split: e.split, model: e.model, metric }, value);
  }
  const gatePassed = gauge('gate_passed', 'Quality gate of the last run: 1 passed, 0 breached.', [
    'pipeline',
    'split',
    'model',
    'gate',
    'metric',
  ]);
  for (const g of report.gates)
    gatePassed.set({ pipeline, split: g.split, model: g.model, gate: g.gate, metric: g.metric }, g.passed ? 1 : 0);
  return registry;
}

/**
 * Reports a finished run. Never throws: a failure to deliver is one warning line and an event.
 * When the last-success time held before cannot be read (the Pushgateway is down), nothing is
 * pushed: a push without it would erase it.
 */
export async function reportPipelineRun(report: PipelineRunReport, target: MonitoringTarget): Promise<void> {
  const to = target.pushgateway === null ? 'textfile' : 'pushgateway';
  const where = target.pushgateway ?? target.textfile;
  try {
    const previous =
      target.pushgateway === null
        ? lastSuccessInTextfile(target.textfile, report.pipeline)
        : await lastSuccessInPushgateway(target.pushgateway, target.job, report.pipeline);
    const lastSuccess = report.status === 'success' ? report.finishedAt : previous;
    const registry = runRegistry(report, lastSuccess);
    if (target.pushgateway === null) writeFileAtomic(target.textfile, await registry.metrics());
    else {
      const gateway = new Pushgateway(target.pushgateway, { timeout: PUSHGATEWAY_TIMEOUT_MS }, registry);
      await gateway.push({ jobName: target.job, groupings: { pipeline: report.pipeline } });
    }
    log.event('monitoring.reported', { to, where, status: report.status, last_success: lastSuccess });
  } catch (err) {
    const message = networkMessage(err);
    log.warn(`monitoring: the run's metrics did not reach the ${to} ${where} (${message}); the run itself is not affected`, {
      event: 'monitoring.failed',
      to,
      where,
      error: message,
    });
  }
}

/** The value of a sample line `NAME{pipeline="P"} VALUE` in a file this module wrote, or null. */
function lastSuccessInTextfile(path: string, pipeline: string): number | null {
  if (!existsSync(path)) return null;
  const prefix = `${LAST_SUCCESS_METRIC}{pipeline="${pipeline}"} `;
  const line = readFileSync(path, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(prefix));
  const value = line === undefined ? Number.NaN : Number(line.slice(prefix.length));
  return Number.isFinite(value) ? value : null;
}

/** A group in the Pushgateway's JSON API (GET /api/v1/metrics): its grouping labels, and each metric family by name. */
interface PushgatewayGroup {
  readonly labels?: Record<string, string>;
  readonly [family: string]: unknown;
}

interface PushgatewayFamily {
  readonly metrics?: ReadonlyArray<{ readonly value?: string }>;
}

/** The last-success time the Pushgateway holds for the pipeline's group, or null; throws when it cannot be asked. */
async function lastSuccessInPushgateway(url: string, job: string, pipeline: string): Promise<number | null> {
  const response = await fetch(new URL('api/v1/metrics', url.endsWith('/') ? url : `${url}/`), {
    signal: AbortSignal.timeout(PUSHGATEWAY_TIMEOUT_MS),
  });
  if (!response.ok) throw new Error(`GET /api/v1/metrics answered ${response.status}`);
  const groups = ((await response.json()) as { data?: PushgatewayGroup[] }).data ?? [];
  const group = groups.find((g) => g.labels?.job === job && g.labels?.pipeline === pipeline);
  const value = Number((group?.[LAST_SUCCESS_METRIC] as PushgatewayFamily | undefined)?.metrics?.[0]?.value);
  return Number.isFinite(value) ? value : null;
}
