import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { RecsysError } from '../../util/errors.js';
import { ForestModel, SCORE_ROWS_SOURCE, type Forest } from './forest.js';
import type { FeatureMatrix, GbdtModel } from './engine.js';

/**
 * Scores large batches on several threads: this thread plus `threads - 1` worker_threads,
 * each holding a copy of the forest and scoring a contiguous share of the rows (copied to it,
 * already rounded to float32 for XGBoost). Every row is scored by the same code as
 * `GbdtModel.predict`, so the results are identical to it.
 */

interface Job {
  readonly resolve: (scores: Float64Array) => void;
  readonly reject: (err: Error) => void;
}

const WORKER_SOURCE = `${SCORE_ROWS_SOURCE}
const { parentPort, workerData } = require('node:worker_threads');
parentPort.on('message', ({ id, x, nRows, stride }) => {
  try {
    const out = new Float64Array(nRows);
    scoreRows(workerData, x, stride, nRows, out, 0);
    parentPort.postMessage({ id, out }, [out.buffer]);
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.stack) || err) });
  }
});
`;

export class GbdtScoringPool {
  private readonly workers: Worker[] = [];
  private readonly jobs = new Map<number, Job>();
  private nextId = 0;

  private constructor(
    private readonly model: ForestModel,
    readonly threads: number,
  ) {
    for (let t = 1; t < threads; t++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: model.forest });
      worker.on('message', (msg: { id: number; out?: Float64Array; error?: string }) => {
        const job = this.jobs.get(msg.id);
        this.jobs.delete(msg.id);
        if (msg.out) job?.resolve(msg.out);
        else job?.reject(new RecsysError(`GBDT scoring worker failed: ${msg.error}`));
      });
      worker.on('error', (err) => this.failAll(err));
      worker.unref();
      this.workers.push(worker);
    }
  }

  /** `threads` defaults to the machine's available parallelism. */
  static open(model: GbdtModel, threads = availableParallelism()): GbdtScoringPool {
    if (!(model instanceof ForestModel)) throw new RecsysError('GbdtScoringPool: the model was not made by parseGbdtModel/loadGbdtModel');
    if (!Number.isInteger(threads) || threads < 1) throw new RecsysError(`GbdtScoringPool: threads must be ≥ 1, got ${threads}`);
    return new GbdtScoringPool(model, threads);
  }

  /** Same result as `model.predict`, computed on all threads. */
  async predict(features: FeatureMatrix, nRows: number, nFeatures: number): Promise<Float64Array> {
    // Small batches are not worth the copies.
    if (this.workers.length === 0 || nRows < 1024 * this.threads) return this.model.predict(features, nRows, nFeatures);
    this.model.checkShape(features, nRows, nFeatures);
    const forest: Forest = this.model.forest;
    const share = Math.ceil(nRows / this.threads);
    const parts: Array<Promise<Float64Array>> = this.workers.map((worker, w) => {
      const from = (w + 1) * share;
      const to = Math.min(nRows, from + share);
      const slice = features.subarray(from * nFeatures, to * nFeatures);
      const x = forest.float32 ? Float32Array.from(slice) : slice.slice();
      const id = this.nextId++;
      return new Promise<Float64Array>((resolve, reject) => {
        this.jobs.set(id, { resolve, reject });
        worker.ref();
        worker.postMessage({ id, x, nRows: to - from, stride: nFeatures }, [x.buffer]);
      });
    });
    const own = this.model.predict(features.subarray(0, share * nFeatures), share, nFeatures);
    const out = new Float64Array(nRows);
    out.set(own);
    try {
      (await Promise.all(parts)).forEach((part, w) => {
        const from = (w + 1) * share;
        for (let i = 0; i < part.length; i++) out[from + i] = part[i] / forest.divisor;
      });
    } finally {
      // Idle workers must not keep the process alive.
      if (this.jobs.size === 0) for (const worker of this.workers) worker.unref();
    }
    return out;
  }

  private failAll(err: Error): void {
    for (const job of this.jobs.values()) job.reject(new RecsysError(`GBDT scoring worker failed: ${err.message}`));
    this.jobs.clear();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}
