import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../util/errors.js';
import { sha256File } from '../util/hash.js';
import { log } from '../util/log.js';
import { Progress } from '../util/progress.js';
import { readCsv, type CsvOptions, type CsvRecord } from './csv.js';
import { claimOutput } from '../util/output.js';
import { DATASET_OUTPUT, writeDataset, type DatasetMeta, type SourceFile } from './dataset.js';
import type { Interactions, ItemCatalog, Tags } from './interactions.js';

/**
 * `recsys data import`: MovieLens-style CSV (and ml-100k, and any CSV log) in, a dataset
 * directory out (see data/dataset.ts). Every row is validated; a bad row stops the import
 * with file, line and field (exit 2), or with `skipBad` is counted and skipped.
 */
export type ImportFormat = 'movielens' | 'ml100k' | 'csv';

export interface ColumnMapping {
  readonly user: string;
  readonly item: string;
  readonly rating?: string;
  readonly timestamp?: string;
}

export interface ImportOptions {
  readonly format: ImportFormat;
  /** A directory (movielens, ml100k) or a CSV file (csv). */
  readonly input: string;
  readonly out: string;
  readonly skipBad?: boolean;
  /** `csv` only: which header columns hold what. */
  readonly columns?: ColumnMapping;
  /** `csv` only. */
  readonly delimiter?: string;
  readonly encoding?: 'utf8' | 'latin1';
}

/** How many skipped rows are described in the report and dataset.json. */
const FIRST_BAD_ROWS = 5;

/** Collects malformed rows: throws on the first unless skipping. */
class BadRows {
  rows = 0;
  readonly first: string[] = [];
  constructor(private readonly skip: boolean) {}

  /** Returns normally only when skipping. */
  report(file: string, line: number, field: string, problem: string): void {
    const message = `${file}:${line}: field "${field}": ${problem}`;
    if (!this.skip) throw new InputError(`${message} (use --skip-bad to skip malformed rows)`);
    this.rows++;
    if (this.first.length < FIRST_BAD_ROWS) this.first.push(message);
  }
}

/** Growable typed-array columns for the interaction log. */
class InteractionsBuilder {
  length = 0;
  private userId: Int32Array;
  private itemId: Int32Array;
  private rating: Float32Array;
  private timestamp: Float64Array;

  constructor(capacity: number) {
    const n = Math.max(1024, capacity);
    this.userId = new Int32Array(n);
    this.itemId = new Int32Array(n);
    this.rating = new Float32Array(n);
    this.timestamp = new Float64Array(n);
  }

  push(user: number, item: number, rating: number, timestamp: number): void {
    if (this.length === this.userId.length) this.grow();
    const i = this.length++;
    this.userId[i] = user;
    this.itemId[i] = item;
    this.rating[i] = rating;
    this.timestamp[i] = timestamp;
  }

  private grow(): void {
    const n = this.userId.length * 2;
    const grow = <T extends Int32Array | Float32Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.userId = grow(this.userId, (m) => new Int32Array(m));
    this.itemId = grow(this.itemId, (m) => new Int32Array(m));
    this.rating = grow(this.rating, (m) => new Float32Array(m));
    this.timestamp = grow(this.timestamp, (m) => new Float64Array(m));
  }

  build(): Interactions {
    return {
      userId: this.userId.slice(0, this.length),
      itemId: this.itemId.slice(0, this.length),
      rating: this.rating.slice(0, this.length),
      timestamp: this.timestamp.slice(0, this.length),
    };
  }
}

/** Where each needed column sits in a file's header. */
function locateColumns(rec: CsvRecord, wanted: Record<string, string | undefined>): Record<string, number> {
  const header = Array.from({ length: rec.count }, (_, i) => rec.text(i).trim());
  const at: Record<string, number> = {};
  for (const [role, name] of Object.entries(wanted)) {
    if (name === undefined) continue;
    const i = header.indexOf(name);
    if (i < 0) {
      throw new InputError(`${rec.file}:${rec.line}: missing required column "${name}" (header has: ${header.join(', ')})`);
    }
    at[role] = i;
  }
  return at;
}

const INT32_MAX = 2147483647;

interface InteractionColumns {
  readonly user: number;
  readonly item: number;
  readonly rating: number | undefined;
  readonly timestamp: number | undefined;
  readonly names: { user: string; item: string; rating?: string; timestamp?: string };
  readonly ratingRange: readonly [number, number] | null;
  readonly allowDates: boolean;
}

