import duckdb from '@duckdb/node-bindings';
import { LIST, VARCHAR } from '@duckdb/node-api';
import { existsSync } from 'node:fs';
import { quoteIdent, quoteString, withDuckDb } from '../util/duckdb.js';
import { InputError } from '../util/errors.js';

/**
 * Parquet through DuckDB, chosen by measurement (docs/benchmarks.md): numeric columns move
 * between typed arrays and DuckDB vectors with one memcpy per 2048-row chunk, and DuckDB's
 * Parquet writer/reader does the format. Strings and lists (item metadata, small) go through
 * the ordinary appender.
 */

export type NumericColumnType = 'INTEGER' | 'FLOAT' | 'DOUBLE' | 'BIGINT';
export type NumericArray = Int32Array | Float32Array | Float64Array | Uint8Array;

export interface NumericColumn {
  readonly name: string;
  /** Type in the Parquet file. BIGINT columns are given as Float64Array (exact below 2^53). */
  readonly type: NumericColumnType;
  readonly data: NumericArray;
}

/** In-memory DuckDB types of the typed arrays (BIGINT is staged as DOUBLE and cast on COPY). */
function stagingType(c: Pick<NumericColumn, 'data'>): duckdb.Type {
  if (c.data instanceof Uint8Array) return duckdb.Type.UTINYINT;
  if (c.data instanceof Int32Array) return duckdb.Type.INTEGER;
  if (c.data instanceof Float32Array) return duckdb.Type.FLOAT;
  return duckdb.Type.DOUBLE;
}

function sqlType(t: duckdb.Type): string {
  if (t === duckdb.Type.UTINYINT) return 'UTINYINT';
  return t === duckdb.Type.INTEGER ? 'INTEGER' : t === duckdb.Type.FLOAT ? 'FLOAT' : 'DOUBLE';
}

export { quoteIdent, quoteString, withDuckDb } from '../util/duckdb.js';

/** A private in-memory DuckDB database and connection (C-level bindings, for raw vector copies). */
async function openRawDuckDb(): Promise<{ db: duckdb.Database; con: duckdb.Connection }> {
  const config = duckdb.create_config();
  duckdb.set_config(config, 'threads', '2');
  const db = await duckdb.open(':memory:', config);
  return { db, con: await duckdb.connect(db) };
}

async function withRawDuckDb<T>(fn: (con: duckdb.Connection) => Promise<T>): Promise<T> {
  const { db, con } = await openRawDuckDb();
  try {
    return await fn(con);
  } finally {
    duckdb.disconnect_sync(con);
    duckdb.close_sync(db);
  }
}

/** First column of the first row of a query, as a number. */
async function queryNumber(con: duckdb.Connection, sql: string): Promise<number> {
  const result = await duckdb.query(con, sql);
  const chunk = await duckdb.fetch_chunk(result);
  if (!chunk || duckdb.data_chunk_get_size(chunk) === 0) throw new Error(`no result for ${sql}`);
  const data = duckdb.vector_get_data(duckdb.data_chunk_get_vector(chunk, 0), 8);
  return Number(new BigInt64Array(data.slice().buffer)[0]);
}

/**
 * Writes equal-length numeric columns to a Parquet file (zstd). The caller is responsible for
 * writing to a temporary path and renaming (see util/fs).
 */
export async function writeNumericParquet(path: string, columns: NumericColumn[]): Promise<void> {
  const writer = await NumericParquetWriter.open(columns);
  try {
    writer.append(columns.map((c) => c.data));
    await writer.finish(path);
  } finally {
    writer.close();
  }
}

/**
 * A Parquet file written batch by batch (e.g. the recommendations of 162k users × 100 items):
 * each `append` copies typed-array columns into DuckDB, `finish` writes the file. Columns with
 * `labels` are staged as small integer codes and written as the matching strings.
 */
export class NumericParquetWriter {
  private readonly chunk: duckdb.DataChunk;
  private rows = 0;

  private constructor(
    private readonly db: duckdb.Database,
    private readonly con: duckdb.Connection,
    private readonly appender: duckdb.Appender,
    private readonly columns: ReadonlyArray<Pick<NumericColumn, 'name' | 'type' | 'data'> & { labels?: readonly string[] }>,
    types: duckdb.Type[],
  ) {
    this.chunk = duckdb.create_data_chunk(types.map((t) => duckdb.create_logical_type(t)));
  }

