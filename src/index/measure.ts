import type { Embeddings } from '../matrix/embeddings.js';
import { InputError } from '../util/errors.js';
import { log } from '../util/log.js';
import type { AnnIndex, Metric } from './ann-index.js';
import { buildIndex } from './build.js';
import { faissThreads, setFaissThreads } from './native.js';
import { searchIndex, type NeighborLists } from './search.js';

/** Queries per second, one query per call (as a server answers) and all queries in one call. */
export interface QueryRates {
  readonly singleQps: number;
  readonly batchedQps: number;
}

/** Exact search results and speed on a query sample, the reference an ANN index is held to. */
export interface ExactBaseline {
  readonly metric: Metric;
  readonly truth: NeighborLists;
  readonly rates: QueryRates;
}

export interface IndexMeasurement {
  readonly k: number;
  readonly queries: number;
  /** Metric of the exact search the index is compared with. */
  readonly truthMetric: Metric;
  /** Mean over queries of |index top-k ∩ exact top-k| / |exact top-k|. */
  readonly recall: number;
  readonly index: QueryRates;
  readonly exact: QueryRates;
  /** FAISS (OpenMP) threads of the batched searches; single-query calls run on one. */
  readonly threads: number;
}

export interface TimingOptions {
  /** Queries timed one per call (default 200, at most the sample). */
  readonly singleQueries?: number;
  /** Each timing repeats until it has run at least this long (default 0.3 s). */
  readonly minSeconds?: number;
}

/** Exact (brute-force, FAISS Flat) top-k of `queries` over `items` with `metric`, and its speed. */
export function exactBaseline(
  items: Embeddings,
  queries: Embeddings,
  k: number,
  metric: Metric = 'ip',
  timing: TimingOptions = {},
): ExactBaseline {
  const { index } = buildIndex(items, { factory: 'Flat', metric });
  return { metric, truth: searchIndex(index, queries, k), rates: queryRates(index, queries, k, timing) };
}

/**
 * Recall@k of `index` against exact search over the same items (`exact`: the item vectors,
 * searched with inner product, or a baseline computed before), and the query rates of both.
 */
export function measureIndex(
  index: AnnIndex,
  exact: Embeddings | ExactBaseline,
  queries: Embeddings,
  k: number,
  timing: TimingOptions = {},
): IndexMeasurement {
  const baseline = 'truth' in exact ? exact : exactBaseline(exact, queries, k, 'ip', timing);
  if (baseline.truth.rows !== queries.rows || baseline.truth.k !== k) {
    throw new InputError(
      `the exact baseline is for ${baseline.truth.rows} queries at k=${baseline.truth.k}, not ${queries.rows} at k=${k}`,
    );
  }
  if (!('truth' in exact) && exact.rows !== index.count) {
    throw new InputError(`${index.source} holds ${index.count} vectors but ${exact.rows} item vectors were given`);
  }
  const found = searchIndex(index, queries, k);
  const measurement: IndexMeasurement = {
    k,
    queries: queries.rows,
    truthMetric: baseline.metric,
    recall: recallAtK(found, baseline.truth),
    index: queryRates(index, queries, k, timing),
    exact: baseline.rates,
    threads: faissThreads(),
  };
  log.event('index.measure', { source: index.source, settings: index.settings(), ...measurement });
  return measurement;
}

/** Mean over rows of the share of `truth`'s labels (ignoring -1 padding) that `found` returned. */
export function recallAtK(found: NeighborLists, truth: NeighborLists): number {
  if (found.rows !== truth.rows || found.k !== truth.k) throw new Error('recallAtK: result shapes differ');
  const { rows, k } = truth;
  let sum = 0;
  let counted = 0;
  for (let q = 0; q < rows; q++) {
    let relevant = 0;
    let hits = 0;
    for (let j = 0; j < k; j++) {
      const label = truth.labels[q * k + j];
      if (label < 0) continue;
      relevant++;
      for (let i = 0; i < k; i++) {
        if (found.labels[q * k + i] === label) {
          hits++;
          break;
        }
      }
    }
    if (relevant > 0) {
      sum += hits / relevant;
      counted++;
    }
  }
  return counted > 0 ? sum / counted : 0;
}

/**
 * Times searches of the query sample: all at once with FAISS's threads, and one query per
 * call on one thread, as each worker of a server answers them. A first call warms caches.
 */
export function queryRates(index: AnnIndex, queries: Embeddings, k: number, timing: TimingOptions = {}): QueryRates {
  const minMs = (timing.minSeconds ?? 0.3) * 1000;
  const single = Math.min(timing.singleQueries ?? 200, queries.rows);
  const { native } = index;
  const { dim, data } = queries;
  native.searchTyped(data.subarray(0, dim), k);

  let done = 0;
  let start = performance.now();
  let batchedMs = 0;
  do {
    native.searchTyped(data, k);
    done += queries.rows;
    batchedMs = performance.now() - start;
  } while (batchedMs < minMs);
  const batchedQps = (done * 1000) / batchedMs;

  const threads = faissThreads();
  let singleMs = 0;
  setFaissThreads(1);
  try {
    done = 0;
    start = performance.now();
    do {
      for (let q = 0; q < single; q++) native.searchTyped(data.subarray(q * dim, (q + 1) * dim), k);
      done += single;
      singleMs = performance.now() - start;
    } while (singleMs < minMs);
  } finally {
    setFaissThreads(threads);
  }
  const singleQps = (done * 1000) / singleMs;
  return { singleQps, batchedQps };
}
