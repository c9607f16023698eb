import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { RecsysError } from '../../util/errors.js';
import { ForestModel, SCORE_ROWS_SOURCE, type Forest } from './forest.js';
import type { FeatureMatrix, GbdtModel } from './engine.js';

/**
 * Scores large batches on several threads: this thread plus `threads - 1` worker_threads,
 * each holding a copy of the forest and scoring a contiguous share of the rows (copied to it
 * in shared memory, already rounded to float32 for XGBoost). Every row is scored by the same
 * code as `GbdtModel.predict`, so the results are identical to it. A worker writes its scores
 * into shared memory and raises a flag; this thread waits on the flag with Atomics, either
 * blocking (`predictSync`, for the ranker's synchronous funnel) or not (`predict`).
 */

/** A worker's share of one batch; `status` is 0 while it runs, then DONE or FAILED. */
interface WorkerJob {
  readonly x: FeatureMatrix;
  readonly out: Float64Array;
  readonly status: Int32Array;
  readonly nRows: number;
  readonly stride: number;
}

/** Atomics.waitAsync (Node ≥ 16), missing from the TypeScript library this project compiles against. */
interface WaitsAsync {
  waitAsync(array: Int32Array, index: number, value: number): { async: boolean; value: Promise<string> | string };
}

const DONE = 1;
const FAILED = 2;
/** Bytes of a failed worker's error text. */
const ERROR_BYTES = 2048;

const WORKER_SOURCE = `${SCORE_ROWS_SOURCE}
const { parentPort, workerData } = require('node:worker_threads');
const { forest, errorText } = workerData;
parentPort.on('message', ({ x, out, status, nRows, stride }) => {
  let result = ${DONE};
  try {
    scoreRows(forest, x, stride, nRows, out, 0);
  } catch (err) {
    errorText.fill(0);
    new TextEncoder().encodeInto(String((err && err.stack) || err), errorText);
    result = ${FAILED};
  }
  Atomics.store(status, 0, result);
  Atomics.notify(status, 0);
});
`;

/** Shared memory for a worker's share of a batch: its rows, its scores and its status flag. */
interface ShareSpace {
  readonly x: FeatureMatrix;
  readonly out: Float64Array;
  readonly status: Int32Array;
}

/** Float32 rows when `float32` (XGBoost compares float32 features, and the rows arrive rounded), else float64. */
function shareSpace(float32: boolean, values: number, rows: number): ShareSpace {
  return {
    x: float32 ? new Float32Array(new SharedArrayBuffer(values * 4)) : new Float64Array(new SharedArrayBuffer(values * 8)),
    out: new Float64Array(new SharedArrayBuffer(rows * 8)),
    status: new Int32Array(new SharedArrayBuffer(4)),
  };
}

/** Whether a batch of `nRows` is worth sharing among `threads` threads: small ones are not worth the copies. */
function worthSharing(nRows: number, threads: number): boolean {
  return threads > 1 && nRows >= 1024 * threads;
}

export class GbdtScoringPool {
  private readonly workers: Worker[] = [];
  private readonly errorTexts: Uint8Array[] = [];
  /**
   * Per worker, the space of blocking calls, kept from batch to batch (a blocking call cannot
   * overlap another): shared memory is freed only by a later garbage collection, and fresh
   * memory per batch raised the all-user export's peak from 650 to 930 MB on the 2M set.
   */
  private readonly spaces: Array<ShareSpace | null> = [];

