import type { Embeddings } from '../matrix/embeddings.js';
import { excerpt, InputError } from '../util/errors.js';
import { log } from '../util/log.js';
import { Progress } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import type { NativeIndex } from './native.js';
import { AnnIndex, checkPositiveInt, faissMetricType, type Metric, type SearchParams } from './ann-index.js';
import { checkFactoryFits, parseFactory } from './factory.js';
import { faiss, type IndexSettings } from './native.js';
import { checkEmbeddings, sampleRows } from './vectors.js';

export interface BuildOptions extends SearchParams {
  /** FAISS factory string: "Flat", "IVF1024,Flat", "HNSW32", "IVF256,PQ16", ... */
  readonly factory: string;
  /** Default ip: factor models score by inner product. */
  readonly metric?: Metric;
  /** Seed of the training sample. */
  readonly seed?: number;
  /** Vectors to train on (a seeded sample when fewer than the rows); see `defaultTrainRows`. */
  readonly trainRows?: number;
  /** Rows per add call, so progress shows and each call stays short. */
  readonly chunkRows?: number;
}

export const DEFAULT_INDEX_SEED = 42;
const DEFAULT_CHUNK_ROWS = 65_536;

/** Where the build time went, and what was built. */
export interface BuildStats {
  readonly factory: string;
  readonly metric: Metric;
  readonly rows: number;
  readonly dim: number;
  readonly seed: number;
  /** Vectors the index was trained on; 0 when its type needs no training (Flat, HNSW). */
  readonly trainRows: number;
  readonly seconds: {
    /** Preparing vectors for FAISS (the training sample); typed arrays are passed in place. */
    readonly convert: number;
    readonly train: number;
    readonly add: number;
    readonly total: number;
  };
  readonly settings: IndexSettings;
}

/**
 * FAISS's k-means keeps at most 256 points per centroid and PQ codebooks have 256 centroids
 * per sub-quantizer, so more training vectors than this only cost time.
 */
export function defaultTrainRows(nlist: number | undefined): number {
  return Math.max(256 * 256, 256 * (nlist ?? 0));
}

/**
 * Builds a FAISS index over item vectors (row i gets label i): creates it from the factory
 * string, trains it on a seeded sample when its type needs training, adds the rows in chunks
 * and applies nprobe / efSearch.
 */
export function buildIndex(items: Embeddings, opts: BuildOptions): { index: AnnIndex; stats: BuildStats } {
  const metric = opts.metric ?? 'ip';
  const seed = opts.seed ?? DEFAULT_INDEX_SEED;
  const chunkRows = opts.chunkRows ?? DEFAULT_CHUNK_ROWS;
  checkPositiveInt('chunkRows', chunkRows);
  checkEmbeddings(items, 'item embeddings');
  const { rows, dim } = items;
  const start = performance.now();

  checkFactoryFits(parseFactory(opts.factory), dim, rows);
  warnPolysemous(opts.factory);
  let native: NativeIndex;
  try {
    native = faiss().Index.fromFactory(dim, opts.factory, faissMetricType(metric));
  } catch (err) {
    throw new InputError(`invalid FAISS factory string ${excerpt(opts.factory)}: ${(err as Error).message}`);
  }
  const index = new AnnIndex(native, opts.factory);
  // Before the long part, so a setting the index type lacks fails at once.
  index.setSearchParams(opts);

  let trainRows = 0;
  let convertSeconds = 0;
  let trainSeconds = 0;
  if (!native.isTrained()) {
    const { nlist } = index.settings();
    trainRows = Math.min(rows, opts.trainRows ?? defaultTrainRows(nlist));
    checkPositiveInt('trainRows', trainRows);
    if (nlist !== undefined && trainRows < nlist) {
      throw new InputError(`${opts.factory} has ${nlist} lists but only ${trainRows} vectors to train them on: use fewer lists`);
    }
    const t0 = performance.now();
    const sample = sampleRows(items, trainRows, new Rng(seed));
    const t1 = performance.now();
    log.info(`index: training ${opts.factory} on ${trainRows} vectors of dimension ${dim}`);
    try {
      native.train(sample.data);
    } catch (err) {
      throw new InputError(`training ${opts.factory} on ${trainRows} vectors failed: ${(err as Error).message}`);
    }
    convertSeconds = (t1 - t0) / 1000;
    trainSeconds = (performance.now() - t1) / 1000;
  }

  const t2 = performance.now();
  const progress = new Progress(`index add (${opts.factory})`, rows, 'vectors');
  for (let r = 0; r < rows; r += chunkRows) {
    const end = Math.min(rows, r + chunkRows);
    native.add(items.data.subarray(r * dim, end * dim));
    progress.tick(end - r);
  }
  progress.finish();
  const addSeconds = (performance.now() - t2) / 1000;

  const stats: BuildStats = {
    factory: opts.factory,
    metric,
    rows,
    dim,
    seed,
    trainRows,
    seconds: { convert: convertSeconds, train: trainSeconds, add: addSeconds, total: (performance.now() - start) / 1000 },
    settings: index.settings(),
  };
  log.event('index.build', { ...stats });
  return { index, stats };
}

/**
 * FAISS's factory turns on polysemous training for an 8-bit "PQm" component unless it is
 * written "PQmnp": an annealing step of over a minute per build here, while search results
 * stay the same unless polysemous Hamming filtering is switched on (this pipeline never does).
 */
function warnPolysemous(factory: string): void {
  const pq = factory.split(',').find((part) => /^PQ\d+$/.test(part.trim()));
  if (pq !== undefined) {
    log.warn(
      `${factory}: FAISS trains polysemous codes for ${pq.trim()} (slow, and unused by plain search); write ${pq.trim()}np to skip that`,
    );
  }
}
