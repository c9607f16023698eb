import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDataset } from '../../src/data/dataset.js';
import { importDataset } from '../../src/data/import.js';
import { withDuckDb } from '../../src/data/parquet.js';
import { InputError } from '../../src/util/errors.js';
import { ML_SMALL, tempDir } from '../helpers.js';

/** A small MovieLens-format directory, CRLF and BOM as the real files have (BOM added). */
function movieLensDir(ratings: string, movies?: string): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'ratings.csv'), ratings.replace(/\n/g, '\r\n'));
  if (movies !== undefined) writeFileSync(join(dir, 'movies.csv'), `\ufeff${movies.replace(/\n/g, '\r\n')}`);
  return dir;
}

const GOOD_RATINGS = 'userId,movieId,rating,timestamp\n1,10,4.0,100\n1,20,3.5,200\n2,10,5.0,150\n';
const MOVIES = 'movieId,title,genres\n10,"American President, The (1995)",Comedy|Drama|Romance\n20,Heat (1995),(no genres listed)\n';

describe('data import', () => {
  it('imports MovieLens CSV (CRLF, BOM, quoted titles) into Parquet that DuckDB reads back', async () => {
    const out = join(tempDir(), 'ds');
    const meta = await importDataset({ format: 'movielens', input: movieLensDir(GOOD_RATINGS, MOVIES), out });
    expect(meta.counts).toEqual({ interactions: 3, users: 2, items: 2, catalog_items: 2, tags: 0 });
    expect(meta.time_range?.min).toBe(100);
    expect(meta.time_range?.max).toBe(200);
    const ds = await loadDataset(out);
    expect(Array.from(ds.interactions.rating)).toEqual([4, 3.5, 5]);
    expect(ds.catalog?.title).toEqual(['American President, The (1995)', 'Heat (1995)']);
    expect(ds.catalog?.genres).toEqual([['Comedy', 'Drama', 'Romance'], []]);
    // An independent reader: DuckDB's SQL over the files.
    const rows = await withDuckDb(async (con) => {
      const r = await con.runAndReadAll(
        `SELECT sum(user_id)::INT, sum(item_id)::INT, sum(rating)::DOUBLE, sum(timestamp)::BIGINT, typeof(any_value(timestamp)) FROM read_parquet('${out}/interactions.parquet')`,
      );
      const g = await con.runAndReadAll(`SELECT len(genres) FROM read_parquet('${out}/items.parquet') ORDER BY item_id`);
      return [r.getRows()[0], g.getRows().map((x) => Number(x[0]))];
    });
    expect(rows[0].map(String)).toEqual(['4', '40', '12.5', '450', 'BIGINT']);
    expect(rows[1]).toEqual([3, 0]);
  });

  it('imports the real ml-latest-small with the documented counts and input checksums', async () => {
    const out = join(tempDir(), 'ml');
    const meta = await importDataset({ format: 'movielens', input: ML_SMALL, out });
    expect(meta.counts).toEqual({ interactions: 100836, users: 610, items: 9724, catalog_items: 9742, tags: 3683 });
    const sums = readFileSync(join(ML_SMALL, 'SHA256SUMS'), 'utf8');
    const ratings = meta.source.files?.find((f) => f.path.endsWith('ratings.csv'));
    expect(sums).toContain(ratings?.sha256);
  });

  it.each([
    ['a wrong field count', '1,10,4.0\n', ':3: field "*": expected 4 fields, found 3'],
    ['a non-numeric id', 'x1,10,4.0,300\n', ':3: field "userId": "x1" is not a non-negative 32-bit integer id'],
    ['a non-numeric timestamp', '1,10,4.0,soon\n', ':3: field "timestamp": "soon" is not an integer timestamp'],
    ['a rating out of range', '1,10,7.5,300\n', ':3: field "rating": 7.5 is outside the rating range 0.5..5'],
  ])('stops at %s with file, line and field, and leaves no output', async (_what, badLine, message) => {
    const input = movieLensDir(`userId,movieId,rating,timestamp\n1,10,4.0,100\n${badLine}2,20,3.0,400\n`);
    const out = join(tempDir(), 'ds');
    const err = await importDataset({ format: 'movielens', input, out }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).exitCode).toBe(2);
    expect((err as Error).message).toContain(`${join(input, 'ratings.csv')}${message}`);
    expect(existsSync(out)).toBe(false);
  });

  it('with skipBad skips malformed rows and reports how many and the first few', async () => {
    const input = movieLensDir('userId,movieId,rating,timestamp\n1,10,4.0,100\nx,10,4.0,1\n1,20\n2,20,3.0,400\n');
    const out = join(tempDir(), 'ds');
    const meta = await importDataset({ format: 'movielens', input, out, skipBad: true });
    expect(meta.counts.interactions).toBe(2);
    expect(meta.skipped.rows).toBe(2);
    expect(meta.skipped.first[0]).toMatch(/ratings\.csv:3: field "userId"/);
    expect(meta.skipped.first[1]).toMatch(/ratings\.csv:4: field "\*": expected 4 fields, found 2/);
  });

  it('rejects a missing required column, an empty file and a missing ratings.csv', async () => {
    const out = join(tempDir(), 'ds');
    const noRating = movieLensDir('userId,movieId,timestamp\n1,10,100\n');
    await expect(importDataset({ format: 'movielens', input: noRating, out })).rejects.toThrow(
      /ratings\.csv:1: missing required column "rating"/,
    );
    const empty = movieLensDir('');
    await expect(importDataset({ format: 'movielens', input: empty, out })).rejects.toThrow(/ratings\.csv: file is empty/);
    const none = tempDir();
    await expect(importDataset({ format: 'movielens', input: none, out })).rejects.toThrow(/ratings\.csv \(required\) not found/);
  });

  it('a failed import leaves an earlier dataset at the same path untouched', async () => {
    const out = join(tempDir(), 'ds');
    await importDataset({ format: 'movielens', input: movieLensDir(GOOD_RATINGS), out });
    const before = readFileSync(join(out, 'dataset.json'), 'utf8');
    await expect(
      importDataset({ format: 'movielens', input: movieLensDir('userId,movieId,rating,timestamp\n1,2,9,1\n'), out }),
    ).rejects.toThrow(InputError);
    expect(readFileSync(join(out, 'dataset.json'), 'utf8')).toBe(before);
  });

  it('reads ml-100k: tab-separated u.data and latin-1, pipe-separated u.item with genre flags', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'u.data'), '196\t242\t3\t881250949\n186\t302\t3\t891717742\n');
    const flags = (on: number[]): string => Array.from({ length: 19 }, (_, g) => (on.includes(g) ? '1' : '0')).join('|');
    const item = (id: number, title: string, on: number[]): Buffer =>
      Buffer.from(`${id}|${title}|01-Jan-1995||http://x|${flags(on)}\n`, 'latin1');
    writeFileSync(
      join(dir, 'u.item'),
      Buffer.concat([item(242, 'Kolya (1996)', [5]), item(302, 'L.A. Confidential (1997)', [6, 16]), item(1, 'Café au lait (1993)', [])]),
    );
    const out = join(tempDir(), 'ds');
    await importDataset({ format: 'ml100k', input: dir, out });
    const ds = await loadDataset(out);
    expect(Array.from(ds.interactions.userId)).toEqual([196, 186]);
    expect(ds.catalog?.title).toEqual(['Café au lait (1993)', 'Kolya (1996)', 'L.A. Confidential (1997)']);
    expect(ds.catalog?.genres).toEqual([[], ['Comedy'], ['Crime', 'Thriller']]);
  });

  it('reads any CSV log through a column mapping, without ratings (implicit: 1)', async () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'log.tsv');
    writeFileSync(path, 'ts\tvisitor\tsku\n2020-01-01T00:00:10Z\t7\t1001\n15\t8\t1002\n');
    const out = join(tempDir(), 'ds');
    await importDataset({ format: 'csv', input: path, out, delimiter: '\t', columns: { user: 'visitor', item: 'sku', timestamp: 'ts' } });
    const ds = await loadDataset(out);
    expect(Array.from(ds.interactions.userId)).toEqual([7, 8]);
    expect(Array.from(ds.interactions.rating)).toEqual([1, 1]);
    expect(Array.from(ds.interactions.timestamp)).toEqual([1577836810, 15]);
    await expect(
      importDataset({ format: 'csv', input: path, out, delimiter: '\t', columns: { user: 'user', item: 'sku' } }),
    ).rejects.toThrow(/log\.tsv:1: missing required column "user"/);
  });
});
