import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { openDuckDb, quoteString } from '../util/duckdb.js';
import { InputError } from '../util/errors.js';
import type { ExposureRecord, ExposureRoute, LogRecord, ShownItem } from './records.js';

/**
 * The compacted part of a log directory (docs/events.md), written by `compactLog`:
 *
 *   <dir>/compacted/<batch>.exposures.parquet   one row per shown item (an exposure that showed
 *                                               nothing: one row with null item columns)
 *   <dir>/compacted/<batch>.events.parquet      one row per user event
 *   <dir>/compacted/<batch>.json                the manifest: which segments the two files
 *                                               replace, and their row counts
 *
 * The manifest is renamed into place last: it is what makes a batch exist. Parquet files without
 * one (a compaction that crashed) are ignored, and segments a manifest names are not read again
 * (a compaction that crashed before removing them).
 */
export const COMPACTED_DIR = 'compacted';

export const EXPOSURE_COLUMNS = [
  ['record', 'INTEGER'],
  ['request_id', 'VARCHAR'],
  ['time', 'DOUBLE'],
  ['user_id', 'INTEGER'],
  ['route', 'VARCHAR'],
  ['model', 'VARCHAR'],
  ['version', 'VARCHAR'],
  ['path', 'VARCHAR'],
  ['experiment', 'VARCHAR'],
  ['variant', 'VARCHAR'],
  ['policy', 'VARCHAR'],
  ['item_id', 'INTEGER'],
  ['position', 'INTEGER'],
  ['score', 'DOUBLE'],
  ['channel', 'VARCHAR'],
  ['propensity', 'DOUBLE'],
] as const;

export const EVENT_COLUMNS = [
  ['user_id', 'INTEGER'],
  ['item_id', 'INTEGER'],
  ['type', 'VARCHAR'],
  ['request_id', 'VARCHAR'],
  ['time', 'DOUBLE'],
] as const;

export const manifestSchema = z
  .object({
    format_version: z.literal(1),
    created_at: z.string(),
    /** File names under segments/ that this batch replaces. */
    segments: z.array(z.string()),
    exposures: z.string(),
    events: z.string(),
    counts: z.object({ exposures: z.number().int(), exposure_rows: z.number().int(), events: z.number().int() }).strict(),
  })
  .strict();

export type CompactedManifest = z.infer<typeof manifestSchema>;

/** The batches of a log directory, oldest first. */
export function listCompacted(dir: string): CompactedManifest[] {
  const compacted = join(dir, COMPACTED_DIR);
  if (!existsSync(compacted)) return [];
  const manifests: CompactedManifest[] = [];
  for (const name of readdirSync(compacted)
    .filter((n) => n.endsWith('.json'))
    .sort()) {
    const path = join(compacted, name);
    let value: unknown;
    try {
      value = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      throw new InputError(`${path}: not a JSON compaction manifest`);
    }
    const parsed = manifestSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new InputError(`${path}: field ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    manifests.push(parsed.data);
  }
  return manifests;
}

type Row = Record<string, unknown>;

/** The records of one batch: its exposures (in their logged order), then its events. */
export async function* readCompacted(dir: string, manifest: CompactedManifest): AsyncGenerator<LogRecord> {
  const files = join(dir, COMPACTED_DIR);
  const rows = (file: string, order: string) => queryRows(join(files, file), order);
  let current: { row: Row; items: ShownItem[] } | null = null;
  for await (const row of rows(manifest.exposures, 'ORDER BY record, position')) {
    if (current && current.row.record !== row.record) yield exposureOf(current.row, current.items);
    if (!current || current.row.record !== row.record) current = { row, items: [] };
    if (row.item_id !== null) {
      current.items.push({
        item_id: row.item_id as number,
        position: row.position as number,
        score: row.score as number,
        channel: row.channel as string,
        propensity: row.propensity as number,
      });
    }
  }
  if (current) yield exposureOf(current.row, current.items);
  for await (const row of rows(manifest.events, '')) {
    yield {
      kind: 'event',
      user_id: row.user_id as number,
      item_id: row.item_id as number,
      type: row.type as string,
      request_id: row.request_id as string | null,
      time: row.time as number,
    };
  }
}

function exposureOf(row: Row, items: ShownItem[]): ExposureRecord {
  return {
    kind: 'exposure',
    request_id: row.request_id as string,
    time: row.time as number,
    user_id: row.user_id as number | null,
    route: row.route as ExposureRoute,
    model: row.model as string,
    version: row.version as string,
    path: row.path as string,
    experiment: row.experiment as string | null,
    variant: row.variant as string | null,
    policy: row.policy as string,
    items,
  };
}

/** The rows of a Parquet file, streamed chunk by chunk. */
async function* queryRows(path: string, order: string): AsyncGenerator<Row> {
  if (!existsSync(path)) throw new InputError(`${path}: missing, though its compaction manifest names it`);
  const { con, close } = await openDuckDb();
  try {
    const result = await con.stream(`SELECT * FROM read_parquet(${quoteString(path)}) ${order}`);
    for await (const chunk of result.yieldRowObjectJs()) yield* chunk as Row[];
  } finally {
    close();
  }
}
