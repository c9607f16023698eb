import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { predictWithCli } from '../../src/rank/gbdt/cli-predict.js';
import { writeLightgbmTsv } from '../../src/rank/gbdt/data-files.js';
import { selectGbdtEngine } from '../../src/rank/gbdt/select-engine.js';
import { lightgbmCli } from '../../src/rank/gbdt/lightgbm-cli.js';
import { findOnPath } from '../../src/rank/gbdt/program.js';
import { trainGbdt } from '../../src/rank/gbdt/train.js';
import { EXIT_BAD_INPUT, EXIT_FAILURE, InputError, RecsysError } from '../../src/util/errors.js';
import { LIGHTGBM_FIXTURES, readLightgbmTsv, syntheticRankingData } from './gbdt-helpers.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'gbdt-train-test-'));
const small = syntheticRankingData({ queries: 10, minDocs: 3, maxDocs: 8, nFeatures: 4, seed: 3 });

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('choosing the training program', () => {
  const systemPath = process.env.PATH ?? '';

  it('fails clearly when LIGHTGBM_BIN names no program', async () => {
    const err = await rejection(trainGbdt(small, {}, { env: { PATH: systemPath, LIGHTGBM_BIN: '/nonexistent/lightgbm' } }));
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).exitCode).toBe(EXIT_BAD_INPUT);
    expect(err.message).toContain('LIGHTGBM_BIN=/nonexistent/lightgbm does not name an executable program');
    expect(err.message).toContain('brew install lightgbm');
  });

  it('says what it looked for and how to install it when no program is on PATH', async () => {
    const err = await rejection(trainGbdt(small, {}, { env: { PATH: '/nonexistent-bin' } }));
    expect(err).toBeInstanceOf(RecsysError);
    expect((err as RecsysError).exitCode).toBe(EXIT_FAILURE);
    expect(err.message).toMatch(/looked for LIGHTGBM_BIN \(not set\), `lightgbm` and `xgboost` on PATH \(\/nonexistent-bin\)/);
    expect(err.message).toContain('apt-get install xgboost');
    expect(err.message).toContain('LIGHTGBM_BIN');
  });

  it('names the missing program when one engine is forced', () => {
    expect(() => selectGbdtEngine('lightgbm', { PATH: '/nonexistent-bin' })).toThrow(
      /no LightGBM program: LIGHTGBM_BIN is not set and there is no `lightgbm` on PATH/,
    );
    expect(() => selectGbdtEngine('xgboost', { PATH: '/nonexistent-bin' })).toThrow(
      /no `xgboost` program on PATH \(\/nonexistent-bin\); install XGBoost's CLI/,
    );
  });

  it.skipIf(findOnPath('lightgbm', process.env) !== null || process.env.LIGHTGBM_BIN)('falls back to xgboost without LightGBM', () => {
    const selected = selectGbdtEngine('auto', { PATH: systemPath });
    expect(selected.cli.engine).toBe('xgboost');
    expect(selected.reason).toMatch(/no LightGBM/);
  });
});

