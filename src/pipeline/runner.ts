import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ARTIFACT_ROOT_OUTPUT, gitCommit, newVersionName, RUN_LOG_FILE, type ArtifactRef } from '../artifacts/store.js';
import {
  createTracker,
  DEFAULT_RETRY_POLICY,
  syncOutbox,
  type RetryPolicy,
  type RunEndStatus,
  type TrackedRun,
  type Tracker,
} from '../tracking/index.js';
import { endAbandonedRuns, markRunClosed, markRunOpen } from '../tracking/open-runs.js';
import { metricName } from '../tracking/limits.js';
import { codeIdentity } from '../util/code-identity.js';
import { excerpt, InputError } from '../util/errors.js';
import { cleanStaleTemps, cleanTemps, moveFile, tempPathFor } from '../util/fs.js';
import { hashJson } from '../util/hash.js';
import { log, setLogFile } from '../util/log.js';
import { claimOutput } from '../util/output.js';
import { reachPhase } from '../util/phase.js';
import { recsysVersion } from '../util/version.js';
import { checkPipelineGates, type GateResult } from './gates.js';
import { onInterrupt } from './interrupt.js';
import type { Pipeline } from './load.js';
import { acquireRootLock } from './lock.js';
import { monitoringTarget, RunMonitor } from './monitoring.js';
import type { PipelineDetails } from './steps/artifacts.js';
import { findStepKind } from './steps/registry.js';
import type { ReportRow, UnitPlan } from './steps/step.js';

/**
 * Runs a pipeline's units in order under the artifact root's lock. A unit whose output was
 * last made from the same fingerprint (its config, the content of its inputs, the recsys version
 * and the code its step kind reaches: a code change may change what a step computes) is skipped
 * unless `force`. Each unit that runs is an MLflow run and writes its structured log into its
 * output (run.log.jsonl); the pipeline's own log goes to `<root>/logs/`. On SIGINT/SIGTERM
 * this process's temporary output is removed and the lock released (exit 130/143); what a
 * killed process leaves behind is removed by the next run.
 */
export const LOGS_DIR = 'logs';
/** Bumped when what goes into a fingerprint changes, so old records no longer match. */
const FINGERPRINT_FORMAT = 3;

export interface RunOptions {
  /** Run units even when unchanged. */
  readonly force?: boolean;
  /** Only the units of these step kinds (`recsys index --pipeline` runs the index steps). */
  readonly kinds?: readonly string[];
  /** Only the units of this split (a name under `splits:`). */
  readonly split?: string;
  /** What the lock file says holds it. */
  readonly command?: string;
  /** Retries of a tracking server (default: the tracker's). */
  readonly trackingRetry?: Partial<RetryPolicy>;
}

export interface UnitOutcome {
  readonly step: number;
  readonly kind: string;
  readonly label: string;
  readonly status: 'ran' | 'skipped';
  readonly seconds: number;
  /** Rows the unit processed, where it knows them (null: skipped, or not known). */
  readonly rows: number | null;
  /** The output directory: the new or unchanged latest version, or the dataset directory. */
  readonly dir: string;
}

export interface PipelineOutcome {
  readonly name: string;
  readonly units: UnitOutcome[];
  /** The final metrics of every model and serving stage, one row per (split, name). */
  readonly rows: ReportRow[];
  readonly gates: GateResult[];
  readonly logFile: string;
}

/** The units the options select, in file order. */
export function selectUnits(pipeline: Pipeline, opts: RunOptions): UnitPlan[] {
  const { head, steps } = pipeline;
  if (opts.split !== undefined && !(opts.split in head.splits)) {
    throw new InputError(`--split ${excerpt(opts.split)}: ${head.file} defines the splits ${Object.keys(head.splits).join(', ')}`);
  }
  const chosen = steps.filter((s) => !opts.kinds || opts.kinds.includes(s.kind));
  if (chosen.length === 0) throw new InputError(`${head.file} has no ${opts.kinds?.join(' or ')} step`);
  const units = chosen.flatMap((s) => s.plan()).filter((u) => opts.split === undefined || u.split === opts.split);
  if (units.length === 0) throw new InputError(`${head.file}: no ${opts.kinds?.join(' or ') ?? ''} step runs on split "${opts.split}"`);
  return units;
}

/**
 * Where a killed run may have left temporary entries: the artifact root and its artifact folders
 * (ours), and beside the dataset directory, where only the temporaries named after it are ours.
 */
function tempHomes(pipeline: Pipeline): { dir: string; name?: string }[] {
  const root = pipeline.head.artifacts;
  const subdirs = existsSync(root)
    ? readdirSync(root)
        .map((n) => join(root, n))
        .filter((p) => statSync(p).isDirectory())
    : [];
  const data = resolve(pipeline.head.data.out);
  return [...[root, ...subdirs].map((dir) => ({ dir })), { dir: dirname(data), name: basename(data) }];
}

function cleanLeftovers(pipeline: Pipeline): void {
  for (const { dir, name } of tempHomes(pipeline)) {
    for (const left of cleanStaleTemps(dir, name))
      log.info(`removed unfinished output ${join(dir, left)} (left by a process that was killed)`);
  }
}

