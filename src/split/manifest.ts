import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { countDistinct, readInteractionsParquet, writeInteractionsParquet } from '../data/dataset.js';
import { IdMap } from '../data/id-map.js';
import { csrFromCoo } from '../matrix/csr.js';
import { buildTargets } from '../eval/protocol.js';
import { InputError } from '../util/errors.js';
import { writeJsonAtomic } from '../util/fs.js';
import { directoryKind, writeOutputDir } from '../util/output.js';
import { sha256, stableStringify } from '../util/hash.js';
import type { Interactions } from '../data/interactions.js';
import { splitInteractions, type Split, type SplitParams } from './split.js';

/**
 * What a split was and what it holds, recorded beside it (split.json) and in every artifact
 * trained on it. `sha256` identifies the exact assignment of rows to train and test.
 */
export interface SplitManifest {
  readonly strategy: SplitParams['strategy'];
  readonly frac: number | null;
  readonly n: number | null;
  readonly seed: number | null;
  readonly cutoff: number | null;
  readonly cutoff_iso: string | null;
  readonly input: { readonly dataset_dir: string; readonly interactions_sha256: string };
  readonly sha256: string;
  readonly counts: {
    readonly train_rows: number;
    readonly test_rows: number;
    readonly train_users: number;
    readonly test_users: number;
    readonly train_items: number;
    readonly test_items: number;
    /** Test users with no training interactions: never evaluated. */
    readonly cold_users: number;
    /** Distinct test items with no training interactions: relevant but unreachable for id-based models. */
    readonly cold_items: number;
    /** Users with ≥ 1 training interaction and ≥ 1 relevant test item. */
    readonly evaluated_users: number;
  };
}

export const SPLIT_FILE = 'split.json';

/** A split directory as an output (util/output.ts): replaced only when it is one. */
export const SPLIT_OUTPUT = directoryKind('split directory', SPLIT_FILE, ['train.parquet', 'test.parquet']);

export function describeSplit(split: Split, dataset: Pick<Dataset, 'dir' | 'meta'>): SplitManifest {
  const p = split.params;
  const { train, test } = split;
  const trainUsers = IdMap.fromValues(train.userId);
  const trainItems = IdMap.fromValues(train.itemId);
  const seen = csrFromCoo(trainUsers.size, trainItems.size, trainUsers.mapAll(train.userId), trainItems.mapAll(train.itemId), null);
  const testUsers = IdMap.fromValues(test.userId);
  const testItems = IdMap.fromValues(test.itemId);
  let coldUsers = 0;
  for (const u of testUsers.ids) if (trainUsers.indexOf(u) < 0) coldUsers++;
  let coldItems = 0;
  for (const i of testItems.ids) if (trainItems.indexOf(i) < 0) coldItems++;
  const targets = buildTargets(test, trainUsers, trainItems, seen);
  return {
    strategy: p.strategy,
    frac: p.strategy === 'leave-last-n' ? null : p.frac,
    n: p.strategy === 'leave-last-n' ? (p.n ?? null) : null,
    seed: p.strategy === 'random-user' ? (p.seed ?? 42) : null,
    cutoff: split.cutoff,
    cutoff_iso: split.cutoff !== null && Number.isFinite(split.cutoff) ? new Date(split.cutoff * 1000).toISOString() : null,
    input: { dataset_dir: dataset.dir, interactions_sha256: dataset.meta.interactions_sha256 },
    sha256: sha256(new Uint8Array(split.testRows.buffer, split.testRows.byteOffset, split.testRows.byteLength)),
    counts: {
      train_rows: train.userId.length,
      test_rows: test.userId.length,
      train_users: trainUsers.size,
      test_users: testUsers.size,
      train_items: trainItems.size,
      test_items: countDistinct(test.itemId),
      cold_users: coldUsers,
      cold_items: coldItems,
      evaluated_users: targets.users.length,
    },
  };
}

/** A short label of the protocol, used as the key of metrics in manifests. */
export function protocolLabel(p: Pick<SplitManifest, 'strategy' | 'frac' | 'n' | 'seed'>): string {
  if (p.strategy === 'leave-last-n') return `leave-last-n n=${p.n}`;
  if (p.strategy === 'random-user') return `random-user frac=${p.frac} seed=${p.seed}`;
  return `${p.strategy} frac=${p.frac}`;
}

