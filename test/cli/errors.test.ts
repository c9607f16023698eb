import { mkdtempSync, readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeError, excerpt, GateError, InputError } from '../../src/util/errors.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('nothing thrown');
}

describe('what the command line prints for an error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recsys-errors-'));

  it('turns real file-system errors into one line naming the path, exit 2', () => {
    const missing = describeError(
      thrown(() => readFileSync(join(dir, 'missing.json'))),
      false,
    );
    expect(missing).toEqual({ message: `${join(dir, 'missing.json')}: no such file or directory (open)`, exitCode: 2 });
    mkdirSync(join(dir, 'a-dir'));
    writeFileSync(join(dir, 'file'), 'x');
    const intoDir = describeError(
      thrown(() => renameSync(join(dir, 'file'), join(dir, 'a-dir'))),
      false,
    );
    expect(intoDir.exitCode).toBe(2);
    expect(intoDir.message).toBe(`${join(dir, 'a-dir')} (renaming ${join(dir, 'file')} to it): is a directory, not a file (rename)`);
    const underFile = describeError(
      thrown(() => writeFileSync(join(dir, 'file', 'x'), '')),
      false,
    );
    expect(underFile).toEqual({ message: `${join(dir, 'file', 'x')}: a part of the path is not a directory (open)`, exitCode: 2 });
    const dirOverFile = describeError(
      thrown(() => mkdirSync(join(dir, 'file'), { recursive: true })),
      false,
    );
    expect(dirOverFile).toEqual({ message: `${join(dir, 'file')}: exists and is not a directory (mkdir)`, exitCode: 2 });
  });

  it('keeps the exit code of RecsysErrors, and shows other errors as their first line, exit 1', () => {
    expect(describeError(new InputError('bad'), false)).toEqual({ message: 'bad', exitCode: 2 });
    expect(describeError(new GateError('low'), false)).toEqual({ message: 'low', exitCode: 3 });
    const other = describeError(new TypeError('x is undefined\nmore'), false);
    expect(other).toEqual({ message: 'x is undefined (RECSYS_DEBUG=1 prints the stack trace)', exitCode: 1 });
  });

  it('prints the stack trace only when debugging', () => {
    const err = new TypeError('boom');
    expect(describeError(err, false).message).not.toMatch(/^\s+at /m);
    expect(describeError(err, true).message).toMatch(/^\s+at /m);
  });

  it('cuts echoed values to 80 characters, saying how long they were', () => {
    expect(excerpt('short')).toBe('"short"');
    expect(excerpt('y'.repeat(1000))).toBe(`"${'y'.repeat(80)}"… (1000 characters)`);
  });
});
