import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OUTBOX_FILE, REJECTED_FILE, outboxPath, readOutboxFile, syncOutbox } from '../../src/tracking/outbox.js';
import { RestTracker } from '../../src/tracking/rest-tracker.js';
import type { TrackedRun } from '../../src/tracking/tracker.js';
import { InputError, RecsysError } from '../../src/util/errors.js';
import { FAST_RETRY, type MlflowTestServer } from './mlflow-test-server.js';
import { useServerFixture, type ServerFixture } from './server-fixture.js';

let dir: string;
let server: MlflowTestServer;
let logs: ServerFixture['logs'];
useServerFixture('recsys-outbox-', (f) => ({ dir, server, logs } = f));

function tracker(): RestTracker {
  // A 0 ms flush interval sends every logMetrics call as its own request.
  return new RestTracker({ uri: server.uri, root: dir, retry: FAST_RETRY, flushIntervalMs: 0 });
}

/** Five epochs of loss 1/epoch at steps 1..5 with fixed timestamps, then FINISHED. */
async function trainFiveEpochs(run: TrackedRun): Promise<void> {
  for (let epoch = 1; epoch <= 5; epoch++) run.logMetrics({ loss: 1 / epoch }, epoch, 1_700_000_000_000 + epoch);
  await run.end('FINISHED', 1_700_000_009_000);
}

const expectedLosses = [1, 2, 3, 4, 5].map((e) => ({ key: 'loss', value: 1 / e, timestamp: 1_700_000_000_000 + e, step: e }));

function outboxFiles(): string[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith('.tracking-outbox'))
    .sort();
}

