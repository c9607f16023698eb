import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

/** DuckDB SQL helpers shared by the Parquet tables of data/ and the compacted event logs of events/. */

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** A private in-memory DuckDB connection (high-level API) and how to close it. */
export async function openDuckDb(): Promise<{ con: DuckDBConnection; close: () => void }> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const con = await instance.connect();
  return {
    con,
    close: () => {
      con.closeSync();
      instance.closeSync();
    },
  };
}

/** A private in-memory DuckDB connection; closed when `fn` ends. */
export async function withDuckDb<T>(fn: (con: DuckDBConnection) => Promise<T>): Promise<T> {
  const { con, close } = await openDuckDb();
  try {
    return await fn(con);
  } finally {
    close();
  }
}
