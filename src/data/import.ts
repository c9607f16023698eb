import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { excerpt, InputError } from '../util/errors.js';
import { sha256File } from '../util/hash.js';
import { log } from '../util/log.js';
import { Progress } from '../util/progress.js';
import { checkDelimiter, readCsv, type CsvOptions, type CsvRecord } from './csv.js';
import { claimOutput } from '../util/output.js';
import { DATASET_OUTPUT, writeDataset, type DatasetContent, type DatasetMeta, type SourceFile } from './dataset.js';
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
  /** Default utf8 (latin1 for ml100k). */
  readonly encoding?: 'utf8' | 'latin1';
  /** Unit of integer timestamps; default seconds. */
  readonly timestampUnit?: TimestampUnit;
}

export type TimestampUnit = 's' | 'ms';
export const TIMESTAMP_UNITS: readonly TimestampUnit[] = ['s', 'ms'];

/** How many skipped rows are described in the report and dataset.json. */
const FIRST_BAD_ROWS = 5;

/** Collects malformed rows: throws on the first unless skipping. */
class BadRows {
  rows = 0;
  readonly first: string[] = [];
  constructor(private readonly skip: boolean) {}

  /** Returns normally only when skipping. */
  report(file: string, line: number, field: string, problem: string): void {
    const message = `${file}:${line}: field ${excerpt(field)}: ${problem}`;
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

/** Header names listed in a message, at most. */
const LISTED_COLUMNS = 20;

/** Where each needed column sits in a file's header; a header naming a column twice is refused. */
function locateColumns(rec: CsvRecord, wanted: Record<string, string | undefined>): Record<string, number> {
  const header = Array.from({ length: rec.count }, (_, i) => rec.text(i).trim());
  const twice = header.findIndex((name, i) => header.indexOf(name) < i);
  if (twice >= 0) {
    throw new InputError(
      `${rec.file}:${rec.line}: the header names column ${excerpt(header[twice])} twice (fields ${header.indexOf(header[twice]) + 1} and ${twice + 1})`,
    );
  }
  const at: Record<string, number> = {};
  for (const [role, name] of Object.entries(wanted)) {
    if (name === undefined) continue;
    const i = header.indexOf(name);
    if (i < 0) {
      const listed = header.slice(0, LISTED_COLUMNS).map((h) => excerpt(h));
      const more = header.length > LISTED_COLUMNS ? `, … (${header.length} columns)` : '';
      throw new InputError(`${rec.file}:${rec.line}: missing required column ${excerpt(name)} (header has: ${listed.join(', ')}${more})`);
    }
    at[role] = i;
  }
  return at;
}

/** How integer timestamps are read, and the latest one believed (now + 1 year, in seconds). */
interface TimestampRule {
  readonly unit: TimestampUnit;
  readonly maxSeconds: number;
}

const YEAR_SECONDS = 365.25 * 24 * 3600;

function timestampRule(unit: TimestampUnit = 's'): TimestampRule {
  return { unit, maxSeconds: Math.floor(Date.now() / 1000 + YEAR_SECONDS) };
}

/**
 * Seconds since 1970 of field `col`, or why it is not a plausible timestamp. Before 1970
 * (negative) and more than a year from now are refused: such values are almost always another
 * unit (milliseconds read as seconds reach the year 50000) and break temporal splits.
 */
function readTimestamp(rec: CsvRecord, col: number, rule: TimestampRule, allowDates: boolean): number | string {
  const raw = rec.int(col);
  let seconds = rule.unit === 'ms' ? Math.floor(raw / 1000) : raw;
  if (Number.isNaN(raw) && allowDates) seconds = Math.floor(Date.parse(rec.text(col).trim()) / 1000);
  if (!Number.isSafeInteger(seconds)) {
    return `${rec.excerpt(col)} is not an integer timestamp (${rule.unit === 's' ? 'seconds' : 'milliseconds'})${allowDates ? ' or a date' : ''}`;
  }
  if (seconds < 0)
    return `${rec.excerpt(col)} is before 1970 (timestamps count ${rule.unit === 's' ? 'seconds' : 'milliseconds'} since 1970)`;
  if (seconds > rule.maxSeconds) {
    const date = new Date(seconds * 1000);
    const year = date.getUTCFullYear();
    const when = Number.isNaN(year) ? 'after the year 275000' : year > 9999 ? `in the year ${year}` : date.toISOString().slice(0, 10);
    // Milliseconds since 1973 (1e11) that are plausible as such: 10-digit seconds are not.
    const looksMs = rule.unit === 's' && raw >= 1e11 && raw / 1000 <= rule.maxSeconds;
    return `${rec.excerpt(col)} is ${when}, more than a year from now${looksMs ? '; it looks like milliseconds: use --timestamp-unit ms' : ''}`;
  }
  return seconds;
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
  readonly time: TimestampRule;
}

/** Parses and validates one interaction row into the builder. */
function pushInteraction(rec: CsvRecord, cols: InteractionColumns, fields: number, out: InteractionsBuilder, bad: BadRows): void {
  if (rec.count !== fields) {
    bad.report(rec.file, rec.line, '*', `expected ${fields} fields, found ${rec.count}`);
    return;
  }
  const user = rec.int(cols.user);
  if (!Number.isInteger(user) || user < 0 || user > INT32_MAX) {
    bad.report(rec.file, rec.line, cols.names.user, `${rec.excerpt(cols.user)} is not a non-negative 32-bit integer id`);
    return;
  }
  const item = rec.int(cols.item);
  if (!Number.isInteger(item) || item < 0 || item > INT32_MAX) {
    bad.report(rec.file, rec.line, cols.names.item, `${rec.excerpt(cols.item)} is not a non-negative 32-bit integer id`);
    return;
  }
  let rating = 1;
  if (cols.rating !== undefined) {
    rating = rec.float(cols.rating);
    if (!Number.isFinite(rating)) {
      bad.report(rec.file, rec.line, cols.names.rating ?? 'rating', `${rec.excerpt(cols.rating)} is not a number`);
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
    const read = readTimestamp(rec, cols.timestamp, cols.time, cols.allowDates);
    if (typeof read === 'string') {
      bad.report(rec.file, rec.line, cols.names.timestamp ?? 'timestamp', read);
      return;
    }
    timestamp = read;
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
  time: TimestampRule,
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
      cols = { user: at.user, item: at.item, rating: at.rating, timestamp: at.timestamp, names, ratingRange, allowDates, time };
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
function readMovieLensItems(path: string, encoding: CsvOptions['encoding'], bad: BadRows): ItemCatalog {
  const ids: number[] = [];
  const titles: string[] = [];
  const genres: string[][] = [];
  let at: Record<string, number> | null = null;
  let fields = 0;
  readCsv(path, { encoding }, (rec) => {
    if (at === null) {
      at = locateColumns(rec, { item: 'movieId', title: 'title', genres: 'genres' });
      fields = rec.count;
      return;
    }
    if (rec.count !== fields) return bad.report(rec.file, rec.line, '*', `expected ${fields} fields, found ${rec.count}`);
    const id = rec.int(at.item);
    if (!Number.isInteger(id) || id < 0 || id > INT32_MAX) {
      return bad.report(rec.file, rec.line, 'movieId', `${rec.excerpt(at.item)} is not a non-negative 32-bit integer id`);
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
function readMovieLensTags(path: string, encoding: CsvOptions['encoding'], time: TimestampRule, bad: BadRows): Tags {
  const users: number[] = [];
  const items: number[] = [];
  const tags: string[] = [];
  const times: number[] = [];
  let at: Record<string, number> | null = null;
  let fields = 0;
  readCsv(path, { encoding }, (rec) => {
    if (at === null) {
      at = locateColumns(rec, { user: 'userId', item: 'movieId', tag: 'tag', timestamp: 'timestamp' });
      fields = rec.count;
      return;
    }
    if (rec.count !== fields) return bad.report(rec.file, rec.line, '*', `expected ${fields} fields, found ${rec.count}`);
    const user = rec.int(at.user);
    const item = rec.int(at.item);
    const ts = readTimestamp(rec, at.timestamp, time, false);
    if (!Number.isInteger(user) || user < 0)
      return bad.report(rec.file, rec.line, 'userId', `${rec.excerpt(at.user)} is not an integer id`);
    if (!Number.isInteger(item) || item < 0)
      return bad.report(rec.file, rec.line, 'movieId', `${rec.excerpt(at.item)} is not an integer id`);
    if (typeof ts === 'string') return bad.report(rec.file, rec.line, 'timestamp', ts);
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
function readMl100kRatings(path: string, encoding: CsvOptions['encoding'], time: TimestampRule, bad: BadRows): Interactions {
  const out = new InteractionsBuilder(Math.ceil(statSync(path).size / 20));
  const cols: InteractionColumns = {
    user: 0,
    item: 1,
    rating: 2,
    timestamp: 3,
    names: { user: 'user id', item: 'item id', rating: 'rating', timestamp: 'timestamp' },
    ratingRange: [1, 5],
    allowDates: false,
    time,
  };
  readCsv(path, { delimiter: '\t', quotes: false, encoding }, (rec) => pushInteraction(rec, cols, 4, out, bad));
  if (out.length === 0) throw new InputError(`${path}: no interaction rows`);
  return out.build();
}

/** ml-100k u.item: id|title|release date|video release date|IMDb URL|19 genre flags, latin-1. */
function readMl100kItems(path: string, genreNames: string[], encoding: CsvOptions['encoding'], bad: BadRows): ItemCatalog {
  const ids: number[] = [];
  const titles: string[] = [];
  const genres: string[][] = [];
  const fields = 5 + genreNames.length;
  readCsv(path, { delimiter: '|', quotes: false, encoding }, (rec) => {
    if (rec.count !== fields) return bad.report(rec.file, rec.line, '*', `expected ${fields} fields, found ${rec.count}`);
    const id = rec.int(0);
    if (!Number.isInteger(id) || id < 0) return bad.report(rec.file, rec.line, 'movie id', `${rec.excerpt(0)} is not an integer id`);
    ids.push(id);
    titles.push(rec.text(1));
    genres.push(genreNames.filter((_, g) => rec.int(5 + g) === 1));
  });
  return { itemId: Int32Array.from(ids), title: titles, genres };
}

function readMl100kGenreNames(path: string, encoding: CsvOptions['encoding']): string[] {
  if (!existsSync(path)) return ML100K_GENRES;
  const names: string[] = [];
  readCsv(path, { delimiter: '|', quotes: false, encoding }, (rec) => {
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
  const content = await readImport(opts);
  const meta = await writeDataset(opts.out, content);
  log.event('data.import', { out: opts.out, counts: meta.counts, skipped: content.skipped?.rows ?? 0 });
  return meta;
}

/** What `importDataset` writes, read and validated (the pipeline appends logged events to it first). */
export async function readImport(opts: Omit<ImportOptions, 'out'>): Promise<DatasetContent> {
  const bad = new BadRows(opts.skipBad ?? false);
  // ml-100k's files are latin-1 (its documentation says so); everything else defaults to UTF-8.
  const encoding = opts.encoding ?? (opts.format === 'ml100k' ? 'latin1' : 'utf8');
  const time = timestampRule(opts.timestampUnit);
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
        { encoding },
        [0.5, 5],
        false,
        time,
        bad,
      );
      inputs.push(ratings);
      const movies = join(opts.input, 'movies.csv');
      if (existsSync(movies)) {
        catalog = readMovieLensItems(movies, encoding, bad);
        inputs.push(movies);
      }
      const tagsFile = join(opts.input, 'tags.csv');
      if (existsSync(tagsFile)) {
        tags = readMovieLensTags(tagsFile, encoding, time, bad);
        inputs.push(tagsFile);
      }
      break;
    }
    case 'ml100k': {
      requireInput(opts.input, 'input directory');
      const data = join(opts.input, 'u.data');
      requireInput(data, 'u.data (required)');
      interactions = readMl100kRatings(data, encoding, time, bad);
      inputs.push(data);
      const items = join(opts.input, 'u.item');
      if (existsSync(items)) {
        catalog = readMl100kItems(items, readMl100kGenreNames(join(opts.input, 'u.genre'), encoding), encoding, bad);
        inputs.push(items);
      }
      break;
    }
    case 'csv': {
      requireInput(opts.input, 'input file');
      if (!opts.columns) throw new InputError('--format csv needs --columns user=COL,item=COL[,rating=COL][,timestamp=COL]');
      checkColumnMapping(opts.columns);
      checkDelimiter(opts.delimiter ?? ',');
      interactions = readInteractionLog(opts.input, opts.columns, { delimiter: opts.delimiter ?? ',', encoding }, null, true, time, bad);
      inputs.push(opts.input);
      break;
    }
  }
  if (bad.rows > 0) log.warn(`skipped ${bad.rows} malformed rows; first: ${bad.first.join(' | ')}`);
  warnSecondsAsMilliseconds(interactions, time.unit);
  return {
    interactions,
    catalog,
    tags,
    source: { kind: `import:${opts.format}`, files: await describeSources(inputs), params: { columns: opts.columns } },
    skipped: { rows: bad.rows, first: bad.first },
    // MovieLens' usage license asks that its README travel with any copy of the data.
    copyFiles: ['README.txt', 'README']
      .map((f) => join(opts.format === 'csv' ? dirname(opts.input) : opts.input, f))
      .filter((f) => existsSync(f)),
  };
}

/** Timestamps read as milliseconds that all fall in the first days of 1970 were seconds. */
function warnSecondsAsMilliseconds(interactions: Interactions, unit: TimestampUnit): void {
  if (unit !== 'ms') return;
  const latest = interactions.timestamp.reduce((a, b) => Math.max(a, b), 0);
  if (latest > 0 && latest < 30 * 24 * 3600)
    log.warn(
      `every timestamp read as milliseconds falls in the first month of 1970 (the latest: ${new Date(latest * 1000).toISOString()}): they look like seconds (--timestamp-unit s)`,
    );
}

/** Why a column mapping is wrong (one column in two roles, e.g. user=id,item=id), or null. */
export function columnMappingProblem(columns: ColumnMapping): string | null {
  const roles = Object.entries(columns).filter(([, col]) => col !== undefined);
  for (const [i, [role, col]] of roles.entries()) {
    const other = roles.findIndex(([, c]) => c === col);
    if (other < i) return `column ${excerpt(col)} is mapped to both ${roles[other][0]} and ${role}`;
  }
  return null;
}

function checkColumnMapping(columns: ColumnMapping): void {
  const problem = columnMappingProblem(columns);
  if (problem !== null) throw new InputError(`--columns: ${problem}`);
}

/** Parses `user=COL,item=COL[,rating=COL][,timestamp=COL]`. */
export function parseColumnMapping(text: string): ColumnMapping {
  const map: Record<string, string> = {};
  for (const part of text.split(',')) {
    const [role, col] = part.split('=').map((s) => s.trim());
    if (!role || !col || !['user', 'item', 'rating', 'timestamp'].includes(role)) {
      throw new InputError(`--columns: ${excerpt(part)} is not ROLE=COLUMN with ROLE one of user, item, rating, timestamp`);
    }
    if (map[role] !== undefined) throw new InputError(`--columns: ${role} is given twice`);
    map[role] = col;
  }
  if (!map.user || !map.item) throw new InputError('--columns: user=COL and item=COL are required');
  const mapping = { user: map.user, item: map.item, rating: map.rating, timestamp: map.timestamp };
  checkColumnMapping(mapping);
  return mapping;
}