/** Writes train.parquet, test.parquet and split.json atomically. */
export async function writeSplit(dir: string, split: Split, manifest: SplitManifest): Promise<void> {
  await writeOutputDir(dir, SPLIT_OUTPUT, async (tmp) => {
    await writeInteractionsParquet(join(tmp, 'train.parquet'), split.train);
    await writeInteractionsParquet(join(tmp, 'test.parquet'), split.test);
    writeJsonAtomic(join(tmp, SPLIT_FILE), manifest);
  });
}

export function isSplitDir(dir: string): boolean {
  return existsSync(join(dir, SPLIT_FILE));
}

export async function readSplitDir(dir: string): Promise<{ manifest: SplitManifest; train: Interactions; test: Interactions }> {
  const path = join(dir, SPLIT_FILE);
  if (!existsSync(path)) throw new InputError(`${dir}: not a split directory (no ${SPLIT_FILE}); make one with \`recsys split\``);
  let manifest: SplitManifest;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8')) as SplitManifest;
  } catch (err) {
    throw new InputError(`${path}: ${(err as Error).message}`);
  }
  return {
    manifest,
    train: await readInteractionsParquet(join(dir, 'train.parquet')),
    test: await readInteractionsParquet(join(dir, 'test.parquet')),
  };
}

/** The parameters that recompute the split a manifest describes. */
export function splitParamsOf(m: SplitManifest): SplitParams {
  return { strategy: m.strategy, frac: m.frac ?? 0, n: m.n ?? undefined, seed: m.seed ?? undefined };
}

/** An order-independent digest of a table's rows (a sum of per-row hashes): equal for the same rows in any order. */
function rowsDigest(x: Interactions): string {
  let lo = 0;
  let hi = 0;
  const ts = new Uint32Array(new Float64Array(x.timestamp).buffer);
  const rating = new Uint32Array(new Float32Array(x.rating).buffer);
  for (let i = 0; i < x.userId.length; i++) {
    let h = Math.imul(x.userId[i] ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ x.itemId[i] ^ (h >>> 15), 0xc2b2ae35);
    h = Math.imul(h ^ rating[i] ^ (h >>> 13), 0x27d4eb2f);
    h = Math.imul(h ^ ts[2 * i] ^ (h >>> 16), 0x165667b1);
    h = Math.imul(h ^ ts[2 * i + 1] ^ (h >>> 15), 0x85ebca6b);
    lo = (lo + (h >>> 0)) >>> 0;
    hi = (hi + ((h ^ (h >>> 16)) >>> 0) * 3) >>> 0;
  }
  return `${x.userId.length}:${lo}:${hi}`;
}

/**
 * Refuses a split directory (written by `recsys split`) whose split.json, train.parquet or
 * test.parquet differ from the split split.json describes, recomputed from the dataset it
 * was made from: an edited split is never used silently.
 */
export function checkSplitMatches(
  dir: string,
  saved: { manifest: SplitManifest; train: Interactions; test: Interactions },
  dataset: Pick<Dataset, 'dir' | 'meta' | 'interactions'>,
): void {
  const manifestPath = join(dir, SPLIT_FILE);
  let split: Split;
  try {
    split = splitInteractions(dataset.interactions, splitParamsOf(saved.manifest));
  } catch (err) {
    throw new InputError(`${manifestPath}: ${(err as Error).message}`);
  }
  const comparable = (m: SplitManifest): string => stableStringify({ ...m, input: { ...m.input, dataset_dir: null } });
  if (comparable(describeSplit(split, dataset)) !== comparable(saved.manifest)) {
    throw new InputError(
      `${manifestPath}: differs from the split it describes, recomputed from ${dataset.dir} (edited?); make it again with \`recsys split\``,
    );
  }
  for (const [file, got, want] of [
    ['train.parquet', saved.train, split.train],
    ['test.parquet', saved.test, split.test],
  ] as const) {
    if (rowsDigest(got) !== rowsDigest(want)) {
      throw new InputError(
        `${join(dir, file)}: rows differ from the split ${SPLIT_FILE} describes (edited?); make it again with \`recsys split\``,
      );
    }
  }
}