/** The identity of the code a unit of `kind` runs: its step kind's module and all that it reaches. */
function stepCode(kind: string): string {
  const registered = findStepKind(kind);
  if (!registered) throw new Error(`no step kind "${kind}"`);
  return codeIdentity(registered.module);
}

function slug(label: string): string {
  return label.replace(/[^A-Za-z0-9_.-]+/g, '-');
}

/** Tracking keys: metric names as MLflow allows them, prefixed by the row when a unit reports several. */
function trackedMetrics(rows: readonly ReportRow[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const row of rows) {
    for (const [key, value] of Object.entries(row.metrics)) out[metricName(rows.length === 1 ? key : `${row.name}.${key}`)] = value;
  }
  return out;
}

export async function runPipeline(pipeline: Pipeline, opts: RunOptions = {}): Promise<PipelineOutcome> {
  const { head } = pipeline;
  const root = head.artifacts;
  const units = selectUnits(pipeline, opts);
  claimOutput(root, ARTIFACT_ROOT_OUTPUT);
  for (const unit of units) unit.claim?.();
  const monitor = new RunMonitor(head, units, monitoringTarget(head));
  const tracker = createTracker({ root, retry: opts.trackingRetry });
  const lock = acquireRootLock(root, opts.command ?? `recsys pipeline ${head.file}`);
  const logFile = join(root, LOGS_DIR, `${head.name}-${newVersionName()}.jsonl`);
  const current: CurrentRun = { run: null, ending: null };
  const removeHandlers = onInterrupt(async () => {
    // The run first: if its end cannot be delivered in time, its open mark and its log (the
    // time it last made progress) stay for the next run to end it as KILLED.
    if (current.ending) await current.ending;
    else if (current.run) await endTrackedRun(root, await current.run, 'KILLED');
    for (const { dir, name } of tempHomes(pipeline)) cleanTemps(dir, (pid) => pid === process.pid, name);
    setLogFile(null);
    lock.release();
  });
  // Outside the try: a failed run reports the metrics of the eval steps before the failure.
  const rows = new Map<string, ReportRow>();
  try {
    setLogFile(logFile);
    log.event('pipeline.start', { pipeline: head.name, file: head.file, units: units.map((u) => u.label), force: opts.force ?? false });
    // Before cleanLeftovers: a dead run's temporary log tells when it last made progress.
    await endAbandonedRuns(root, (location) => createTracker({ uri: location, root, retry: opts.trackingRetry }));
    await sendPendingTracking(root, tracker, opts.trackingRetry);
    cleanLeftovers(pipeline);
    const outcomes: UnitOutcome[] = [];
    for (const [i, unit] of units.entries()) {
      const started = performance.now();
      monitor.unitStarted(unit);
      const inputs = await unit.inputs();
      const fingerprint = hashJson({
        format: FINGERPRINT_FORMAT,
        recsys: recsysVersion(),
        kind: unit.kind,
        code: stepCode(unit.kind),
        config: unit.config,
        inputs: inputs.identity,
      });
      const state = unit.current();
      let dir: string;
      let status: UnitOutcome['status'];
      let processed: number | null = null;
      if (!opts.force && state !== null && state.fingerprint === fingerprint) {
        status = 'skipped';
        dir = state.dir;
        log.info(`[${i + 1}/${units.length}] ${unit.label}: skipped (unchanged)`, {
          event: 'unit.skipped',
          unit: unit.label,
          fingerprint,
          dir,
        });
      } else {
        status = 'ran';
        log.info(`[${i + 1}/${units.length}] ${unit.label}`, { event: 'unit.start', unit: unit.label, fingerprint });
        const details: PipelineDetails = {
          pipeline: head.name,
          file: head.file,
          step: unit.step,
          unit: unit.label,
          fingerprint,
          previous_latest: state?.version ?? null,
        };
        dir = await runUnit(unit, tracker, {
          fingerprint,
          details,
          lineage: inputs.lineage,
          tags: inputs.tags,
          head,
          logFile,
          current,
          processed: (n) => {
            processed = n;
          },
        });
      }
      for (const row of unit.report(dir)) rows.set(`${row.split}\u0000${row.name}`, row);
      const seconds = (performance.now() - started) / 1000;
      outcomes.push({ step: unit.step, kind: unit.kind, label: unit.label, status, seconds, rows: processed, dir });
      monitor.unitEnded(unit, status, seconds, processed);
      log.event('unit.end', { unit: unit.label, status, seconds, rows: processed, dir });
    }
    const finalRows = [...rows.values()];
    const evalRows = finalRows.filter((r) => r.model !== undefined && units.some((u) => u.kind === 'eval' && u.split === r.split));
    const gates = checkPipelineGates(evalRows, head.gates, root);
    log.event('pipeline.end', { gates: gates.map((g) => ({ ...g })) });
    await monitor.report(gates.every((g) => g.passed) ? 'success' : 'gate_breached', finalRows, gates);
    return { name: head.name, units: outcomes, rows: finalRows, gates, logFile };
  } catch (err) {
    await monitor.report('failed', [...rows.values()], []);
    throw err;
  } finally {
    removeHandlers();
    setLogFile(null);
    lock.release();
  }
}

