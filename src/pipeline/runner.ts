import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { gitCommit, newVersionName, type ArtifactRef } from '../artifacts/store.js';
import { createTracker, type RetryPolicy, type RunEndStatus, type TrackedRun, type Tracker } from '../tracking/index.js';
import { endAbandonedRuns, markRunClosed, markRunOpen } from '../tracking/open-runs.js';
import { metricName } from '../tracking/limits.js';
import { excerpt, InputError } from '../util/errors.js';
import { cleanStaleTemps, cleanTemps, tempPathFor } from '../util/fs.js';
import { hashJson } from '../util/hash.js';
import { log, setLogFile } from '../util/log.js';
import { recsysVersion } from '../util/version.js';
import { checkPipelineGates, type GateResult } from './gates.js';
import { onInterrupt } from './interrupt.js';
import type { Pipeline } from './load.js';
import { acquireRootLock } from './lock.js';
import type { PipelineDetails } from './steps/artifacts.js';
import type { ReportRow, UnitPlan } from './steps/step.js';

/**
 * Runs a pipeline's units in order under the artifact root's lock. A unit whose output was
 * last made from the same fingerprint (its config, the content of its inputs and the recsys
 * version: a release may change what a step computes) is skipped
 * unless `force`. Each unit that runs is an MLflow run and writes its structured log into its
 * output (run.log.jsonl); the pipeline's own log goes to `<root>/logs/`. On SIGINT/SIGTERM
 * this process's temporary output is removed and the lock released (exit 130/143); what a
 * killed process leaves behind is removed by the next run.
 */
export const RUN_LOG_FILE = 'run.log.jsonl';
export const LOGS_DIR = 'logs';
/** Bumped when what goes into a fingerprint changes, so old records no longer match. */
const FINGERPRINT_FORMAT = 2;

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

/** Directories where units write temporary names: the root, each artifact's folder, the dataset's parent. */
function tempDirs(pipeline: Pipeline): string[] {
  const root = pipeline.head.artifacts;
  const subdirs = existsSync(root)
    ? readdirSync(root)
        .map((n) => join(root, n))
        .filter((p) => statSync(p).isDirectory())
    : [];
  return [root, ...subdirs, dirname(resolve(pipeline.head.data.out))];
}

function cleanLeftovers(pipeline: Pipeline): void {
  for (const dir of tempDirs(pipeline)) {
    for (const name of cleanStaleTemps(dir)) log.info(`removed unfinished output ${join(dir, name)} (left by a process that was killed)`);
  }
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
  const tracker = createTracker({ root, retry: opts.trackingRetry });
  const lock = acquireRootLock(root, opts.command ?? `recsys pipeline ${head.file}`);
  const logFile = join(root, LOGS_DIR, `${head.name}-${newVersionName()}.jsonl`);
  const current: { run: TrackedRun | null } = { run: null };
  const removeHandlers = onInterrupt(async () => {
    for (const dir of tempDirs(pipeline)) cleanTemps(dir, (pid) => pid === process.pid);
    if (current.run) await endTrackedRun(root, current.run, 'KILLED');
    setLogFile(null);
    lock.release();
  });
  try {
    setLogFile(logFile);
    log.event('pipeline.start', { pipeline: head.name, file: head.file, units: units.map((u) => u.label), force: opts.force ?? false });
    // Before cleanLeftovers: a dead run's temporary log tells when it last made progress.
    await endAbandonedRuns(root, (location) => createTracker({ uri: location, root, retry: opts.trackingRetry }));
    cleanLeftovers(pipeline);
    const outcomes: UnitOutcome[] = [];
    const rows = new Map<string, ReportRow>();
    for (const [i, unit] of units.entries()) {
      const started = performance.now();
      const inputs = await unit.inputs();
      const fingerprint = hashJson({
        format: FINGERPRINT_FORMAT,
        recsys: recsysVersion(),
        kind: unit.kind,
        config: unit.config,
        inputs: inputs.identity,
      });
      const state = unit.current();
      let dir: string;
      let status: UnitOutcome['status'];
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
        dir = await runUnit(unit, tracker, { fingerprint, details, lineage: inputs.lineage, tags: inputs.tags, head, logFile, current });
      }
      for (const row of unit.report(dir)) rows.set(`${row.split}\u0000${row.name}`, row);
      const seconds = (performance.now() - started) / 1000;
      outcomes.push({ step: unit.step, kind: unit.kind, label: unit.label, status, seconds, dir });
      log.event('unit.end', { unit: unit.label, status, seconds, dir });
    }
    const finalRows = [...rows.values()];
    const evalRows = finalRows.filter((r) => r.model !== undefined && units.some((u) => u.kind === 'eval' && u.split === r.split));
    const gates = checkPipelineGates(evalRows, head.gates, root);
    log.event('pipeline.end', { gates: gates.map((g) => ({ ...g })) });
    return { name: head.name, units: outcomes, rows: finalRows, gates, logFile };
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
  /** Where the interrupt handler finds the run to mark KILLED. */
  readonly current: { run: TrackedRun | null };
}

/** Runs one unit as a tracked run with its own log file, moved into its output when it succeeds. */
async function runUnit(unit: UnitPlan, tracker: Tracker, c: UnitRunContext): Promise<string> {
  const root = c.head.artifacts;
  const unitLog = tempPathFor(join(root, `${slug(unit.label)}.log.jsonl`));
  const run = await tracker.startRun({
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
  c.current.run = run;
  markRunOpen(root, { runId: run.runId, location: tracker.location, label: unit.label, heartbeat: unitLog });
  setLogFile(unitLog);
  log.event('unit.start', { unit: unit.label, fingerprint: c.fingerprint, lineage: c.lineage, config: unit.config });
  let dir: string;
  try {
    dir = await unit.run({ fingerprint: c.fingerprint, lineage: c.lineage, details: { ...c.details }, run });
  } catch (err) {
    log.error(`${unit.label} failed: ${(err as Error).message}`, { event: 'unit.failed' });
    setLogFile(c.logFile);
    const kept = join(root, LOGS_DIR, `${slug(unit.label)}-${newVersionName()}.failed.jsonl`);
    mkdirSync(dirname(kept), { recursive: true });
    if (existsSync(unitLog)) renameSync(unitLog, kept);
    log.error(`${unit.label} failed; its log: ${kept}`, { event: 'unit.failed', unit: unit.label });
    c.current.run = null;
    await endTrackedRun(root, run, 'FAILED');
    throw err;
  }
  const rows = unit.report(dir);
  run.logMetrics(trackedMetrics(rows));
  run.setTags({ 'recsys.artifact.path': resolve(dir) });
  log.event('unit.done', { unit: unit.label, dir });
  setLogFile(c.logFile);
  renameSync(unitLog, join(dir, RUN_LOG_FILE));
  c.current.run = null;
  await endTrackedRun(root, run, 'FINISHED');
  return dir;
}

/** Ends a run this process started; its open mark goes first, so a finished run is never marked KILLED later. */
async function endTrackedRun(root: string, run: TrackedRun, status: RunEndStatus): Promise<void> {
  markRunClosed(root, run.runId);
  await run.end(status);
}