/** Parses and validates one interaction row into the builder. */
function pushInteraction(rec: CsvRecord, cols: InteractionColumns, fields: number, out: InteractionsBuilder, bad: BadRows): void {
  if (rec.count !== fields) {
    bad.report(rec.file, rec.line, '*', `expected ${fields} fields, found ${rec.count}`);
    return;
  }
  const user = rec.int(cols.user);
  if (!Number.isInteger(user) || user < 0 || user > INT32_MAX) {
    bad.report(rec.file, rec.line, cols.names.user, `"${rec.text(cols.user)}" is not a non-negative 32-bit integer id`);
    return;
  }
  const item = rec.int(cols.item);
  if (!Number.isInteger(item) || item < 0 || item > INT32_MAX) {
    bad.report(rec.file, rec.line, cols.names.item, `"${rec.text(cols.item)}" is not a non-negative 32-bit integer id`);
    return;
  }
  let rating = 1;
  if (cols.rating !== undefined) {
    rating = rec.float(cols.rating);
    if (!Number.isFinite(rating)) {
      bad.report(rec.file, rec.line, cols.names.rating ?? 'rating', `"${rec.text(cols.rating)}" is not a number`);
      return;
    }
    const range = cols.ratingRange;
    if (range && (rating < range[0] || rating > range[1])) {
      bad.report(rec.file, rec.line, cols.names.rating ?? 'rating', `${rating} is outside the rating range ${range[0]}..${range[1]}`);
      return;
    }
  }
  let timestamp = 0;
  if (cols.timestamp !== undefined) {
    timestamp = rec.int(cols.timestamp);
    if (Number.isNaN(timestamp) && cols.allowDates) {
      const ms = Date.parse(rec.text(cols.timestamp));
      timestamp = Number.isNaN(ms) ? NaN : Math.floor(ms / 1000);
    }
    if (!Number.isSafeInteger(timestamp)) {
      bad.report(
        rec.file,
        rec.line,
        cols.names.timestamp ?? 'timestamp',
        `"${rec.text(cols.timestamp)}" is not an integer timestamp (seconds)`,
      );
      return;
    }
  }
  out.push(user, item, rating, timestamp);
}

/** Reads an interaction log with a header row. */
function readInteractionLog(
  path: string,
  names: ColumnMapping,
  csv: CsvOptions,
  ratingRange: readonly [number, number] | null,
  allowDates: boolean,
  bad: BadRows,
): Interactions {
  const size = statSync(path).size;
  const out = new InteractionsBuilder(Math.ceil(size / 24));
  const progress = new Progress(`import ${basename(path)}`, size, 'bytes');
  let reported = 0;
  let cols: InteractionColumns | null = null;
  let fields = 0;
  let rows = 0;
  readCsv(path, csv, (rec) => {
    if (cols === null) {
      const at = locateColumns(rec, { ...names });
      cols = { user: at.user, item: at.item, rating: at.rating, timestamp: at.timestamp, names, ratingRange, allowDates };
      fields = rec.count;
      return;
    }
    pushInteraction(rec, cols, fields, out, bad);
    if (++rows % 1_000_000 === 0) {
      progress.tick(rec.offset - reported);
      reported = rec.offset;
    }
  });
  progress.finish({ rows });
  if (cols === null) throw new InputError(`${path}: no header row`);
  if (out.length === 0) throw new InputError(`${path}: no interaction rows`);
  return out.build();
}

/** MovieLens "latest"/25M movies.csv: movieId,title,genres with genres joined by "|". */
function readMovieLensItems(path: string, bad: BadRows): ItemCatalog {
  const ids: number[] = [];
  const titles: string[] = [];
  const genres: string[][] = [];
  let at: Record<string, number> | null = null;
  let fields = 0;
  readCsv(path, { encoding: 'utf8' }, (rec) => {
    if (at === null) {
      at = locateColumns(rec, { item: 'movieId', title: 'title', genres: 'genres' });
      fields = rec.count;
      return;
    }
    if (rec.count !== fields) return bad.report(rec.file, rec.line, '*', `expected ${fields} fields, found ${rec.count}`);
    const id = rec.int(at.item);
    if (!Number.isInteger(id) || id < 0 || id > INT32_MAX) {
      return bad.report(rec.file, rec.line, 'movieId', `"${rec.text(at.item)}" is not a non-negative 32-bit integer id`);
    }
    ids.push(id);
    titles.push(rec.text(at.title));
    genres.push(splitGenres(rec.text(at.genres)));
  });
  return { itemId: Int32Array.from(ids), title: titles, genres };
}

