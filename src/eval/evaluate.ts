import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Interactions, ItemCatalog } from '../data/interactions.js';
import { countDistinct } from '../data/dataset.js';
import { csrFromCoo, type Csr } from '../matrix/csr.js';
import type { TopK } from '../matrix/topk.js';
import type { Recommender } from '../models/model.js';
import { makeDirs, tempPathFor } from '../util/fs.js';
import { commitOutputFile, readBytes, type OutputKind } from '../util/output.js';
import { InputError } from '../util/errors.js';
import { log } from '../util/log.js';
import { Progress } from '../util/progress.js';
import { itemStats, listBeyondAccuracy } from './beyond-accuracy.js';
import { listAccuracy } from './metrics.js';
import { buildTargets, type EvalTargets } from './protocol.js';

export interface EvalOptions {
  /** Cut-offs, e.g. [10, 20, 50]. */
  readonly ks: number[];
  /** Item metadata for the diversity metric. */
  readonly catalog?: ItemCatalog | null;
  /** Writes `user_id,item_id,rank` (raw ids, rank from 1) of every evaluated user's top-max(K). */
  readonly dumpRecs?: string;
  readonly batchSize?: number;
  /** Where the lists come from instead of `model.recommend` (e.g. an ANN index over the model's vectors). */
  readonly recommend?: (users: Int32Array, k: number, seen: Csr) => TopK;
}

/** Metric name → value, e.g. `ndcg@10`; plus `users` (evaluated users) and `items` (candidates). */
export type Metrics = Record<string, number>;

/**
 * The largest cut-off evaluated (docs/metrics.md): top-k lists of every test user are held in
 * memory, and a list longer than this is no longer a recommendation list.
 */
export const MAX_CUTOFF = 1000;

export const ACCURACY_METRICS = ['ndcg', 'recall', 'precision', 'map', 'mrr', 'hit_rate'] as const;
export const LIST_METRICS = ['coverage', 'diversity', 'novelty', 'arp', 'aplt'] as const;

/** The training matrix in the model's dense user × item space. */
export function seenMatrix(model: Recommender, train: Interactions): Csr {
  return csrFromCoo(model.users.size, model.items.size, model.users.mapAll(train.userId), model.items.mapAll(train.itemId), null);
}

/**
 * Evaluates a fitted model on a split with the protocol of docs/metrics.md: full-catalogue
 * ranking of training items, seen items filtered, batched over users.
 */
export function evaluateModel(model: Recommender, train: Interactions, test: Interactions, opts: EvalOptions): Metrics {
  const seen = seenMatrix(model, train);
  const targets = buildTargets(test, model.users, model.items, seen);
  const source = opts.recommend ?? ((users: Int32Array, k: number, exclude: Csr) => model.recommend(users, k, exclude));
  return evaluateTargets((users, k) => source(users, k, seen), model, targets, seen, countDistinct(train.itemId), opts);
}

/**
 * The metric loop, given any source of top-k lists (a model, an ANN index, a ranker): the
 * protocol and the formulas are the same whatever produced the lists.
 */
