import { join } from 'node:path';
import { attributeEvents } from '../events/attribution.js';
import { EVENT_TYPE, emptyReadStats, readLog } from '../events/log-reader.js';
import { DEFAULT_POSITIVE_TYPES, type ExposureRecord, type UserEventRecord } from '../events/records.js';
import { excerpt, InputError } from '../util/errors.js';
import { log } from '../util/log.js';
import { claimOutput } from '../util/output.js';
import { DATASET_OUTPUT, type DatasetContent, EXPOSURES_FILE, loadDataset, writeDataset, type DatasetMeta } from './dataset.js';
import type { Interactions, ItemCatalog } from './interactions.js';
import { writeRowsParquet } from './parquet.js';

/**
 * `recsys data import --format events` (docs/events.md): a log directory in, a dataset out.
 * interactions.parquet holds one row per positive event (a type with a weight), the weight as its
 * rating and its time in seconds; with a base dataset, the base's rows come first and its items
 * catalogue and tags are kept. exposures.parquet holds one row per shown item, with whether a
 * positive event was attributed to it (events/attribution.ts).
 */
export type EventWeights = Readonly<Record<string, number>>;

/** Click and purchase, weight 1 each. */
export const DEFAULT_EVENT_WEIGHTS: EventWeights = Object.fromEntries(DEFAULT_POSITIVE_TYPES.map((t) => [t, 1]));

export interface EventsImportOptions {
  /** The log directory. */
  readonly input: string;
  readonly out: string;
  readonly weights?: EventWeights;
  /**
   * A dataset whose interactions come first and whose catalogue, tags and copied files are kept:
   * its directory, or what another import read (the pipeline's base import).
   */
  readonly base?: string | DatasetContent;
  /** Skip (and count) bad log lines instead of stopping at the first. */
  readonly skipBad?: boolean;
}

/** Parses `click=1,purchase=3`. */
export function parseEventWeights(text: string): EventWeights {
  const weights: Record<string, number> = {};
  for (const part of text.split(',')) {
    const [type, value, extra] = part.split('=').map((s) => s.trim());
    const weight = Number(value);
    if (!type || value === undefined || value === '' || extra !== undefined)
      throw new InputError(`--weights: ${excerpt(part)} is not TYPE=WEIGHT`);
    if (!EVENT_TYPE.test(type)) throw new InputError(`--weights: event type ${excerpt(type)} is not a lower-case word`);
    if (!Number.isFinite(weight) || weight <= 0)
      throw new InputError(`--weights: ${type}=${excerpt(value)}: the weight must be a positive number`);
    if (weights[type] !== undefined) throw new InputError(`--weights: ${type} is given twice`);
    weights[type] = weight;
  }
  return weights;
}

/** The exposures table: one row per shown item. */
const EXPOSURE_TABLE = [
  { name: 'user_id', type: 'INTEGER' },
  { name: 'item_id', type: 'INTEGER' },
  { name: 'position', type: 'INTEGER' },
  { name: 'time', type: 'DOUBLE' },
  { name: 'propensity', type: 'DOUBLE' },
  { name: 'experiment', type: 'VARCHAR' },
  { name: 'variant', type: 'VARCHAR' },
  { name: 'policy', type: 'VARCHAR' },
  { name: 'request_id', type: 'VARCHAR' },
  { name: 'clicked', type: 'INTEGER' },
] as const;