function splitGenres(text: string): string[] {
  if (text === '' || text === '(no genres listed)') return [];
  return text.split('|').filter((g) => g.length > 0);
}

/** MovieLens tags.csv: userId,movieId,tag,timestamp. */
function readMovieLensTags(path: string, bad: BadRows): Tags {
  const users: number[] = [];
  const items: number[] = [];
  const tags: string[] = [];
  const times: number[] = [];
  let at: Record<string, number> | null = null;
  let fields = 0;
  readCsv(path, { encoding: 'utf8' }, (rec) => {
    if (at === null) {
      at = locateColumns(rec, { user: 'userId', item: 'movieId', tag: 'tag', timestamp: 'timestamp' });
      fields = rec.count;
      return;
    }
    if (rec.count !== fields) return bad.report(rec.file, rec.line, '*', `expected ${fields} fields, found ${rec.count}`);
    const user = rec.int(at.user);
    const item = rec.int(at.item);
    const ts = rec.int(at.timestamp);
    if (!Number.isInteger(user) || user < 0) return bad.report(rec.file, rec.line, 'userId', `"${rec.text(at.user)}" is not an integer id`);
    if (!Number.isInteger(item) || item < 0)
      return bad.report(rec.file, rec.line, 'movieId', `"${rec.text(at.item)}" is not an integer id`);
    if (!Number.isSafeInteger(ts))
      return bad.report(rec.file, rec.line, 'timestamp', `"${rec.text(at.timestamp)}" is not an integer timestamp`);
    users.push(user);
    items.push(item);
    tags.push(rec.text(at.tag));
    times.push(ts);
  });
  return { userId: Int32Array.from(users), itemId: Int32Array.from(items), tag: tags, timestamp: Float64Array.from(times) };
}

/** The 19 genres of ml-100k's u.genre, in flag order (used when u.genre is absent). */
const ML100K_GENRES = [
  'unknown',
  'Action',
  'Adventure',
  'Animation',
  "Children's",
  'Comedy',
  'Crime',
  'Documentary',
  'Drama',
  'Fantasy',
  'Film-Noir',
  'Horror',
  'Musical',
  'Mystery',
  'Romance',
  'Sci-Fi',
  'Thriller',
  'War',
  'Western',
];

/** ml-100k u.data: user \t item \t rating \t timestamp, no header. */
function readMl100kRatings(path: string, bad: BadRows): Interactions {
  const out = new InteractionsBuilder(Math.ceil(statSync(path).size / 20));
  const cols: InteractionColumns = {
    user: 0,
    item: 1,
    rating: 2,
    timestamp: 3,
    names: { user: 'user id', item: 'item id', rating: 'rating', timestamp: 'timestamp' },
    ratingRange: [1, 5],
    allowDates: false,
  };
  readCsv(path, { delimiter: '\t', quotes: false, encoding: 'latin1' }, (rec) => pushInteraction(rec, cols, 4, out, bad));
  if (out.length === 0) throw new InputError(`${path}: no interaction rows`);
  return out.build();
}

/** ml-100k u.item: id|title|release date|video release date|IMDb URL|19 genre flags, latin-1. */
function readMl100kItems(path: string, genreNames: string[], bad: BadRows): ItemCatalog {
  const ids: number[] = [];
  const titles: string[] = [];
  const genres: string[][] = [];
  const fields = 5 + genreNames.length;
  readCsv(path, { delimiter: '|', quotes: false, encoding: 'latin1' }, (rec) => {
    if (rec.count !== fields) return bad.report(rec.file, rec.line, '*', `expected ${fields} fields, found ${rec.count}`);
    const id = rec.int(0);
    if (!Number.isInteger(id) || id < 0) return bad.report(rec.file, rec.line, 'movie id', `"${rec.text(0)}" is not an integer id`);
    ids.push(id);
    titles.push(rec.text(1));
    genres.push(genreNames.filter((_, g) => rec.int(5 + g) === 1));
  });
  return { itemId: Int32Array.from(ids), title: titles, genres };
}