  private constructor(
    private readonly model: ForestModel,
    readonly threads: number,
  ) {
    for (let t = 1; t < threads; t++) {
      const errorText = new Uint8Array(new SharedArrayBuffer(ERROR_BYTES));
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { forest: model.forest, errorText } });
      worker.unref();
      this.workers.push(worker);
      this.errorTexts.push(errorText);
      this.spaces.push(null);
    }
  }

  /** `threads` defaults to the machine's available parallelism. */
  static open(model: GbdtModel, threads = availableParallelism()): GbdtScoringPool {
    if (!(model instanceof ForestModel)) throw new RecsysError('GbdtScoringPool: the model was not made by parseGbdtModel/loadGbdtModel');
    if (!Number.isInteger(threads) || threads < 1) throw new RecsysError(`GbdtScoringPool: threads must be ≥ 1, got ${threads}`);
    return new GbdtScoringPool(model, threads);
  }

  /** Worker w's kept space, grown to hold `values` feature values and `rows` scores. */
  private keptSpace(w: number, float32: boolean, values: number, rows: number): ShareSpace {
    let space = this.spaces[w];
    if (!space || space.x instanceof Float32Array !== float32 || space.x.length < values || space.out.length < rows) {
      space = shareSpace(float32, values, rows);
      this.spaces[w] = space;
    }
    Atomics.store(space.status, 0, 0);
    return { x: space.x.subarray(0, values), out: space.out.subarray(0, rows), status: space.status };
  }

  /**
   * Hands rows after this thread's share to the workers, in the kept spaces when `keep` (a
   * blocking call) and in new ones otherwise; returns this thread's share and the workers' jobs.
   */
  private start(features: FeatureMatrix, nRows: number, nFeatures: number, keep: boolean): { share: number; jobs: WorkerJob[] } {
    this.model.checkShape(features, nRows, nFeatures);
    const forest: Forest = this.model.forest;
    const share = Math.ceil(nRows / this.threads);
    const jobs = this.workers.map((worker, w) => {
      const from = Math.min(nRows, (w + 1) * share);
      const to = Math.min(nRows, from + share);
      const rows = features.subarray(from * nFeatures, to * nFeatures);
      const float32 = forest.float32 || rows instanceof Float32Array;
      const space = keep ? this.keptSpace(w, float32, rows.length, to - from) : shareSpace(float32, rows.length, to - from);
      space.x.set(rows);
      const job: WorkerJob = { ...space, nRows: to - from, stride: nFeatures };
      worker.postMessage(job);
      return job;
    });
    return { share, jobs };
  }

  /** This thread's share followed by the workers' finished shares. */
  private collect(own: Float64Array, share: number, nRows: number, jobs: readonly WorkerJob[]): Float64Array {
    const { divisor } = this.model.forest;
    const out = new Float64Array(nRows);
    out.set(own);
    jobs.forEach((job, w) => {
      if (job.status[0] === FAILED) {
        const text = new TextDecoder().decode(this.errorTexts[w]).replace(/\0+$/, '');
        throw new RecsysError(`GBDT scoring worker failed: ${text}`);
      }
      const from = (w + 1) * share;
      for (let i = 0; i < job.nRows; i++) out[from + i] = job.out[i] / divisor;
    });
    return out;
  }

  /** Same result as `model.predict`, computed on all threads; blocks this thread until done. */
  predictSync(features: FeatureMatrix, nRows: number, nFeatures: number): Float64Array {
    if (this.workers.length === 0 || !worthSharing(nRows, this.threads)) return this.model.predict(features, nRows, nFeatures);
    const { share, jobs } = this.start(features, nRows, nFeatures, true);
    const own = this.model.predict(features.subarray(0, Math.min(nRows, share) * nFeatures), Math.min(nRows, share), nFeatures);
    for (const job of jobs) Atomics.wait(job.status, 0, 0);
    return this.collect(own, share, nRows, jobs);
  }

  /** Same result as `model.predict`, computed on all threads. */
  async predict(features: FeatureMatrix, nRows: number, nFeatures: number): Promise<Float64Array> {
    if (this.workers.length === 0 || !worthSharing(nRows, this.threads)) return this.model.predict(features, nRows, nFeatures);
    // A running job keeps the process alive; idle workers must not.
    for (const worker of this.workers) worker.ref();
    try {
      const { share, jobs } = this.start(features, nRows, nFeatures, false);
      const own = this.model.predict(features.subarray(0, Math.min(nRows, share) * nFeatures), Math.min(nRows, share), nFeatures);
      for (const job of jobs) {
        const wait = (Atomics as unknown as WaitsAsync).waitAsync(job.status, 0, 0);
        if (wait.async) await wait.value;
      }
      return this.collect(own, share, nRows, jobs);
    } finally {
      for (const worker of this.workers) worker.unref();
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}

/**
 * A GbdtModel that scores large batches on all threads through a GbdtScoringPool it opens on
 * the first such batch (small batches, e.g. one served request, never start one); the same
 * scores as `model.predict`. `close` ends its workers.
 */
export class ThreadedGbdtModel implements GbdtModel {
  private pool: GbdtScoringPool | null = null;

  constructor(
    readonly model: GbdtModel,
    private readonly threads = availableParallelism(),
  ) {}

  get engine() {
    return this.model.engine;
  }

  get objective() {
    return this.model.objective;
  }

  get nFeatures() {
    return this.model.nFeatures;
  }

  get nTrees() {
    return this.model.nTrees;
  }

  get text() {
    return this.model.text;
  }

  predict(features: FeatureMatrix, nRows: number, nFeatures: number): Float64Array {
    if (!(this.model instanceof ForestModel) || !worthSharing(nRows, this.threads)) return this.model.predict(features, nRows, nFeatures);
    this.pool ??= GbdtScoringPool.open(this.model, this.threads);
    return this.pool.predictSync(features, nRows, nFeatures);
  }

  save(path: string): void {
    this.model.save(path);
  }

  async close(): Promise<void> {
    await this.pool?.close();
    this.pool = null;
  }
}
