import { rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { NumericParquetWriter } from '../data/parquet.js';
import { seenMatrix } from '../eval/evaluate.js';
import { writeRecsSidecar } from '../serve/recs-file.js';
import { InputError } from '../util/errors.js';
import { makeDirs, tempPathFor } from '../util/fs.js';
import { claimOutput, commitOutputFile, readBytes, type OutputKind } from '../util/output.js';
import { log } from '../util/log.js';
import { Progress } from '../util/progress.js';
import { checkTrainedOn, prepareExperiment, trainedOn } from './experiment.js';
import { canFoldIn, type Recommender, recommendSourced, type SourcedTopK } from '../models/model.js';
import { parsePolicy } from '../explore/parse.js';
import type { PlacedItem, Policy, RankedItem } from '../explore/policy.js';
import { buildItemPools, POOL_NAMES } from '../explore/pools.js';
import type { Csr } from '../matrix/csr.js';
import { Rng } from '../util/rng.js';
import { loadModelArtifact } from './index-model.js';

export interface BatchRecommendRequest {
  /** A model artifact, e.g. artifacts/ranker-temporal-user/latest. */
  readonly model: string;
  readonly k: number;
  /** The Parquet file to write (replaced only when complete). */
  readonly out: string;
  /** Users per batch; memory grows with it (the ranker holds batch × candidates rows). */
  readonly batchSize?: number;
  /**
   * Records the export's version and sha256 in `<out>.manifest.json`, for `recsys publish`
   * (inside an artifact version its manifest does that).
   */
  readonly sidecar?: boolean;
  /**
   * A placement policy (docs/exploration.md), e.g. `epsilon-greedy:0.1:candidates`: the file then
   * holds the placed lists with a `propensity` column. Absent: the model's top-k as it is.
   */
  readonly policy?: string;
  /** Seeds the policy's draws (users in the model's order share one stream). Default 42. */
  readonly seed?: number;
}

export interface BatchRecommendReport {
  readonly out: string;
  readonly users: number;
  readonly rows: number;
  readonly seconds: number;
}

const RECS_COLUMNS = ['user_id', 'item_id', 'rank', 'score', 'channel'];
const PARQUET_MAGIC = 'PAR1';

/**
 * The `--all-users` Parquet file as an output (util/output.ts): replaced only when it is
 * Parquet (magic bytes at both ends) whose footer names the columns written here.
 */
export const RECS_OUTPUT: OutputKind = {
  what: 'recommendations Parquet file',
  type: 'file',
  notOurs(path) {
    const size = statSync(path).size;
    const tail = readBytes(path, Math.max(0, size - 8), 8);
    if (size < 12 || readBytes(path, 0, 4).toString('latin1') !== PARQUET_MAGIC || tail.subarray(4).toString('latin1') !== PARQUET_MAGIC)
      return 'it is not a Parquet file';
    // The footer's schema, with the column names, comes first in it.
    const footerLength = tail.readUInt32LE(0);
    const footer = readBytes(path, Math.max(0, size - 8 - footerLength), Math.min(footerLength, 4096)).toString('latin1');
    const missing = RECS_COLUMNS.find((c) => !footer.includes(c));
    return missing === undefined ? null : `it has no column ${missing}`;
  },
};

/**
 * `recsys recommend --all-users`: the final top-k of every training user of a model, with
 * seen items filtered, written to Parquet as (user_id, item_id, rank, score, channel) for a
 * serving cache. Batches of users stream into the writer as typed arrays, so 162k users × 100
 * items never exist as JS objects. `channel` is the ranker channel that produced the item, or
 * the model's kind for single-source models.
 */
export async function recommendAllUsers(req: BatchRecommendRequest): Promise<BatchRecommendReport> {
  claimOutput(req.out, RECS_OUTPUT);
  const { dir, manifest, model } = await loadModelArtifact(req.model);
  const trained = trainedOn(dir, manifest);
  const exp = await prepareExperiment(trained.dataset.dir, trained.params);
  // Seen items are filtered with this split's training side: it must be the model's own.
  checkTrainedOn(dir, exp, trained);
  const seen = seenMatrix(model, exp.train);
  const policy =
    req.policy === undefined ? null : parsePolicy(req.policy, buildItemPools({ train: exp.train, catalog: exp.dataset.catalog }));
  const placement = policy ? { policy, rng: new Rng(req.seed ?? 42), seen } : null;
  const started = performance.now();
  const nUsers = model.users.size;
  const batch = req.batchSize ?? 2048;
  const k = req.k;
  let labels: readonly string[] | null = null;
  makeDirs(dirname(req.out));
  const tmp = tempPathFor(req.out);
  const progress = new Progress('recommend', nUsers, 'users');
  let writer: NumericParquetWriter | null = null;
  try {
    for (let start = 0; start < nUsers; start += batch) {
      const users = Int32Array.from({ length: Math.min(batch, nUsers - start) }, (_, i) => start + i);
      const result = recommendSourced(model, users, placement ? placement.policy.depth(k) : k, seen);
      labels ??= placement ? [...result.sources, ...POOL_NAMES.map((pool) => `explore:${pool}`)] : result.sources;
      if (placement) {
        const cols = placedColumns(model, users, k, result, labels, placement);
        writer ??= await NumericParquetWriter.open([
          ...recsColumns(cols, labels),
          { name: 'propensity', type: 'DOUBLE', data: cols.propensity },
        ]);
        writer.append([cols.user, cols.item, cols.rank, cols.score, cols.channel, cols.propensity]);
        progress.tick(users.length);
        continue;
      }
      const { top, source } = result;
      let n = 0;
      for (let j = 0; j < top.items.length; j++) if (top.items[j] >= 0) n++;
      const cols = allocRecsColumns(n);
      let r = 0;
      for (let b = 0; b < users.length; b++) {
        for (let j = 0; j < k; j++) {
          const item = top.items[b * k + j];
          if (item < 0) break;
          cols.user[r] = model.users.rawId(users[b]);
          cols.item[r] = model.items.rawId(item);
          cols.rank[r] = j + 1;
          cols.score[r] = top.scores[b * k + j];
          cols.channel[r] = source[b * k + j];
          r++;
        }
      }
      writer ??= await NumericParquetWriter.open(recsColumns(cols, labels));
      writer.append([cols.user, cols.item, cols.rank, cols.score, cols.channel]);
      progress.tick(users.length);
    }
    if (!writer) throw new InputError(`${dir}: the model has no users`);
    await writer.finish(tmp);
    commitOutputFile(tmp, req.out, RECS_OUTPUT);
    if (req.sidecar)
      await writeRecsSidecar(req.out, {
        model: { name: manifest.name, version: manifest.version },
        k,
        users: nUsers,
        rows: writer.rowCount,
      });
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  } finally {
    writer?.close();
  }
  const seconds = (performance.now() - started) / 1000;
  progress.finish({ users: nUsers });
  const report = { out: req.out, users: nUsers, rows: writer.rowCount, seconds };
  log.event('recommend.all_users', { model: dir, ...report });
  return report;
}

interface RecsColumns {
  readonly user: Int32Array;
  readonly item: Int32Array;
  readonly rank: Int32Array;
  readonly score: Float32Array;
  readonly channel: Uint8Array;
}

function allocRecsColumns(n: number): RecsColumns {
  return {
    user: new Int32Array(n),
    item: new Int32Array(n),
    rank: new Int32Array(n),
    score: new Float32Array(n),
    channel: new Uint8Array(n),
  };
}

function recsColumns(cols: RecsColumns, labels: readonly string[]) {
  return [
    { name: 'user_id', type: 'INTEGER', data: cols.user },
    { name: 'item_id', type: 'INTEGER', data: cols.item },
    { name: 'rank', type: 'INTEGER', data: cols.rank },
    { name: 'score', type: 'FLOAT', data: cols.score },
    { name: 'channel', type: 'INTEGER', data: cols.channel, labels },
  ] as const;
}

/**
 * A batch's rows through a placement policy: each user's ranked list (depth(k) items, seen items
 * filtered) placed by the policy, with the user's seen items excluded from its pools.
 */
function placedColumns(
  model: Recommender,
  users: Int32Array,
  k: number,
  result: SourcedTopK,
  labels: readonly string[],
  placement: { policy: Policy; rng: Rng; seen: Csr },
): RecsColumns & { propensity: Float64Array } {
  const depth = placement.policy.depth(k);
  const random = (): number => placement.rng.next();
  const rows: Array<{ user: number; placed: PlacedItem[] }> = [];
  for (let b = 0; b < users.length; b++) {
    const ranked: RankedItem[] = [];
    for (let j = 0; j < depth && result.top.items[b * depth + j] >= 0; j++)
      ranked.push({
        item_id: model.items.rawId(result.top.items[b * depth + j]),
        score: result.top.scores[b * depth + j],
        channel: result.sources[result.source[b * depth + j]],
      });
    const { indptr, indices } = placement.seen;
    const seen = new Set(indices.subarray(indptr[users[b]], indptr[users[b] + 1]));
    const exclude = (id: number): boolean => seen.has(model.items.indexOf(id));
    const userId = model.users.rawId(users[b]);
    rows.push({ user: userId, placed: placement.policy.place(ranked, { k, userId, random, exclude }) });
  }
  const n = rows.reduce((s, r) => s + r.placed.length, 0);
  const cols = { ...allocRecsColumns(n), propensity: new Float64Array(n) };
  let r = 0;
  for (const { user, placed } of rows)
    for (const [j, item] of placed.entries()) {
      cols.user[r] = user;
      cols.item[r] = item.item_id;
      cols.rank[r] = j + 1;
      cols.score[r] = item.score;
      cols.channel[r] = labels.indexOf(item.channel);
      cols.propensity[r] = item.propensity;
      r++;
    }
  return cols;
}

export interface HistoryRecommendation {
  readonly item_id: number;
  readonly rank: number;
  readonly score: number;
}

/**
 * `recsys recommend --history`: recommendations for a user not in training, from a list of raw
 * item ids (ALS folds the user in by the exact least-squares solve). Unknown items are ignored
 * with a warning.
 */
export async function recommendForHistory(modelPath: string, history: number[], k: number): Promise<HistoryRecommendation[]> {
  const { dir, model } = await loadModelArtifact(modelPath);
  if (!canFoldIn(model)) throw new InputError(`${dir}: a ${model.kind} model cannot recommend from a history`);
  const { known: items, unknown } = model.items.split(history);
  if (unknown.length > 0) log.warn(`ignoring items the model does not know: ${unknown.join(', ')}`);
  if (items.length === 0) throw new InputError(`--history: none of the items ${history.join(',')} is known to the model`);
  const top = model.recommendFromHistory(items, null, k);
  const out: HistoryRecommendation[] = [];
  for (let j = 0; j < k; j++) {
    if (top.items[j] < 0) break;
    out.push({ item_id: model.items.rawId(top.items[j]), rank: j + 1, score: top.scores[j] });
  }
  return out;
}