describe('outbox and syncOutbox', () => {
  it('delivers a run recorded during an outage exactly once when the server is back', async () => {
    await server.stop();
    const run = await tracker().startRun({ experiment: 'pipe', runName: 'train', params: { factors: 32 }, tags: { 'recsys.seed': '7' } });
    await trainFiveEpochs(run);
    const queued = readOutboxFile(outboxPath(dir));
    expect(queued.map((e) => e.op)).toEqual([
      'create-run',
      'log-batch',
      'log-batch',
      'log-batch',
      'log-batch',
      'log-batch',
      'log-batch',
      'update-run',
    ]);

    await server.start();
    expect(await syncOutbox(dir, server.uri, FAST_RETRY)).toEqual({ sent: 8, failed: 0, pending: 0 });

    expect(server.runs.size).toBe(1);
    const [stored] = server.runs.values();
    expect(stored.info).toMatchObject({ run_name: 'train', status: 'FINISHED', end_time: 1_700_000_009_000 });
    expect(stored.info.experiment_id).toBe(server.experimentByName('pipe')?.experiment_id);
    expect(stored.metrics).toEqual(expectedLosses);
    expect(Object.fromEntries(stored.params)).toEqual({ factors: '32' });
    expect(stored.tags.get('recsys.seed')).toBe('7');

    // Nothing left to send, and a second sync sends nothing again.
    expect(outboxFiles()).toEqual(['.tracking-outbox.ids.json']);
    expect(await syncOutbox(dir, server.uri, FAST_RETRY)).toEqual({ sent: 0, failed: 0, pending: 0 });
    expect(server.runs.size).toBe(1);
    expect(server.runs.get(stored.info.run_id)?.metrics).toHaveLength(5);
  });

  it('keeps the rest of a run that lost the server midway under its server run id', async () => {
    const run = await tracker().startRun({ experiment: 'pipe', runName: 'train' });
    run.logMetrics({ loss: 1 }, 1, 1_700_000_000_001);
    await run.flush();
    await server.stop();
    for (let epoch = 2; epoch <= 5; epoch++) run.logMetrics({ loss: 1 / epoch }, epoch, 1_700_000_000_000 + epoch);
    await run.end('FINISHED', 1_700_000_009_000);
    expect(readOutboxFile(outboxPath(dir)).every((e) => e.op !== 'create-run' && 'run' in e && 'run_id' in e.run)).toBe(true);

    await server.start();
    expect(await syncOutbox(dir, server.uri, FAST_RETRY)).toEqual({ sent: 5, failed: 0, pending: 0 });
    const stored = server.runs.get(run.runId)!;
    expect(stored.metrics).toEqual(expectedLosses);
    expect(stored.info.status).toBe('FINISHED');
  });

  it('resumes an interrupted sync without sending anything twice', async () => {
    await server.stop();
    await trainFiveEpochs(await tracker().startRun({ experiment: 'pipe', runName: 'train' }));
    await server.start();

    // Three requests get through (experiment lookup, create, run), then the server fails for good.
    server.failNext(1000, 503, 3);
    const first = await syncOutbox(dir, server.uri, FAST_RETRY);
    expect(first.sent).toBeGreaterThan(0);
    expect(first.pending).toBeGreaterThan(0);
    expect(first.sent + first.pending).toBe(7);
    expect(logs.warnings().some((w) => w.includes('TEMPORARILY_UNAVAILABLE') && w.includes('still waiting'))).toBe(true);

    server.recover();
    const second = await syncOutbox(dir, server.uri, FAST_RETRY);
    expect(second).toEqual({ sent: first.pending, failed: 0, pending: 0 });
    expect(server.runs.size).toBe(1);
    const [stored] = server.runs.values();
    expect(stored.metrics).toEqual(expectedLosses);
    expect(stored.info.status).toBe('FINISHED');
  });

  it('sends requests queued while a sync was interrupted after the older ones', async () => {
    await server.stop();
    const t = tracker();
    const run = await t.startRun({ experiment: 'pipe', runName: 'train' });
    run.logMetrics({ loss: 1 }, 1, 1_700_000_000_001);
    await run.flush();
    await server.start();
    server.failNext(1000, 503, 2);
    expect((await syncOutbox(dir, server.uri, FAST_RETRY)).pending).toBeGreaterThan(0);
    server.recover();

    // The training process (still offline) keeps appending under the local run id.
    for (let epoch = 2; epoch <= 5; epoch++) run.logMetrics({ loss: 1 / epoch }, epoch, 1_700_000_000_000 + epoch);
    await run.end('FINISHED', 1_700_000_009_000);

    const result = await syncOutbox(dir, server.uri, FAST_RETRY);
    expect(result.failed).toBe(0);
    expect(result.pending).toBe(0);
    const [stored] = server.runs.values();
    expect(server.runs.size).toBe(1);
    expect(stored.metrics).toEqual(expectedLosses);
  });

  it('moves requests the server refuses to the rejected file and goes on', async () => {
    const run = await tracker().startRun({ experiment: 'pipe', runName: 'train' });
    await server.stop();
    await trainFiveEpochs(run);
    await server.start();
    server.runs.delete(run.runId);

    expect(await syncOutbox(dir, server.uri, FAST_RETRY)).toEqual({ sent: 0, failed: 6, pending: 0 });
    const rejected = readFileSync(join(dir, REJECTED_FILE), 'utf8').trim().split('\n');
    expect(rejected).toHaveLength(6);
    expect((JSON.parse(rejected[0]) as { error: string }).error).toContain('RESOURCE_DOES_NOT_EXIST');
    expect(existsSync(outboxPath(dir))).toBe(false);
  });

  it('skips a torn last line, and names the file and line of a corrupt one', () => {
    const path = join(dir, OUTBOX_FILE);
    const entry = {
      v: 1,
      uri: 'http://x',
      queued_at: 1,
      op: 'update-run',
      run: { run_id: 'r1' },
      body: { status: 'FINISHED', end_time: 2 },
    };
    writeFileSync(path, `${JSON.stringify(entry)}\n{"v":1,"op":"log-ba`);
    expect(readOutboxFile(path)).toEqual([entry]);
    expect(logs.warnings().some((w) => w.includes(':2: incomplete last line'))).toBe(true);

    writeFileSync(path, `${JSON.stringify(entry)}\nnot json\n${JSON.stringify(entry)}\n`);
    expect(() => readOutboxFile(path)).toThrow(InputError);
    expect(() => readOutboxFile(path)).toThrow(`${path}:2:`);
    writeFileSync(path, `${JSON.stringify({ ...entry, op: 'delete-run' })}\n`);
    expect(() => readOutboxFile(path)).toThrow(/:1: field "op"/);
  });

  it('allows one sync at a time, and takes over the lock of a process that is gone', async () => {
    appendFileSync(join(dir, OUTBOX_FILE), '');
    const lock = join(dir, '.tracking-outbox.lock');
    writeFileSync(lock, String(process.ppid));
    await expect(syncOutbox(dir, server.uri, FAST_RETRY)).rejects.toThrow(RecsysError);

    const gone = spawnSync(process.execPath, ['-e', 'process.pid']).pid;
    writeFileSync(lock, String(gone));
    expect(await syncOutbox(dir, server.uri, FAST_RETRY)).toEqual({ sent: 0, failed: 0, pending: 0 });
    expect(existsSync(lock)).toBe(false);
  });
});
