import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPEN_RUNS_DIR, endAbandonedRuns, markRunClosed, markRunOpen } from '../../src/tracking/open-runs.js';
import { syncOutbox } from '../../src/tracking/outbox.js';
import { RestTracker } from '../../src/tracking/rest-tracker.js';
import { FAST_RETRY, type MlflowTestServer } from './mlflow-test-server.js';
import { useServerFixture } from './server-fixture.js';

/**
 * Runs left RUNNING by a process that died (SIGKILL) are ended as KILLED by the next pipeline
 * run, on an MLflow server through the REST API; test/ops/kill.test.ts does it for the file
 * store with a real killed process.
 */
let dir: string;
let server: MlflowTestServer;
useServerFixture('recsys-open-runs-', (f) => ({ dir, server } = f));

function tracker(): RestTracker {
  return new RestTracker({ uri: server.uri, root: dir, retry: FAST_RETRY, flushIntervalMs: 0 });
}

/** Marks `runId` open as a process that has exited, whose log was last written at `lastWrite` (Unix ms). */
function markOpenByDeadProcess(runId: string, lastWrite: number): void {
  const heartbeat = join(dir, `${runId}.log`);
  writeFileSync(heartbeat, '{}\n');
  utimesSync(heartbeat, lastWrite / 1000, lastWrite / 1000);
  markRunOpen(dir, { runId, location: server.uri, label: 'train als', heartbeat });
  const path = join(dir, OPEN_RUNS_DIR, `${runId}.json`);
  const dead = spawnSync(process.execPath, ['-e', '0']).pid;
  writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), pid: dead }));
}

describe('runs abandoned by a dead process', () => {
  it('are ended as KILLED on the server at the last write of their log; live and closed runs are left alone', async () => {
    const t = tracker();
    const abandoned = await t.startRun({ experiment: 'nightly', runName: 'train als' });
    const alive = await t.startRun({ experiment: 'nightly', runName: 'train two-tower' });
    const closed = await t.startRun({ experiment: 'nightly', runName: 'eval' });
    markOpenByDeadProcess(abandoned.runId, 1_700_000_123_000);
    markRunOpen(dir, { runId: alive.runId, location: server.uri, label: 'train two-tower', heartbeat: join(dir, 'none') });
    markRunOpen(dir, { runId: closed.runId, location: server.uri, label: 'eval', heartbeat: join(dir, 'none') });
    markRunClosed(dir, closed.runId);

    expect(await endAbandonedRuns(dir, () => tracker())).toEqual([abandoned.runId]);
    expect(server.runs.get(abandoned.runId)?.info).toMatchObject({ status: 'KILLED', end_time: 1_700_000_123_000 });
    expect(server.runs.get(alive.runId)?.info.status).toBe('RUNNING');
    expect(server.runs.get(closed.runId)?.info.status).toBe('RUNNING');
    // The live run's mark stays (this process still owns it); the dead one's is gone.
    expect(readdirSync(join(dir, OPEN_RUNS_DIR))).toEqual([`${alive.runId}.json`]);
    expect(await endAbandonedRuns(dir, () => tracker())).toEqual([]);
  });

  it('created while the server was down: the KILLED status goes through the outbox to the run sync creates', async () => {
    await server.stop();
    const run = await tracker().startRun({ experiment: 'nightly', runName: 'train als' });
    expect(run.runId).toMatch(/^local-/);
    markOpenByDeadProcess(run.runId, 1_700_000_456_000);
    expect(await endAbandonedRuns(dir, () => tracker())).toEqual([run.runId]);

    await server.start();
    expect(await syncOutbox(dir, server.uri, FAST_RETRY)).toMatchObject({ failed: 0, pending: 0 });
    const [stored] = server.runs.values();
    expect(stored.info).toMatchObject({ run_name: 'train als', status: 'KILLED', end_time: 1_700_000_456_000 });
  });
});
