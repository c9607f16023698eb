import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DATASET_OUTPUT } from '../../src/data/dataset.js';
import { InputError } from '../../src/util/errors.js';
import { moveFile } from '../../src/util/fs.js';
import { claimOutput, writeOutputDir } from '../../src/util/output.js';
import { tempDir } from '../helpers.js';

/** The output-claiming library (src/util/output.ts) on real files, without a subprocess. */
describe('claimOutput and writeOutputDir', () => {
  it('see through symbolic links: an output that is the input under another name is refused', () => {
    const dir = tempDir();
    const input = join(dir, 'csv');
    mkdirSync(input);
    writeFileSync(join(input, 'ratings.csv'), 'userId,movieId\n1,2\n');
    symlinkSync(input, join(dir, 'alias'));
    expect(() => claimOutput(join(dir, 'alias'), DATASET_OUTPUT, { inputs: [input] })).toThrow(/the output is the input/);
    expect(() => claimOutput(join(dir, 'alias', 'ds'), DATASET_OUTPUT, { inputs: [input] })).toThrow(/lies inside the input/);
    expect(() => claimOutput(dir, DATASET_OUTPUT, { inputs: [input] })).toThrow(/contains the input/);
    expect(readdirSync(input)).toEqual(['ratings.csv']);
  });

  it('check again before the swap: a file put at the path during the build is kept and the new output dropped', async () => {
    const dir = tempDir();
    const out = join(dir, 'ds');
    let error: unknown;
    try {
      await writeOutputDir(out, DATASET_OUTPUT, async (tmp) => {
        writeFileSync(join(tmp, 'dataset.json'), '{}\n');
        writeFileSync(out, 'written by someone else meanwhile\n');
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toContain(`${out}: exists and is not a previous dataset directory (it is a file, not a directory)`);
    expect(readFileSync(out, 'utf8')).toBe('written by someone else meanwhile\n');
    expect(readdirSync(dir)).toEqual(['ds']);
  });

  it('replace a previous output of the kind, keeping nothing of the old one', async () => {
    const out = join(tempDir(), 'ds');
    await writeOutputDir(out, DATASET_OUTPUT, async (tmp) => writeFileSync(join(tmp, 'dataset.json'), '{"v":1}\n'));
    writeFileSync(join(out, 'items.parquet'), 'old');
    await writeOutputDir(out, DATASET_OUTPUT, async (tmp) => writeFileSync(join(tmp, 'dataset.json'), '{"v":2}\n'));
    expect(readdirSync(out)).toEqual(['dataset.json']);
    expect(readFileSync(join(out, 'dataset.json'), 'utf8')).toBe('{"v":2}\n');
  });
});

describe('moveFile', () => {
  const shm = '/dev/shm';
  const work = tempDir();
  const twoFileSystems = existsSync(shm) && statSync(shm).dev !== statSync(work).dev;
  const other = twoFileSystems ? mkdtempSync(join(shm, 'recsys-test-')) : '';
  afterAll(() => {
    if (other) rmSync(other, { recursive: true, force: true });
  });

  it.skipIf(!twoFileSystems)('moves a file from tmpfs to the disk (where rename fails with EXDEV)', () => {
    const from = join(other, 'unit.log.jsonl');
    writeFileSync(from, '{"msg":"unit.done"}\n');
    const to = join(work, 'run.log.jsonl');
    moveFile(from, to);
    expect(readFileSync(to, 'utf8')).toBe('{"msg":"unit.done"}\n');
    expect(existsSync(from)).toBe(false);
    expect(readdirSync(work)).toEqual(['run.log.jsonl']);
  });
});
