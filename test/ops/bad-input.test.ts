import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../../src/data/dataset.js';
import { type CliRun, oneErrorLine, runCli, STACK_TRACE } from '../cli-runner.js';
import { tempDir } from '../helpers.js';

/**
 * Bad input, as a hostile new user gives it, on the built CLI: each case exits 2 (bad input or
 * configuration, README) with one `error:` line naming the file, line or field, and never a
 * stack trace or a native crash.
 */

/** Exit 2, exactly one error line (returned) matching `message`, no stack trace. */
function badInput(r: CliRun, message: RegExp): string {
  expect(r.signal, r.stderr).toBeNull();
  expect(r.code, r.stderr).toBe(2);
  const error = oneErrorLine(r);
  expect(error).toMatch(message);
  return error;
}

function ok(r: CliRun): void {
  expect(r.signal, r.stderr).toBeNull();
  expect(r.code, r.stderr).toBe(0);
}

describe('bad input exits 2 with one clear line', () => {
  const work = tempDir();
  const data = join(work, 'data');
  const model = join(work, 'artifacts/als');

  beforeAll(async () => {
    ok(await runCli(['data', 'synth', '--users', '300', '--items', '400', '--interactions', '20000', '--out', data]));
    ok(await runCli(['train', 'als', '--data', data, '--out', model, '--factors', '8', '--iterations', '3', '--threads', '1']));
  });

  describe('FAISS factory strings', () => {
    it('refuses IVF0,Flat (FAISS aborted) and HNSW0 (FAISS segfaulted) before FAISS sees them', async () => {
      badInput(
        await runCli(['index', '--model', `${model}/latest`, '--factory', 'IVF0,Flat']),
        /^error: invalid FAISS factory string "IVF0,Flat": IVF lists must be an integer from 1 to \d+, not 0$/,
      );
      badInput(await runCli(['index', '--model', `${model}/latest`, '--factory', 'HNSW0']), /"HNSW0": HNSW links per node .* not 0$/);
      badInput(
        await runCli(['index', '--model', `${model}/latest`, '--factory', 'IVF4,PQ3np', '--mips-transform', 'off']),
        /"IVF4,PQ3np" on \d+ vectors of dimension 8: PQ3 needs a dimension that is a multiple of 3, not 8$/,
      );
    });

    it('refuses a bad factory when a pipeline file loads, before any step runs, leaving no lock', async () => {
      const root = join(work, 'pipeline-root');
      const file = join(work, 'bad-factory.yaml');
      writeFileSync(
        file,
        [
          `artifacts: ${root}`,
          `data: {out: ${data}}`,
          'splits: {tu: {strategy: temporal-user}}',
          'steps:',
          '  - kind: split',
          '  - kind: train',
          '    model: als',
          '  - kind: index',
          '    model: als',
          '    factory: HNSW0',
          '',
        ].join('\n'),
      );
      const r = await runCli(['train', '--pipeline', file]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`${file}:10:5: steps[2].factory: invalid FAISS factory string "HNSW0"`);
      expect(r.stderr).not.toMatch(STACK_TRACE);
      expect(existsSync(root)).toBe(false);
    });
  });

  describe('timestamps', () => {
    const ml = join(work, 'ml-ts');
    const ratings = (rows: string[]): void => {
      mkdirSync(ml, { recursive: true });
      writeFileSync(join(ml, 'ratings.csv'), `userId,movieId,rating,timestamp\n${rows.join('\n')}\n`);
    };

    it('refuses milliseconds read as seconds, naming the line and suggesting --timestamp-unit ms; accepts them with it', async () => {
      ratings(['1,10,4.0,964982703000', '1,20,3.0,964982224000']);
      badInput(
        await runCli(['data', 'import', '--in', ml, '--out', join(work, 'ts-out')]),
        /ratings\.csv:2: field "timestamp": "964982703000" is in the year 32\d\d\d, more than a year from now; it looks like milliseconds: use --timestamp-unit ms/,
      );
      const r = await runCli(['data', 'import', '--in', ml, '--out', join(work, 'ts-ms'), '--timestamp-unit', 'ms', '--json']);
      ok(r);
      expect(JSON.parse(r.stdout).time_range).toMatchObject({ min: 964982224, max: 964982703 });
    });

    it('refuses a negative timestamp and one far in the future', async () => {
      ratings(['1,10,4.0,964982703', '1,20,3.0,-5']);
      badInput(
        await runCli(['data', 'import', '--in', ml, '--out', join(work, 'ts-out')]),
        /ratings\.csv:3: field "timestamp": "-5" is before 1970/,
      );
      ratings(['1,10,4.0,4102444800']);
      badInput(
        await runCli(['data', 'import', '--in', ml, '--out', join(work, 'ts-out')]),
        /ratings\.csv:2: field "timestamp": "4102444800" is 2100-01-01, more than a year from now \(use --skip-bad/,
      );
    });

    it('reads a timestamp followed by an invisible CR', async () => {
      writeFileSync(join(ml, 'ratings.csv'), 'userId,movieId,rating,timestamp\r\n1,10,4.0,964982703\r\r\n1,20,3.0, 964982224 \r\n');
      const r = await runCli(['data', 'import', '--in', ml, '--out', join(work, 'ts-cr'), '--json']);
      ok(r);
      expect(JSON.parse(r.stdout).time_range).toMatchObject({ min: 964982224, max: 964982703 });
    });
  });

  describe('eval', () => {
    const evalArgs = ['eval', '--model', 'popularity', '--data', data, '--split', 'temporal-user'];

    it('has a maximum --k', async () => {
      const r = await runCli([...evalArgs, '--k', '10,8249']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--k must be a comma-separated list of integers from 1 to 1000/);
    });

    it('refuses --fail-under on a metric it will not compute, before evaluating (exit 2, not the gate exit 3)', async () => {
      badInput(
        await runCli([...evalArgs, '--k', '10', '--fail-under', 'ndcg@20=0.01']),
        /--fail-under ndcg@20: cut-off @20 is not evaluated \(--k 10\)$/,
      );
      badInput(
        await runCli([...evalArgs, '--fail-under', 'ndgc@10=0.01']),
        /--fail-under "ndgc@10": unknown metric; expected one of: ndcg, recall/,
      );
    });

    it('reports diversity as absent, with a warning naming the file, when the dataset has no items.parquet', async () => {
      const bare = join(work, 'no-items');
      cpSync(data, bare, { recursive: true });
      rmSync(join(bare, 'items.parquet'));
      const r = await runCli(['eval', '--model', 'popularity', '--data', bare, '--split', 'temporal-user', '--json']);
      ok(r);
      expect(r.stderr).toContain(`warning: ${join(bare, 'items.parquet')}: absent, so diversity@K (which compares genres) is not reported`);
      const metrics = JSON.parse(r.stdout) as Record<string, number>;
      expect(metrics['diversity@10']).toBeUndefined();
      expect(metrics['novelty@10']).toBeGreaterThan(0);
    });
  });

  it('warns that an L2 index of an inner-product model does not rank by its scores', async () => {
    const r = await runCli(['index', '--model', `${model}/latest`, '--metric', 'l2', '--out', join(work, 'artifacts/als-l2')]);
    ok(r);
    expect(r.stderr).toMatch(/^warning: metric l2: .* is a als model, which scores items by inner product/m);
  });

  it('names an unknown model kind of recsys train and lists the kinds', async () => {
    badInput(
      await runCli(['train', 'bogus', '--data', data]),
      /^error: recsys train: unknown model kind "bogus"; expected one of: popularity, als, ranker, two-tower$/,
    );
    badInput(await runCli(['train', 'alss', '--data', data]), /unknown model kind "alss" \(did you mean "als"\?\)/);
  });

  it('refuses an empty --history instead of reading it as item 0', async () => {
    badInput(await runCli(['recommend', '--model', `${model}/latest`, '--history', '']), /^error: --history "": an empty item id/);
    badInput(await runCli(['recommend', '--model', `${model}/latest`, '--history', '1,,2']), /--history "1,,2": an empty item id/);
  });

  describe('CSV files', () => {
    const csv = (name: string, text: string | Buffer): string => {
      const path = join(work, name);
      writeFileSync(path, text);
      return path;
    };
    const importCsv = (file: string, ...extra: string[]): Promise<CliRun> =>
      runCli(['data', 'import', '--format', 'csv', '--in', file, '--out', join(work, 'csv-out'), ...extra]);

    it('echoes at most 80 characters of a huge malformed field, into the error and into dataset.json', async () => {
      const file = csv('huge.csv', `u,i\n1,2\n1,${'x'.repeat(5_000_000)}\n`);
      const line = badInput(
        await importCsv(file, '--columns', 'user=u,item=i'),
        /huge\.csv:3: field "i": "x{80}"… \(5000000 bytes\) is not/,
      );
      expect(line.length).toBeLessThan(300);
      const r = await runCli([
        'data',
        'import',
        '--format',
        'csv',
        '--in',
        file,
        '--columns',
        'user=u,item=i',
        '--skip-bad',
        '--out',
        join(work, 'huge-out'),
      ]);
      ok(r);
      const meta = readFileSync(join(work, 'huge-out/dataset.json'), 'utf8');
      expect(meta.length).toBeLessThan(10_000);
      expect(meta).toContain('(5000000 bytes)');
    });

    it('refuses duplicate header columns, one column in two roles and a two-character delimiter', async () => {
      const file = csv('dup.csv', 'u,i,u\n1,2,3\n');
      badInput(await importCsv(file, '--columns', 'user=u,item=i'), /dup\.csv:1: the header names column "u" twice \(fields 1 and 3\)$/);
      const plain = csv('plain.csv', 'u,i\n1,2\n');
      badInput(await importCsv(plain, '--columns', 'user=u,item=u'), /--columns: column "u" is mapped to both user and item$/);
      badInput(await importCsv(plain, '--columns', 'user=u,item=i', '--delimiter', ';;'), /--delimiter ";;": expected one ASCII character/);
    });

    it('refuses the same in a pipeline file when it loads, and reads --delimiter tab', async () => {
      const plain = csv('plain-tab.tsv', 'u\ti\n1\t2\n');
      const file = join(work, 'bad-columns.yaml');
      writeFileSync(
        file,
        [
          `artifacts: ${work}/csv-root`,
          `data: {format: csv, in: ${plain}, out: ${work}/csv-data, columns: {user: u, item: u}, delimiter: ";;"}`,
          'splits: {tu: {strategy: temporal-user}}',
          'steps:',
          '  - kind: import',
          '',
        ].join('\n'),
      );
      const r = await runCli(['train', '--pipeline', file]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/bad-columns\.yaml:2:\d+: data\.columns: column "u" is mapped to both user and item/);
      expect(r.stderr).toMatch(/bad-columns\.yaml:2:\d+: data\.delimiter: expected one ASCII character other than a quote/);
      ok(await importCsv(plain, '--columns', 'user=u,item=i', '--delimiter', 'tab'));
    });

    it('honours --encoding latin1 for movies.csv, and names invalid UTF-8 with a hint', async () => {
      const ml = join(work, 'ml-latin1');
      mkdirSync(ml, { recursive: true });
      writeFileSync(join(ml, 'ratings.csv'), 'userId,movieId,rating,timestamp\n1,10,4.0,964982703\n1,20,3.0,964982224\n');
      writeFileSync(
        join(ml, 'movies.csv'),
        Buffer.from('movieId,title,genres\n10,Am\xe9lie (2001),Comedy|Romance\n20,Heat (1995),Action\n', 'latin1'),
      );
      badInput(
        await runCli(['data', 'import', '--in', ml, '--out', join(work, 'latin1-out')]),
        /movies\.csv:2: field 2 is not valid UTF-8 \("Am.lie \(2001\)"\); if the file is latin-1, use --encoding latin1$/,
      );
      ok(await runCli(['data', 'import', '--in', ml, '--out', join(work, 'latin1-out'), '--encoding', 'latin1']));
      const { catalog } = await loadDataset(join(work, 'latin1-out'));
      expect(catalog?.title).toContain('Amélie (2001)');
    });
  });

  describe('files and paths', () => {
    it('refuses a billion-laughs YAML and a directory given as --pipeline', async () => {
      const laughs = [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`),
      ].join('\n');
      const file = join(work, 'laughs.yaml');
      writeFileSync(file, `${laughs}\n`);
      badInput(await runCli(['train', '--pipeline', file]), /^error: invalid YAML: .*laughs\.yaml: Excessive alias count/);
      badInput(await runCli(['train', '--pipeline', work]), /: not a pipeline file \(a directory or a device\)$/);
    });

    it('names a missing artifact file', async () => {
      const broken = join(work, 'artifacts/broken/v1');
      cpSync(join(model, 'latest'), broken, { recursive: true, dereference: true });
      rmSync(join(broken, 'item_factors.npy'));
      // verified against its manifest before it is loaded
      badInput(await runCli(['recommend', '--model', broken, '--history', '1,2']), /item_factors\.npy: missing \(the manifest lists it\)$/);
    });

    it('names an unwritable --dump-recs or --out path', async () => {
      // A missing parent folder is created (as for every output); one under a regular file cannot be.
      const file = join(work, 'a-file');
      writeFileSync(file, 'x');
      const evalArgs = ['eval', '--model', 'popularity', '--data', data, '--split', 'temporal-user'];
      badInput(
        await runCli([...evalArgs, '--dump-recs', join(file, 'recs.csv')]),
        /a-file\/recs\.csv: cannot create it: .*a-file is not a directory$/,
      );
      const dir = join(work, 'a-directory');
      mkdirSync(dir, { recursive: true });
      badInput(await runCli([...evalArgs, '--dump-recs', dir]), /a-directory.*directory/);
      badInput(
        await runCli(['recommend', '--model', `${model}/latest`, '--all-users', '--out', join(file, 'recs.parquet')]),
        /a-file\/recs\.parquet: cannot create it: .*a-file is not a directory$/,
      );
    });
  });
});
