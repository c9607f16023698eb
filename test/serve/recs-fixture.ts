import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { NumericParquetWriter, readRowsParquet } from '../../src/data/parquet.js';
import { RECS_SIDECAR_SUFFIX, writeRecsSidecar } from '../../src/serve/recs-file.js';

/** Synthetic batch recommendations for the cache tests, and what a reader should get back. */
export const CHANNELS = ['als', 'cooc', 'popularity'];

/**
 * A recs file of `users` users (raw ids 10, 13, 16, ...; every fifth has a shorter list) whose
 * items and scores depend on `seed`, written like `recsys recommend --all-users` writes it
 * (users in descending order here, so the publisher's own ordering is exercised), with a sidecar
 * naming the model `synthetic`, version `seed`.
 */
export async function writeSyntheticRecs(path: string, users: number, k: number, seed: number): Promise<string> {
  const length = (u: number): number => (u % 5 === 0 ? Math.ceil(k / 2) : k);
  let n = 0;
  for (let u = 0; u < users; u++) n += length(u);
  const cols = {
    user: new Int32Array(n),
    item: new Int32Array(n),
    rank: new Int32Array(n),
    score: new Float32Array(n),
    channel: new Uint8Array(n),
  };
  let r = 0;
  for (let u = users - 1; u >= 0; u--) {
    for (let j = 0; j < length(u); j++, r++) {
      cols.user[r] = 10 + 3 * u;
      cols.item[r] = ((u * 7919 + j * 104_729 + seed * 31) % 100_000) + 1;
      cols.rank[r] = j + 1;
      cols.score[r] = 1 / (j + 1 + seed);
      cols.channel[r] = (u + j + seed) % 3;
    }
  }
  const writer = await NumericParquetWriter.open([
    { name: 'user_id', type: 'INTEGER', data: cols.user },
    { name: 'item_id', type: 'INTEGER', data: cols.item },
    { name: 'rank', type: 'INTEGER', data: cols.rank },
    { name: 'score', type: 'FLOAT', data: cols.score },
    { name: 'channel', type: 'INTEGER', data: cols.channel, labels: CHANNELS },
  ]);
  try {
    writer.append([cols.user, cols.item, cols.rank, cols.score, cols.channel]);
    await writer.finish(path);
  } finally {
    writer.close();
  }
  await writeRecsSidecar(path, { model: { name: 'synthetic', version: String(seed) }, k, users, rows: n });
  return path;
}

export interface Row {
  user_id: number;
  item_id: number;
  rank: number;
  score: number;
  channel: string;
}

/** The file's lists by user, read by DuckDB (not by the publisher's reader). */
export async function listsOf(path: string): Promise<Map<number, Row[]>> {
  const rows = (await readRowsParquet(path, 'SELECT * FROM src ORDER BY user_id, rank')) as unknown as Row[];
  const byUser = new Map<number, Row[]>();
  for (const r of rows) byUser.set(r.user_id, [...(byUser.get(r.user_id) ?? []), r]);
  return byUser;
}

export function versionOf(path: string): string {
  return (JSON.parse(readFileSync(`${path}${RECS_SIDECAR_SUFFIX}`, 'utf8')) as { version: string }).version;
}

/** What a reader of the cache gets for every user of `expected`, compared with the file's rows. */
export function expectSameList(
  got: { items: { item_id: number; rank: number; score: number; channel: string }[] } | null,
  want: Row[],
): void {
  expect(got).not.toBeNull();
  expect(got?.items.map((i) => [i.item_id, i.rank, Math.fround(i.score), i.channel])).toEqual(
    want.map((r) => [r.item_id, r.rank, Math.fround(r.score), r.channel]),
  );
}
