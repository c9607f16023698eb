import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive, writeJsonAtomic } from '../util/fs.js';
import { log } from '../util/log.js';
import { UNTRACKED_RUN_ID, errorText } from './guarded-run.js';
import type { Tracker } from './tracker.js';

/**
 * Marks of tracked runs that are in progress, one small file per run under
 * `<root>/.tracking-open/`. A process killed with SIGKILL cannot end its run, which would
 * stay RUNNING in MLflow for ever; the next pipeline run on the same root finds the mark of a
 * dead process and ends that run as KILLED, at the time the dead process last wrote its log.
 */
export const OPEN_RUNS_DIR = '.tracking-open';

interface OpenRunMark {
  readonly runId: string;
  readonly pid: number;
  /** The tracker's location (server URI or mlruns folder): the run is ended there. */
  readonly location: string;
  readonly label: string;
  /** A file the run's process keeps writing (its log); its modification time is the end time. */
  readonly heartbeat: string;
}

function markPath(root: string, runId: string): string {
  return join(root, OPEN_RUNS_DIR, `${runId}.json`);
}

export function markRunOpen(root: string, mark: Omit<OpenRunMark, 'pid'>): void {
  if (mark.runId === UNTRACKED_RUN_ID) return;
  try {
    writeJsonAtomic(markPath(root, mark.runId), { ...mark, pid: process.pid });
  } catch (err) {
    log.warn(`tracking: could not mark run ${mark.runId} as open under ${root}: ${errorText(err)}`);
  }
}

export function markRunClosed(root: string, runId: string): void {
  rmSync(markPath(root, runId), { force: true });
  removeIfEmpty(join(root, OPEN_RUNS_DIR));
}

/** No open runs, no folder: an artifact root holds nothing hidden between runs. */
function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // not empty, or already gone
  }
}

/**
 * Ends, as KILLED, the open runs of processes that are no longer running, through
 * `trackerAt(location)`; returns their ids. Never throws.
 */
export async function endAbandonedRuns(root: string, trackerAt: (location: string) => Tracker): Promise<string[]> {
  const dir = join(root, OPEN_RUNS_DIR);
  if (!existsSync(dir)) return [];
  const ended: string[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.json')) continue;
    const path = join(dir, name);
    try {
      const mark = JSON.parse(readFileSync(path, 'utf8')) as OpenRunMark;
      if (mark.pid === process.pid || processAlive(mark.pid)) continue;
      const endTime = existsSync(mark.heartbeat) ? Math.round(statSync(mark.heartbeat).mtimeMs) : Date.now();
      log.warn(`tracking: run ${mark.runId} (${mark.label}) of process ${mark.pid}, which died, is ended as KILLED`, {
        event: 'tracking.abandoned_run',
        runId: mark.runId,
        location: mark.location,
      });
      await trackerAt(mark.location).endRun(mark.runId, 'KILLED', endTime);
      ended.push(mark.runId);
    } catch (err) {
      log.warn(`tracking: could not read ${path}: ${errorText(err)}; removed`);
    }
    rmSync(path, { force: true });
  }
  removeIfEmpty(dir);
  return ended;
}