function readMl100kGenreNames(path: string): string[] {
  if (!existsSync(path)) return ML100K_GENRES;
  const names: string[] = [];
  readCsv(path, { delimiter: '|', quotes: false, encoding: 'latin1' }, (rec) => {
    const index = rec.int(1);
    if (Number.isInteger(index)) names[index] = rec.text(0);
  });
  return names;
}

async function describeSources(paths: string[]): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  for (const p of paths) files.push({ path: p, bytes: statSync(p).size, sha256: await sha256File(p) });
  return files;
}

function requireInput(path: string, what: string): void {
  if (!existsSync(path)) throw new InputError(`${path}: ${what} not found`);
}

/** Imports a dataset and writes it atomically to `opts.out`. */
export async function importDataset(opts: ImportOptions): Promise<DatasetMeta> {
  claimOutput(opts.out, DATASET_OUTPUT, { inputs: [opts.input] });
  const bad = new BadRows(opts.skipBad ?? false);
  let interactions: Interactions;
  let catalog: ItemCatalog | null = null;
  let tags: Tags | null = null;
  const inputs: string[] = [];
  switch (opts.format) {
    case 'movielens': {
      requireInput(opts.input, 'input directory');
      const ratings = join(opts.input, 'ratings.csv');
      requireInput(ratings, 'ratings.csv (required)');
      interactions = readInteractionLog(
        ratings,
        { user: 'userId', item: 'movieId', rating: 'rating', timestamp: 'timestamp' },
        { encoding: 'utf8' },
        [0.5, 5],
        false,
        bad,
      );
      inputs.push(ratings);
      const movies = join(opts.input, 'movies.csv');
      if (existsSync(movies)) {
        catalog = readMovieLensItems(movies, bad);
        inputs.push(movies);
      }
      const tagsFile = join(opts.input, 'tags.csv');
      if (existsSync(tagsFile)) {
        tags = readMovieLensTags(tagsFile, bad);
        inputs.push(tagsFile);
      }
      break;
    }
    case 'ml100k': {
      requireInput(opts.input, 'input directory');
      const data = join(opts.input, 'u.data');
      requireInput(data, 'u.data (required)');
      interactions = readMl100kRatings(data, bad);
      inputs.push(data);
      const items = join(opts.input, 'u.item');
      if (existsSync(items)) {
        catalog = readMl100kItems(items, readMl100kGenreNames(join(opts.input, 'u.genre')), bad);
        inputs.push(items);
      }
      break;
    }
    case 'csv': {
      requireInput(opts.input, 'input file');
      if (!opts.columns) throw new InputError('--format csv needs --columns user=COL,item=COL[,rating=COL][,timestamp=COL]');
      interactions = readInteractionLog(
        opts.input,
        opts.columns,
        { delimiter: opts.delimiter ?? ',', encoding: opts.encoding ?? 'utf8' },
        null,
        true,
        bad,
      );
      inputs.push(opts.input);
      break;
    }
  }
  if (bad.rows > 0) log.warn(`skipped ${bad.rows} malformed rows; first: ${bad.first.join(' | ')}`);
  const meta = await writeDataset(opts.out, {
    interactions,
    catalog,
    tags,
    source: { kind: `import:${opts.format}`, files: await describeSources(inputs), params: { columns: opts.columns } },
    skipped: { rows: bad.rows, first: bad.first },
    // MovieLens' usage license asks that its README travel with any copy of the data.
    copyFiles: ['README.txt', 'README']
      .map((f) => join(opts.format === 'csv' ? dirname(opts.input) : opts.input, f))
      .filter((f) => existsSync(f)),
  });
  log.event('data.import', { out: opts.out, counts: meta.counts, skipped: bad.rows });
  return meta;
}

/** Parses `user=COL,item=COL[,rating=COL][,timestamp=COL]`. */
export function parseColumnMapping(text: string): ColumnMapping {
  const map: Record<string, string> = {};
  for (const part of text.split(',')) {
    const [role, col] = part.split('=').map((s) => s.trim());
    if (!role || !col || !['user', 'item', 'rating', 'timestamp'].includes(role)) {
      throw new InputError(`--columns: "${part}" is not ROLE=COLUMN with ROLE one of user, item, rating, timestamp`);
    }
    map[role] = col;
  }
  if (!map.user || !map.item) throw new InputError('--columns: user=COL and item=COL are required');
  return { user: map.user, item: map.item, rating: map.rating, timestamp: map.timestamp };
}
