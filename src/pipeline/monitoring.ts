import { join } from 'node:path';
import {
  reportPipelineRun,
  TEXTFILE_NAME,
  type MonitoringTarget,
  type RunStatus,
  type StepRunReport,
  type StepStatus,
} from '../tracking/prometheus-report.js';
import { excerpt, InputError } from '../util/errors.js';
import type { GateResult } from './gates.js';
import { HTTP_URL, type PipelineHead } from './spec.js';
import type { ReportRow, UnitPlan } from './steps/step.js';

/**
 * What a pipeline run reports to Prometheus (tracking/prometheus-report.ts): the runner tells a
 * `RunMonitor` when each unit starts and ends, and has it report once at the end of the run,
 * successful or not. Configured by the file's `monitoring:` or the PUSHGATEWAY_URL variable.
 */
export const PUSHGATEWAY_ENV = 'PUSHGATEWAY_URL';

/** Where the runs of `head` report to; an invalid PUSHGATEWAY_URL is an InputError (exit 2). */
export function monitoringTarget(head: PipelineHead, env: NodeJS.ProcessEnv = process.env): MonitoringTarget {
  const fromEnv = env[PUSHGATEWAY_ENV] || undefined;
  const pushgateway = head.monitoring.pushgateway ?? fromEnv ?? null;
  if (pushgateway !== null && !HTTP_URL.safeParse(pushgateway).success)
    throw new InputError(`${PUSHGATEWAY_ENV}=${excerpt(pushgateway)}: expected an http:// or https:// URL of a Pushgateway`);
  return { pushgateway, job: head.monitoring.job, textfile: join(head.artifacts, TEXTFILE_NAME) };
}

export class RunMonitor {
  private readonly startedAt = Date.now() / 1000;
  private readonly ended = new Map<string, StepRunReport>();
  private readonly evaluatedSplits = new Set<string>();
  private running: { readonly label: string; readonly started: number } | null = null;

  constructor(
    private readonly head: PipelineHead,
    private readonly units: readonly UnitPlan[],
    private readonly target: MonitoringTarget,
  ) {}

  unitStarted(unit: UnitPlan): void {
    this.running = { label: unit.label, started: performance.now() };
  }

  /** `rows`: what the unit processed, where it knows it. */
  unitEnded(unit: UnitPlan, status: 'ran' | 'skipped', seconds: number, rows: number | null): void {
    this.ended.set(unit.label, { step: unit.label, kind: unit.kind, status, seconds, rows });
    if (unit.kind === 'eval' && unit.split !== undefined) this.evaluatedSplits.add(unit.split);
    this.running = null;
  }

  /**
   * Reports the run: `rows` are the final metrics rows; those of models on a split an eval unit
   * of this run evaluated are the gated metrics. Never throws.
   */
  async report(status: RunStatus, rows: readonly ReportRow[], gates: readonly GateResult[]): Promise<void> {
    const steps = this.units.map((unit): StepRunReport => {
      const ended = this.ended.get(unit.label);
      if (ended) return ended;
      const failed = this.running?.label === unit.label;
      const seconds = failed && this.running ? (performance.now() - this.running.started) / 1000 : null;
      return { step: unit.label, kind: unit.kind, status: (failed ? 'failed' : 'not_run') satisfies StepStatus, seconds, rows: null };
    });
    const evaluations = rows.flatMap((r) =>
      r.model !== undefined && this.evaluatedSplits.has(r.split) ? [{ split: r.split, model: r.model, metrics: r.metrics }] : [],
    );
    await reportPipelineRun(
      { pipeline: this.head.name, status, startedAt: this.startedAt, finishedAt: Date.now() / 1000, steps, evaluations, gates },
      this.target,
    );
  }
}