interface UnitRunContext {
  readonly fingerprint: string;
  readonly details: PipelineDetails;
  readonly lineage: ArtifactRef[];
  readonly tags: Record<string, string>;
  readonly head: Pipeline['head'];
  readonly logFile: string;
  readonly current: CurrentRun;
  /** Where the unit tells the rows it processed. */
  readonly processed: (rows: number) => void;
}

/** Where the interrupt handler finds the tracked run to end as KILLED, or the end already under way. */
interface CurrentRun {
  /** Set from the moment the run is being started (a signal during the start still ends it). */
  run: Promise<TrackedRun> | null;
  ending: Promise<void> | null;
}

/** Ends the unit's run with `status`, visible to the interrupt handler while it is under way. */
async function endUnitRun(root: string, current: CurrentRun, run: TrackedRun, status: RunEndStatus): Promise<void> {
  current.ending = endTrackedRun(root, run, status);
  await current.ending;
  current.run = null;
  current.ending = null;
}

/**
 * What an earlier run left in the outbox (e.g. the KILLED end of a run interrupted while the
 * server did not answer) is sent before this run's own requests, so no run stays RUNNING until
 * someone runs `recsys tracking sync`. A server still down leaves it there; never fails the run.
 */
async function sendPendingTracking(root: string, tracker: Tracker, retry: Partial<RetryPolicy> | undefined): Promise<void> {
  if (tracker.kind !== 'mlflow-rest') return;
  try {
    const r = await syncOutbox(root, tracker.location, { ...DEFAULT_RETRY_POLICY, ...retry });
    if (r.sent + r.failed > 0)
      log.info(`tracking: sent ${r.sent} request(s) an earlier run left in the outbox`, { event: 'tracking.synced', ...r });
  } catch (err) {
    log.warn(`tracking: the outbox of ${root} was not sent (${(err as Error).message}); \`recsys tracking sync\` sends it later`);
  }
}

/** Runs one unit as a tracked run with its own log file, moved into its output when it succeeds. */
async function runUnit(unit: UnitPlan, tracker: Tracker, c: UnitRunContext): Promise<string> {
  const root = c.head.artifacts;
  const unitLog = tempPathFor(join(root, `${slug(unit.label)}.log.jsonl`));
  const starting = tracker.startRun({
    experiment: c.head.name,
    runName: unit.label,
    params: { step: unit.kind, ...unit.config },
    tags: {
      ...c.tags,
      'recsys.pipeline.file': c.head.file,
      'recsys.fingerprint': c.fingerprint,
      // The commit of the code that runs, wherever the working directory is.
      ...(gitCommit() ? { 'mlflow.source.git.commit': gitCommit() as string } : {}),
    },
  });
  c.current.run = starting;
  const run = await starting;
  const mark = { runId: run.runId, location: tracker.location, label: unit.label };
  markRunOpen(root, { ...mark, heartbeat: unitLog });
  setLogFile(unitLog);
  log.event('unit.start', { unit: unit.label, fingerprint: c.fingerprint, lineage: c.lineage, config: unit.config });
  /** From here on the unit's events go to the pipeline's log; the unit's log is final. */
  const finish = async (dir: string): Promise<void> => {
    log.event('unit.log_closed', { unit: unit.label });
    setLogFile(c.logFile);
    // The dataset directory may be on another file system than the root.
    moveFile(unitLog, join(dir, RUN_LOG_FILE));
    markRunOpen(root, { ...mark, heartbeat: c.logFile });
  };
  let dir: string;
  try {
    dir = await unit.run({
      fingerprint: c.fingerprint,
      lineage: c.lineage,
      details: { ...c.details },
      run,
      finish,
      processed: c.processed,
    });
  } catch (err) {
    log.error(`${unit.label} failed: ${(err as Error).message}`, { event: 'unit.failed' });
    setLogFile(c.logFile);
    const kept = join(root, LOGS_DIR, `${slug(unit.label)}-${newVersionName()}.failed.jsonl`);
    mkdirSync(dirname(kept), { recursive: true });
    if (existsSync(unitLog)) moveFile(unitLog, kept);
    log.error(`${unit.label} failed; its log: ${kept}`, { event: 'unit.failed', unit: unit.label });
    await endUnitRun(root, c.current, run, 'FAILED');
    throw err;
  }
  const rows = unit.report(dir);
  run.logMetrics(trackedMetrics(rows));
  run.setTags({ 'recsys.artifact.path': resolve(dir) });
  log.event('unit.done', { unit: unit.label, dir });
  await reachPhase('unit.done', unit.label);
  await endUnitRun(root, c.current, run, 'FINISHED');
  return dir;
}

/**
 * Ends a run this process started; its open mark goes only once the end is delivered (or kept
 * in the outbox), so a process that dies before that, or exits while a slow server has not
 * answered, leaves the mark for the next run to end the run as KILLED.
 */
async function endTrackedRun(root: string, run: TrackedRun, status: RunEndStatus): Promise<void> {
  await run.end(status);
  markRunClosed(root, run.runId);
}