  /** `columns` give names, output types and (by their typed-array kind) the staging types. */
  static async open(
    columns: ReadonlyArray<Pick<NumericColumn, 'name' | 'type' | 'data'> & { labels?: readonly string[] }>,
  ): Promise<NumericParquetWriter> {
    const { db, con } = await openRawDuckDb();
    const types = columns.map(stagingType);
    await duckdb.query(con, `CREATE TABLE t(${columns.map((c, i) => `${quoteIdent(c.name)} ${sqlType(types[i])}`).join(', ')})`);
    return new NumericParquetWriter(db, con, duckdb.appender_create(con, null, 't'), columns, types);
  }

  /** Appends rows; `data[i]` is column i (same typed-array kind as at open), all equally long. */
  append(data: readonly NumericArray[]): void {
    const n = data[0]?.length ?? 0;
    data.forEach((d, i) => {
      if (d.length !== n) throw new Error(`parquet writer: column ${this.columns[i].name} has ${d.length} rows, expected ${n}`);
    });
    const step = duckdb.vector_size();
    for (let start = 0; start < n; start += step) {
      const len = Math.min(step, n - start);
      duckdb.data_chunk_reset(this.chunk);
      data.forEach((d, i) => {
        const bytes = d.BYTES_PER_ELEMENT;
        duckdb.copy_data_to_vector(
          duckdb.data_chunk_get_vector(this.chunk, i),
          0,
          d.buffer as ArrayBuffer,
          d.byteOffset + start * bytes,
          len * bytes,
        );
      });
      duckdb.data_chunk_set_size(this.chunk, len);
      duckdb.append_data_chunk(this.appender, this.chunk);
    }
    this.rows += n;
  }

  get rowCount(): number {
    return this.rows;
  }

  /** Writes everything appended so far to `path`. */
  async finish(path: string): Promise<void> {
    duckdb.appender_close_sync(this.appender);
    const select = this.columns
      .map((c) => {
        const col = quoteIdent(c.name);
        if (c.labels) return `${sqlList(c.labels)}[${col} + 1] AS ${col}`;
        return c.type === 'BIGINT' ? `CAST(${col} AS BIGINT) AS ${col}` : col;
      })
      .join(', ');
    await copyTo(path, () =>
      duckdb.query(
        this.con,
        `COPY (SELECT ${select} FROM t) TO ${quoteString(path)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1048576)`,
      ),
    );
  }

  close(): void {
    duckdb.disconnect_sync(this.con);
    duckdb.close_sync(this.db);
  }
}

/** Runs a COPY to `path`; DuckDB failing to open it (a missing or unwritable directory) is bad input naming the path. */
async function copyTo(path: string, copy: () => Promise<unknown>): Promise<void> {
  try {
    await copy();
  } catch (err) {
    const cannotOpen = /IO Error: Cannot open file "[^"]*": (.*)/.exec((err as Error).message);
    if (cannotOpen) throw new InputError(`${path}: cannot write (${cannotOpen[1].toLowerCase()})`);
    throw err;
  }
}

function sqlList(values: readonly string[]): string {
  return `[${values.map(quoteString).join(', ')}]`;
}

/** Number of rows of a Parquet file, from its metadata. */
export async function parquetRowCount(path: string): Promise<number> {
  requireFile(path);
  return withDuckDb(async (con) => {
    const r = await con.runAndReadAll(`SELECT count(*) FROM read_parquet(${quoteString(path)})`);
    return Number(r.getRows()[0][0]);
  });
}

function requireFile(path: string): void {
  if (!existsSync(path)) throw new InputError(`${path}: file not found`);
}

export interface ReadColumnSpec {
  readonly name: string;
  /** Typed array the column is read into; integers are cast by DuckDB on the way. */
  readonly as: 'int32' | 'float32' | 'float64';
  /** A SQL expression over the file's columns read under `name` (default: the column `name` itself). */
  readonly expr?: string;
}

/**
 * Reads numeric columns of a Parquet file (or of a SQL query over it, e.g. with a WHERE)
 * into typed arrays, streaming chunk by chunk: peak memory is the arrays themselves.
 * Nulls are rejected with an error naming the column.
 */
