import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { InputError } from '../util/errors.js';
import { sha256File, verifyHashes } from '../util/hash.js';
import { writeJsonAtomic } from '../util/fs.js';
import { directoryKind, writeOutputDir } from '../util/output.js';
import type { Interactions, ItemCatalog, Tags } from './interactions.js';
import { readNumericParquet, readRowsParquet, writeNumericParquet, writeRowsParquet } from './parquet.js';

/**
 * A dataset directory, as `recsys data import` and `recsys data synth` write it:
 *   interactions.parquet  user_id INT32, item_id INT32, rating FLOAT, timestamp INT64 (seconds)
 *   items.parquet         item_id INT32, title STRING, genres LIST<STRING>   (when known)
 *   tags.parquet          user_id INT32, item_id INT32, tag STRING, timestamp INT64 (when known)
 *   exposures.parquet     what was shown, one row per item (events import; docs/events.md)
 *   dataset.json          counts, time range, input checksums (DatasetMeta)
 */
export const INTERACTIONS_FILE = 'interactions.parquet';
export const ITEMS_FILE = 'items.parquet';
export const TAGS_FILE = 'tags.parquet';
/** What was shown, as the events import writes it (data/events-import.ts). */
export const EXPOSURES_FILE = 'exposures.parquet';
export const META_FILE = 'dataset.json';

export interface SourceFile {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface DatasetMeta {
  readonly format_version: 1;
  readonly created_at: string;
  /** How the data was made: import format and input files, or the synth parameters. */
  readonly source: { readonly kind: string; readonly files?: SourceFile[]; readonly params?: Record<string, unknown> };
  readonly counts: {
    readonly interactions: number;
    readonly users: number;
    readonly items: number;
    readonly catalog_items: number;
    readonly tags: number;
  };
  readonly time_range: { readonly min: number; readonly max: number; readonly min_iso: string; readonly max_iso: string } | null;
  readonly rating_range: { readonly min: number; readonly max: number } | null;
  /** Rows dropped by `--skip-bad`, with the first few reasons. */
  readonly skipped: { readonly rows: number; readonly first: string[] };
  /** sha256 of interactions.parquet: the identity splits and models refer to. */
  readonly interactions_sha256: string;
}

export interface Dataset {
  readonly dir: string;
  readonly meta: DatasetMeta;
  readonly interactions: Interactions;
  readonly catalog: ItemCatalog | null;
  readonly tags: Tags | null;
}

export interface DatasetContent {
  readonly interactions: Interactions;
  readonly catalog?: ItemCatalog | null;
  readonly tags?: Tags | null;
  readonly source: DatasetMeta['source'];
  readonly skipped?: DatasetMeta['skipped'];
  /** Files copied into the dataset as they are (e.g. the data's license README). */
  readonly copyFiles?: string[];
  /** Writes the dataset's further tables (e.g. the events import's exposures.parquet) into the directory being built. */
  readonly writeMore?: (dir: string) => Promise<void>;
}

/**
 * A dataset directory as an output (util/output.ts): replaced only when it holds dataset.json
 * and nothing but a dataset's files, the copied README and what a pipeline keeps there (its
 * import record, pipeline/steps/import.ts, and the unit's log, pipeline/runner.ts).
 */
export const DATASET_OUTPUT = directoryKind('dataset directory', META_FILE, [
  INTERACTIONS_FILE,
  ITEMS_FILE,
  TAGS_FILE,
  EXPOSURES_FILE,
  'README.txt',
  'README',
  'pipeline-import.json',
  'run.log.jsonl',
]);

/** Writes a dataset directory atomically: it appears complete or not at all. */
export async function writeDataset(outDir: string, content: DatasetContent): Promise<DatasetMeta> {
  return writeOutputDir(outDir, DATASET_OUTPUT, async (tmp) => {
    await writeInteractionsParquet(join(tmp, INTERACTIONS_FILE), content.interactions);
    if (content.catalog) await writeCatalogParquet(join(tmp, ITEMS_FILE), content.catalog);
    if (content.tags) await writeTagsParquet(join(tmp, TAGS_FILE), content.tags);
    for (const file of content.copyFiles ?? []) copyFileSync(file, join(tmp, basename(file)));
    await content.writeMore?.(tmp);
    const meta = describeInteractions(content, await sha256File(join(tmp, INTERACTIONS_FILE)));
    writeJsonAtomic(join(tmp, META_FILE), meta);
    return meta;
  });
}

export async function writeInteractionsParquet(path: string, x: Interactions): Promise<void> {
  await writeNumericParquet(path, [
    { name: 'user_id', type: 'INTEGER', data: x.userId },
    { name: 'item_id', type: 'INTEGER', data: x.itemId },
    { name: 'rating', type: 'FLOAT', data: x.rating },
    { name: 'timestamp', type: 'BIGINT', data: x.timestamp },
  ]);
}

async function writeCatalogParquet(path: string, c: ItemCatalog): Promise<void> {
  await writeRowsParquet(
    path,
    [
      { name: 'item_id', type: 'INTEGER' },
      { name: 'title', type: 'VARCHAR' },
      { name: 'genres', type: 'VARCHAR[]' },
    ],
    c.itemId.length,
    (r, col) => (col === 0 ? c.itemId[r] : col === 1 ? c.title[r] : c.genres[r]),
  );
}

async function writeTagsParquet(path: string, t: Tags): Promise<void> {
  await writeRowsParquet(
    path,
    [
      { name: 'user_id', type: 'INTEGER' },
      { name: 'item_id', type: 'INTEGER' },
      { name: 'tag', type: 'VARCHAR' },
      { name: 'timestamp', type: 'BIGINT' },
    ],
    t.userId.length,
    (r, col) => (col === 0 ? t.userId[r] : col === 1 ? t.itemId[r] : col === 2 ? t.tag[r] : t.timestamp[r]),
  );
}

function describeInteractions(content: DatasetContent, sha: string): DatasetMeta {
  const x = content.interactions;
  const n = x.userId.length;
  let tMin = Infinity;
  let tMax = -Infinity;
  let rMin = Infinity;
  let rMax = -Infinity;
  for (let i = 0; i < n; i++) {
    const t = x.timestamp[i];
    if (t < tMin) tMin = t;
    if (t > tMax) tMax = t;
    const r = x.rating[i];
    if (r < rMin) rMin = r;
    if (r > rMax) rMax = r;
  }
  return {
    format_version: 1,
    created_at: new Date().toISOString(),
    source: content.source,
    counts: {
      interactions: n,
      users: countDistinct(x.userId),
      items: countDistinct(x.itemId),
      catalog_items: content.catalog ? content.catalog.itemId.length : 0,
      tags: content.tags ? content.tags.userId.length : 0,
    },
    time_range:
      n > 0 ? { min: tMin, max: tMax, min_iso: new Date(tMin * 1000).toISOString(), max_iso: new Date(tMax * 1000).toISOString() } : null,
    rating_range: n > 0 ? { min: rMin, max: rMax } : null,
    skipped: content.skipped ?? { rows: 0, first: [] },
    interactions_sha256: sha,
  };
}

export function countDistinct(values: Int32Array): number {
  const sorted = Int32Array.from(values).sort();
  let n = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) n++;
  return n;
}