export function evaluateTargets(
  recommend: (users: Int32Array, k: number) => TopK,
  model: Pick<Recommender, 'users' | 'items'>,
  targets: EvalTargets,
  seen: Csr,
  trainItemCount: number,
  opts: EvalOptions,
): Metrics {
  const ks = [...new Set(opts.ks)].sort((a, b) => a - b);
  const maxK = ks[ks.length - 1];
  if (ks.length === 0 || ks[0] < 1 || maxK > MAX_CUTOFF) throw new InputError(`evaluate: cut-offs must be from 1 to ${MAX_CUTOFF}`);
  const stats = itemStats(seen, model.items, opts.catalog ?? null);
  const sums = new Map<string, number>();
  const add = (name: string, v: number): void => {
    sums.set(name, (sums.get(name) ?? 0) + v);
  };
  const covered = ks.map(() => new Uint8Array(model.items.size));
  const nUsers = targets.users.length;
  const batch = opts.batchSize ?? 1024;
  const progress = new Progress('evaluate', nUsers, 'users');
  const dump = opts.dumpRecs ? new RecsDump(opts.dumpRecs) : null;
  const hits = new Uint8Array(maxK);
  try {
    for (let start = 0; start < nUsers; start += batch) {
      const users = targets.users.subarray(start, Math.min(nUsers, start + batch));
      const top = recommend(users, maxK);
      for (let b = 0; b < users.length; b++) {
        const t = start + b;
        const relStart = targets.relevant.indptr[t];
        const relEnd = targets.relevant.indptr[t + 1];
        hits.fill(0);
        for (let j = 0; j < maxK; j++) {
          const item = top.items[b * maxK + j];
          if (item < 0) break;
          for (let p = relStart; p < relEnd; p++) {
            if (targets.relevant.indices[p] === item) {
              hits[j] = 1;
              break;
            }
          }
        }
        ks.forEach((k, ki) => {
          const acc = listAccuracy(hits, k, targets.relevantCount[t]);
          add(`ndcg@${k}`, acc.ndcg);
          add(`recall@${k}`, acc.recall);
          add(`precision@${k}`, acc.precision);
          add(`map@${k}`, acc.ap);
          add(`mrr@${k}`, acc.rr);
          add(`hit_rate@${k}`, acc.hit);
          const beyond = listBeyondAccuracy(stats, top.items, b * maxK, k);
          if (beyond.diversity !== null) add(`diversity@${k}`, beyond.diversity);
          add(`novelty@${k}`, beyond.novelty);
          add(`arp@${k}`, beyond.arp);
          add(`aplt@${k}`, beyond.aplt);
          for (let j = 0; j < k; j++) {
            const item = top.items[b * maxK + j];
            if (item >= 0) covered[ki][item] = 1;
          }
        });
        dump?.write(model.users.rawId(users[b]), top, b, (i) => model.items.rawId(i));
      }
      progress.tick(users.length);
    }
    dump?.commit();
  } catch (err) {
    dump?.abort();
    throw err;
  }
  progress.finish({ users: nUsers });
  const metrics: Metrics = {};
  for (const k of ks) {
    for (const m of ACCURACY_METRICS) metrics[`${m}@${k}`] = nUsers > 0 ? (sums.get(`${m}@${k}`) ?? 0) / nUsers : 0;
  }
  ks.forEach((k, ki) => {
    metrics[`coverage@${k}`] = trainItemCount > 0 ? covered[ki].reduce((a, b) => a + b, 0) / trainItemCount : 0;
    for (const m of LIST_METRICS.slice(1)) {
      // Diversity needs genres: without a catalogue it is absent, not 0.
      if (m === 'diversity' && !stats.genreStart) continue;
      metrics[`${m}@${k}`] = nUsers > 0 ? (sums.get(`${m}@${k}`) ?? 0) / nUsers : 0;
    }
  });
  metrics.users = nUsers;
  metrics.items = trainItemCount;
  log.event('eval.done', { metrics });
  return metrics;
}

const DUMP_HEADER = 'user_id,item_id,rank\n';

/** The `--dump-recs` CSV as an output (util/output.ts): replaced only when it starts with its header. */
export const RECS_DUMP_OUTPUT: OutputKind = {
  what: 'recommendations CSV',
  type: 'file',
  notOurs: (path) =>
    readBytes(path, 0, DUMP_HEADER.length).toString('utf8') === DUMP_HEADER ? null : `its first line is not ${DUMP_HEADER.trim()}`,
};

/** Streams recommendations to CSV under a temporary name; renamed into place on commit. */
class RecsDump {
  private readonly tmp: string;
  private readonly fd: number;
  private buffer: string[] = [];
  private closed = false;

  constructor(private readonly path: string) {
    this.tmp = tempPathFor(path);
    makeDirs(dirname(path));
    this.fd = openSync(this.tmp, 'w');
    this.buffer.push(DUMP_HEADER);
  }

  write(rawUser: number, top: TopK, row: number, rawItem: (i: number) => number): void {
    for (let j = 0; j < top.k; j++) {
      const item = top.items[row * top.k + j];
      if (item < 0) break;
      this.buffer.push(`${rawUser},${rawItem(item)},${j + 1}\n`);
    }
    if (this.buffer.length > 65536) this.flush();
  }

  private flush(): void {
    writeSync(this.fd, this.buffer.join(''));
    this.buffer = [];
  }

  commit(): void {
    this.flush();
    this.close();
    commitOutputFile(this.tmp, this.path, RECS_DUMP_OUTPUT);
  }

  /** Removes the temporary file; after a failed commit too, without hiding its error. */
  abort(): void {
    this.close();
    rmSync(this.tmp, { force: true });
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}
