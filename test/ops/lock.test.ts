import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireRootLock } from '../../src/pipeline/lock.js';
import { RecsysError } from '../../src/util/errors.js';
import { setLogFile } from '../../src/util/log.js';
import { tempDir } from '../helpers.js';

process.env.RECSYS_QUIET = '1';

function writeLock(root: string, pid: number, host = hostname()): void {
  writeFileSync(
    join(root, '.lock'),
    JSON.stringify({ pid, host, started_at: '2026-01-01T00:00:00.000Z', command: 'recsys train --pipeline x' }),
  );
}

/** A real process that stays alive until killed. */
function sleeper(): { pid: number; stop: () => Promise<void> } {
  const child = spawn('sleep', ['30']);
  return {
    pid: child.pid ?? -1,
    stop: () =>
      new Promise((resolve) => {
        child.on('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

describe('the artifact root lock', () => {
  it('records pid, host, start time and command, refuses a second holder, and is released', () => {
    const root = tempDir();
    const lock = acquireRootLock(root, 'recsys train --pipeline a.yaml');
    expect(JSON.parse(readFileSync(join(root, '.lock'), 'utf8'))).toMatchObject({
      pid: process.pid,
      host: hostname(),
      command: 'recsys train --pipeline a.yaml',
    });
    expect(() => acquireRootLock(root, 'again')).toThrow(`another run holds the artifact root: pid ${process.pid} on ${hostname()}`);
    lock.release();
    expect(existsSync(join(root, '.lock'))).toBe(false);
    lock.release(); // twice is harmless
    acquireRootLock(root, 'after').release();
  });

  it('a live process keeps it: the error names its pid and exits 1', async () => {
    const root = tempDir();
    const live = sleeper();
    try {
      writeLock(root, live.pid);
      let error: unknown;
      try {
        acquireRootLock(root, 'second');
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(RecsysError);
      expect((error as RecsysError).exitCode).toBe(1);
      expect((error as Error).message).toContain(
        `another run holds the artifact root: pid ${live.pid} on ${hostname()}, started 2026-01-01T00:00:00.000Z (recsys train --pipeline x)`,
      );
    } finally {
      await live.stop();
    }
    // now that process is gone: the lock is stale and taken over, with a message
    const logFile = join(root, 'log.jsonl');
    setLogFile(logFile);
    const lock = acquireRootLock(root, 'third');
    setLogFile(null);
    expect(JSON.parse(readFileSync(join(root, '.lock'), 'utf8')).pid).toBe(process.pid);
    expect(readFileSync(logFile, 'utf8')).toContain(`took over a stale lock of pid ${live.pid} on ${hostname()}`);
    lock.release();
  });

  it('a lock from another host is never taken over (its pid cannot be checked here)', () => {
    const root = tempDir();
    writeLock(root, 999_999_999, 'elsewhere');
    expect(() => acquireRootLock(root, 'x')).toThrow('if that process is gone from elsewhere, delete the lock file');
  });

  it('release leaves alone a lock another process took over meanwhile', () => {
    const root = tempDir();
    const lock = acquireRootLock(root, 'mine');
    writeLock(root, 424242);
    lock.release();
    expect(JSON.parse(readFileSync(join(root, '.lock'), 'utf8')).pid).toBe(424242);
  });
});
