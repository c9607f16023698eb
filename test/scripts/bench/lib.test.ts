import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lastLine, runLocked } from '../../../scripts/bench/lib.js';

describe('runLocked', () => {
  it("returns the command's exit code, output, the load average and /usr/bin/time's wall time and peak RSS", () => {
    const lock = join(mkdtempSync(join(tmpdir(), 'lock-')), 'bench.lock');
    // Python allocates and touches 64 MiB, so its peak RSS is at least that.
    const run = runLocked(
      ['/usr/bin/python3', '-c', 'import sys, time; b = bytearray(64 << 20); time.sleep(0.3); print("out"); sys.exit(3)'],
      {
        lock,
      },
    );
    expect(run.status).toBe(3);
    expect(run.stdout).toBe('out\n');
    expect(run.loadavg).toMatch(/^\d+\.\d\d \d+\.\d\d \d+\.\d\d$/);
    expect(run.wallSeconds).toBeGreaterThanOrEqual(0.3);
    expect(run.peakRssMiB).toBeGreaterThanOrEqual(64);
  });

  it('reports a run whose /usr/bin/time was killed by its status, with no usage, instead of throwing', () => {
    const lock = join(mkdtempSync(join(tmpdir(), 'lock-')), 'bench.lock');
    // The command's parent is /usr/bin/time.
    const run = runLocked(['sh', '-c', 'kill -KILL $PPID; sleep 1'], { lock });
    expect(run.status).not.toBe(0);
    expect(run.wallSeconds).toBeNaN();
    expect(run.peakRssMiB).toBeNaN();
  });

  it('waits for the lock another process holds', async () => {
    const lock = join(mkdtempSync(join(tmpdir(), 'lock-')), 'bench.lock');
    const holder = spawn('flock', [lock, 'sh', '-c', 'echo held; sleep 1.5']);
    await new Promise<void>((done) => holder.stdout.once('data', () => done()));
    const started = performance.now();
    const run = runLocked(['true'], { lock });
    expect(run.status).toBe(0);
    // The holder had about 1.5 s left; `true` itself takes milliseconds.
    expect((performance.now() - started) / 1000).toBeGreaterThan(1);
    expect(run.wallSeconds).toBeLessThan(0.5);
  });
});

describe('lastLine', () => {
  const stderr = [
    'loading data',
    'Error: first failure',
    'InputError: data/x/split.json: not a split directory',
    '    at prepareExperiment (file:///dist/pipeline/experiment.js:31:11)',
    'Node.js v20.20.2',
    '',
  ].join('\n');

  it('is the last line that names an error, without the stack and the Node.js version', () => {
    expect(lastLine(stderr)).toBe('InputError: data/x/split.json: not a split directory');
  });

  it('is the last line when none matches', () => {
    expect(lastLine(stderr, /backend/)).toBe('InputError: data/x/split.json: not a split directory');
    expect(lastLine('one\ntwo\n', /backend/)).toBe('two');
    expect(lastLine('')).toBe('no output');
  });
});