export function readDatasetMeta(dir: string): DatasetMeta {
  const path = join(dir, META_FILE);
  if (!existsSync(path)) {
    throw new InputError(
      `${dir}: not a dataset directory (no ${META_FILE}); create one with \`recsys data import\` or \`recsys data synth\``,
    );
  }
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as DatasetMeta;
  } catch (err) {
    throw new InputError(`${path}: ${(err as Error).message}`);
  }
}

export async function readInteractionsParquet(path: string): Promise<Interactions> {
  const cols = await readNumericParquet(path, [
    { name: 'user_id', as: 'int32' },
    { name: 'item_id', as: 'int32' },
    { name: 'rating', as: 'float32' },
    { name: 'timestamp', as: 'float64' },
  ]);
  return {
    userId: cols.user_id as Int32Array,
    itemId: cols.item_id as Int32Array,
    rating: cols.rating as Float32Array,
    timestamp: cols.timestamp as Float64Array,
  };
}

/**
 * Loads a dataset directory; item metadata and tags are loaded when present and asked for.
 * interactions.parquet must still be the file dataset.json records (its sha256 is what splits
 * and models refer to), unless `RECSYS_VERIFY=size`.
 */
export async function loadDataset(dir: string, opts: { catalog?: boolean; tags?: boolean } = {}): Promise<Dataset> {
  const meta = readDatasetMeta(dir);
  const interactionsPath = join(dir, INTERACTIONS_FILE);
  if (!existsSync(interactionsPath)) throw new InputError(`${interactionsPath}: missing (${META_FILE} records it)`);
  if (verifyHashes() && (await sha256File(interactionsPath)) !== meta.interactions_sha256) {
    throw new InputError(
      `${interactionsPath}: sha256 differs from the one ${META_FILE} records (the file was replaced or changed after import); import the dataset again`,
    );
  }
  const interactions = await readInteractionsParquet(interactionsPath);
  const itemsPath = join(dir, ITEMS_FILE);
  const tagsPath = join(dir, TAGS_FILE);
  const catalog = opts.catalog !== false && existsSync(itemsPath) ? await readCatalog(itemsPath) : null;
  const tags = opts.tags === true && existsSync(tagsPath) ? await readTags(tagsPath) : null;
  return { dir, meta, interactions, catalog, tags };
}

async function readCatalog(path: string): Promise<ItemCatalog> {
  const rows = await readRowsParquet(path, 'SELECT item_id, title, genres FROM src ORDER BY item_id');
  return {
    itemId: Int32Array.from(rows, (r) => Number(r.item_id)),
    title: rows.map((r) => String(r.title ?? '')),
    genres: rows.map((r) => ((r.genres as string[] | null) ?? []).map(String)),
  };
}

async function readTags(path: string): Promise<Tags> {
  const rows = await readRowsParquet(path, 'SELECT user_id, item_id, tag, CAST(timestamp AS DOUBLE) AS timestamp FROM src');
  return {
    userId: Int32Array.from(rows, (r) => Number(r.user_id)),
    itemId: Int32Array.from(rows, (r) => Number(r.item_id)),
    tag: rows.map((r) => String(r.tag)),
    timestamp: Float64Array.from(rows, (r) => Number(r.timestamp)),
  };
}