describe('program failures', () => {
  it('reports a non-zero exit with the program, the command and its stderr', async () => {
    const err = await rejection(trainGbdt(small, { numTrees: 2, extra: { tree_method: 'no_such_method' } }, { engine: 'xgboost' }));
    expect(err).toBeInstanceOf(RecsysError);
    expect(err.message).toMatch(/\/xgboost exited with code 1; command: \S+\/xgboost train\.conf/);
    expect(err.message).toContain("Invalid Input: 'no_such_method'");
  });

  it('stops a program that runs past the timeout', async () => {
    const many = syntheticRankingData({ queries: 200, minDocs: 10, maxDocs: 20, nFeatures: 8, seed: 4 });
    const started = Date.now();
    const err = await rejection(trainGbdt(many, { numTrees: 100_000, threads: 1 }, { engine: 'xgboost', timeoutMs: 300 }));
    expect(err).toBeInstanceOf(RecsysError);
    expect(err.message).toMatch(/\/xgboost did not finish within 0.3 s and was stopped/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('rejects bad training data before running anything', async () => {
    const badLabel = { ...small, labels: Float32Array.from(small.labels, (y, i) => (i === 5 ? 1.5 : y)) };
    expect((await rejection(trainGbdt(badLabel))).message).toBe(
      'training data: row 5: label 1.5 is not a relevance grade (an integer 0..30)',
    );
    const badGroups = { ...small, groupSizes: Int32Array.from([1, 2]) };
    expect((await rejection(trainGbdt(badGroups))).message).toMatch(/training data: query group sizes add up to 3, not \d+ rows/);
    const inf = { ...small, features: Float32Array.from(small.features, (v, i) => (i === 9 ? Infinity : v)) };
    expect((await rejection(trainGbdt(inf))).message).toBe('training data: row 2, feature 1 is Infinity (use NaN for missing)');
    expect((await rejection(trainGbdt(small, { numTrees: 0 }))).message).toMatch(
      /gbdt params: numTrees: Number must be greater than or equal to 1/,
    );
    expect((await rejection(trainGbdt(small, { categoricalFeatures: [4] }))).message).toMatch(
      /categorical feature 4 is not a feature index \(0\.\.3\)/,
    );
  });
});

describe('LightGBM inputs and log', () => {
  it('writes the TSV and .query files LightGBM read for the fixtures', () => {
    const valid = readLightgbmTsv(join(LIGHTGBM_FIXTURES, 'valid.tsv'));
    const groupSizes = Int32Array.from(readFileSync(join(LIGHTGBM_FIXTURES, 'valid.tsv.query'), 'utf8').trim().split('\n').map(Number));
    const path = join(tmp(), 'valid.tsv');
    writeLightgbmTsv(path, { ...valid, groupSizes });
    const ours = readFileSync(path, 'utf8').trimEnd().split('\n');
    const theirs = readFileSync(join(LIGHTGBM_FIXTURES, 'valid.tsv'), 'utf8').trimEnd().split('\n');
    expect(ours.length).toBe(theirs.length);
    ours.forEach((line, i) => {
      // Same fields, numerically (the fixture prints 6 significant digits, we the exact double).
      const a = line.split('\t');
      const b = theirs[i].split('\t');
      expect(a.length).toBe(b.length);
      a.forEach((f, j) => expect(f === 'nan' ? 'nan' : Number(f)).toEqual(b[j] === 'nan' ? 'nan' : Number(b[j])));
    });
    expect(readFileSync(`${path}.query`, 'utf8')).toBe(readFileSync(join(LIGHTGBM_FIXTURES, 'valid.tsv.query'), 'utf8'));
  });

  it('reads the per-round validation NDCG from the LightGBM log (final NDCG@10 0.867029 and 0.883494)', () => {
    const runs = readFileSync(join(LIGHTGBM_FIXTURES, 'train-log.txt'), 'utf8')
      .split(/^===== .*$/m)
      .slice(1);
    expect(runs.length).toBe(2);
    const finals = runs.map((run) => {
      const lines = run.split('\n').flatMap((l) => lightgbmCli.parseLogLine(l));
      expect(lines.length).toBe(50 * 4);
      return lines.filter((m) => m.iteration === 50 && m.metric === 'ndcg@10').map((m) => m.value);
    });
    expect(finals).toEqual([[0.867029], [0.883494]]);
  });

  it("configures lambdarank with the fixture run's settings", () => {
    const config = lightgbmCli.trainConfig(
      {
        objective: 'lambdarank',
        numTrees: 50,
        learningRate: 0.1,
        numLeaves: 15,
        maxDepth: -1,
        evalAt: [1, 3, 5, 10],
        seed: 42,
        threads: 2,
        minDataInLeaf: 5,
        categoricalFeatures: [11],
      },
      { train: 'train.tsv', valid: 'valid.tsv', model: 'model_cat.txt' },
    );
    const settings = (text: string): Map<string, string> =>
      new Map(
        text
          .trim()
          .split('\n')
          .map((l) => l.split('=') as [string, string]),
      );
    const ours = settings(config);
    // Every setting of the fixture's train_cat.conf, with the same value.
    const aliases: Record<string, string> = { num_trees: 'num_iterations', is_training_metric: 'is_provide_training_metric' };
    for (const [k, v] of settings(readFileSync(join(LIGHTGBM_FIXTURES, 'train_cat.conf'), 'utf8'))) {
      const key = aliases[k] ?? k;
      expect([key, ours.get(key)]).toEqual([key, v]);
    }
  });
});

const lightgbmAvailable = Boolean(process.env.LIGHTGBM_BIN) || findOnPath('lightgbm', process.env) !== null;

describe.skipIf(!lightgbmAvailable)('LightGBM end to end (needs the lightgbm program)', () => {
  it('trains, and scores in-process as the CLI predicts', async () => {
    const train = syntheticRankingData({ queries: 100, minDocs: 5, maxDocs: 20, nFeatures: 6, seed: 5 });
    const valid = syntheticRankingData({ queries: 30, minDocs: 5, maxDocs: 20, nFeatures: 6, seed: 6 });
    const { model, info } = await trainGbdt(train, { numTrees: 20, numLeaves: 8, minDataInLeaf: 5 }, { engine: 'lightgbm', valid });
    expect(info.engine).toBe('lightgbm');
    expect(info.history.length).toBe(20);
    expect(model.nTrees).toBe(20);
    const cli = await predictWithCli(model, valid);
    const ours = model.predict(valid.features, valid.nRows, valid.nFeatures);
    for (let i = 0; i < valid.nRows; i++)
      expect(Math.abs(ours[i] - cli.scores[i])).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(cli.scores[i])));
  });
});