export async function importEvents(opts: EventsImportOptions): Promise<DatasetMeta> {
  claimOutput(opts.out, DATASET_OUTPUT, { inputs: [opts.input, ...(typeof opts.base === 'string' ? [opts.base] : [])] });
  const weights = opts.weights ?? DEFAULT_EVENT_WEIGHTS;
  const base = await loadBase(opts.base);
  const stats = emptyReadStats();
  const exposures: ExposureRecord[] = [];
  const events: UserEventRecord[] = [];
  for await (const r of readLog(opts.input, { strict: !opts.skipBad, stats })) {
    if (r.kind === 'exposure') exposures.push(r);
    else events.push(r);
  }
  const positives = events.filter((e) => weights[e.type] !== undefined);
  if (positives.length === 0 && base === null) {
    throw new InputError(`${opts.input}: no events of the weighted types (${Object.keys(weights).join(', ')}) in the log`);
  }
  const interactions = appendEvents(base?.content.interactions ?? null, positives, weights);
  warnUnknownItems(positives, base?.content.catalog ?? null);
  const attributed = attributeEvents(exposures, events, { positiveTypes: Object.keys(weights) });
  const rows = attributed.exposures.flatMap(({ exposure, positive }) =>
    exposure.items.map((item, p) => ({ exposure, item, clicked: positive[p] })),
  );
  const skipped = stats.bad + stats.torn;
  const baseSkipped = base?.content.skipped ?? { rows: 0, first: [] };
  const meta = await writeDataset(opts.out, {
    interactions,
    catalog: base?.content.catalog ?? null,
    tags: base?.content.tags ?? null,
    copyFiles: base?.content.copyFiles,
    source: {
      kind: 'import:events',
      params: {
        logs: opts.input,
        weights,
        base: base?.describe ?? null,
        exposures: exposures.length,
        exposure_rows: rows.length,
        events: events.length,
        positive_events: positives.length,
        unattributed_positives: attributed.unattributed,
      },
    },
    skipped: {
      rows: baseSkipped.rows + skipped,
      first: [...baseSkipped.first, ...(skipped > 0 ? [`${stats.bad} bad lines and ${stats.torn} torn last lines of the log`] : [])],
    },
    writeMore: (dir) =>
      writeRowsParquet(join(dir, EXPOSURES_FILE), [...EXPOSURE_TABLE], rows.length, (r, c) => {
        const { exposure, item, clicked } = rows[r];
        const cells = [
          exposure.user_id,
          item.item_id,
          item.position,
          exposure.time,
          item.propensity,
          exposure.experiment,
          exposure.variant,
          exposure.policy,
          exposure.request_id,
          clicked,
        ];
        return cells[c];
      }),
  });
  log.event('data.import', { out: opts.out, format: 'events', counts: meta.counts, exposures: exposures.length, skipped });
  return meta;
}

/** The base dataset's content, and how dataset.json describes it. */
async function loadBase(
  base: string | DatasetContent | undefined,
): Promise<{ content: DatasetContent; describe: Record<string, unknown> } | null> {
  if (base === undefined) return null;
  if (typeof base !== 'string') return { content: base, describe: { source: base.source, interactions: base.interactions.userId.length } };
  const dataset = await loadDataset(base, { catalog: true, tags: true });
  return {
    content: { ...dataset, source: dataset.meta.source },
    describe: { dir: dataset.dir, interactions_sha256: dataset.meta.interactions_sha256, interactions: dataset.meta.counts.interactions },
  };
}

/** The base's rows (if any), then one row per positive event: its weight as rating, its time in seconds. */
function appendEvents(base: Interactions | null, positives: readonly UserEventRecord[], weights: EventWeights): Interactions {
  const n0 = base?.userId.length ?? 0;
  const n = n0 + positives.length;
  const out: Interactions = {
    userId: new Int32Array(n),
    itemId: new Int32Array(n),
    rating: new Float32Array(n),
    timestamp: new Float64Array(n),
  };
  if (base) {
    out.userId.set(base.userId);
    out.itemId.set(base.itemId);
    out.rating.set(base.rating);
    out.timestamp.set(base.timestamp);
  }
  positives.forEach((e, i) => {
    out.userId[n0 + i] = e.user_id;
    out.itemId[n0 + i] = e.item_id;
    out.rating[n0 + i] = weights[e.type];
    out.timestamp[n0 + i] = Math.floor(e.time / 1000);
  });
  return out;
}

/** Events on items the base catalogue does not list are kept, and said. */
function warnUnknownItems(positives: readonly UserEventRecord[], catalog: ItemCatalog | null): void {
  if (catalog === null) return;
  const known = new Set(catalog.itemId);
  const unknown = positives.filter((e) => !known.has(e.item_id)).length;
  if (unknown > 0) log.warn(`${unknown} positive events are on items the base catalogue does not list (kept)`);
}