export async function readNumericParquet(path: string, columns: ReadColumnSpec[], where = ''): Promise<Record<string, NumericArray>> {
  requireFile(path);
  return withRawDuckDb(async (raw) => {
    const source = `read_parquet(${quoteString(path)})`;
    let n: number;
    try {
      // A subquery, so that `where` may end in ORDER BY.
      n = await queryNumber(raw, `SELECT count(*) FROM (SELECT 1 FROM ${source} ${where})`);
    } catch (err) {
      throw new InputError(`${path}: ${(err as Error).message}`);
    }
    const out: Record<string, NumericArray> = {};
    const casts: string[] = [];
    for (const c of columns) {
      const sql = c.as === 'int32' ? 'INTEGER' : c.as === 'float32' ? 'FLOAT' : 'DOUBLE';
      casts.push(`CAST(${c.expr ?? quoteIdent(c.name)} AS ${sql})`);
      out[c.name] = c.as === 'int32' ? new Int32Array(n) : c.as === 'float32' ? new Float32Array(n) : new Float64Array(n);
    }
    let result: duckdb.Result;
    try {
      result = await duckdb.query(raw, `SELECT ${casts.join(', ')} FROM ${source} ${where}`);
    } catch (err) {
      throw new InputError(`${path}: ${(err as Error).message}`);
    }
    let offset = 0;
    for (;;) {
      const chunk = await duckdb.fetch_chunk(result);
      if (!chunk) break;
      const len = duckdb.data_chunk_get_size(chunk);
      if (len === 0) break;
      columns.forEach((c, i) => {
        const target = out[c.name];
        const bytes = target.BYTES_PER_ELEMENT;
        const vector = duckdb.data_chunk_get_vector(chunk, i);
        // null when the chunk has no nulls
        const validity = duckdb.vector_get_validity(vector, Math.ceil(len / 64) * 8) as Uint8Array | null;
        if (validity !== null) {
          for (let r = 0; r < len; r++) {
            if (!duckdb.validity_row_is_valid(validity, r)) {
              throw new InputError(`${path}: column ${c.name} has a null at row ${offset + r + 1}`);
            }
          }
        }
        const data = duckdb.vector_get_data(vector, len * bytes);
        new Uint8Array(target.buffer, target.byteOffset + offset * bytes, len * bytes).set(data);
      });
      offset += len;
    }
    if (offset !== n) throw new Error(`${path}: read ${offset} rows, expected ${n}`);
    return out;
  });
}

/** Column names of a Parquet file. */
export async function parquetColumns(path: string): Promise<string[]> {
  requireFile(path);
  return withDuckDb(async (con) => {
    const r = await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${quoteString(path)})`);
    return r.getRows().map((row) => String(row[0]));
  });
}

/** A column of a small row-wise table (item metadata, tags). */
export interface RowColumn {
  readonly name: string;
  readonly type: 'INTEGER' | 'BIGINT' | 'DOUBLE' | 'VARCHAR' | 'VARCHAR[]';
}

/** A value for one cell; lists are string arrays; null is SQL NULL. */
export type RowValue = number | string | string[] | null;

/**
 * Writes a small table (up to a few million rows) row by row through DuckDB's appender.
 * For the big numeric interaction tables use `writeNumericParquet`.
 */
export async function writeRowsParquet(
  path: string,
  columns: RowColumn[],
  rowCount: number,
  cell: (row: number, col: number) => RowValue,
): Promise<void> {
  await withDuckDb(async (con) => {
    await con.run(`CREATE TABLE t(${columns.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(', ')})`);
    const appender = await con.createAppender('t');
    const listType = LIST(VARCHAR);
    for (let r = 0; r < rowCount; r++) {
      for (let c = 0; c < columns.length; c++) {
        const v = cell(r, c);
        if (v === null) {
          appender.appendNull();
          continue;
        }
        switch (columns[c].type) {
          case 'INTEGER':
            appender.appendInteger(v as number);
            break;
          case 'BIGINT':
            appender.appendBigInt(BigInt(v as number));
            break;
          case 'DOUBLE':
            appender.appendDouble(v as number);
            break;
          case 'VARCHAR':
            appender.appendVarchar(v as string);
            break;
          case 'VARCHAR[]':
            appender.appendList(v as string[], listType);
            break;
        }
      }
      appender.endRow();
    }
    appender.closeSync();
    await copyTo(path, () => con.run(`COPY t TO ${quoteString(path)} (FORMAT parquet, COMPRESSION zstd)`));
  });
}

/** Reads a small table into plain JS rows (objects keyed by column name). */
export async function readRowsParquet(path: string, sql = 'SELECT * FROM src'): Promise<Record<string, unknown>[]> {
  requireFile(path);
  return withDuckDb(async (con) => {
    try {
      const r = await con.runAndReadAll(`WITH src AS (SELECT * FROM read_parquet(${quoteString(path)})) ${sql}`);
      return r.getRowObjectsJS() as Record<string, unknown>[];
    } catch (err) {
      throw new InputError(`${path}: ${(err as Error).message}`);
    }
  });
}
