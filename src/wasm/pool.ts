import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { RecsysError } from '../util/errors.js';
import type { KernelModule } from './arena.js';

/**
 * Runs the wasm kernels on `threads` threads (this one plus threads − 1 worker_threads) over
 * one shared WebAssembly.Memory. A job is a kernel, its arguments and a list of chunks
 * (row ranges); threads take chunks from a shared counter, and each chunk's f64 result lands
 * in its own slot. Results are therefore identical whatever thread ran which chunk.
 * Chunks also keep each wasm call short: V8 only switches to optimised code between calls.
 * Threads meet through Atomics on a small shared control block, not messages, so a job costs
 * microseconds to start and the main thread can do other work between `start` and `finish`.
 */

type Kernel = (chunk: number, begin: number, end: number, scratch: number, ...args: number[]) => number;

const SLOT = { gen: 0, next: 1, done: 2, failed: 3, kernel: 4, chunks: 5, args: 6, errorLength: 7, ready: 8 } as const;
type Slots = typeof SLOT;
export const MAX_CHUNKS = 4096;
/** How long a new pool waits for its worker threads to start (they take tens of milliseconds). */
const WORKER_START_MS = 30_000;
const MAX_ARGS = 16;

interface SharedState {
  readonly control: Int32Array;
  readonly args: Float64Array;
  readonly bounds: Int32Array;
  readonly results: Float64Array;
  readonly errorText: Uint8Array;
}

interface WorkerData {
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  readonly kernelNames: readonly string[];
  readonly state: SharedState;
  readonly slot: Slots;
  readonly scratch: number;
}

function sharedState(): SharedState {
  const sab = (bytes: number): SharedArrayBuffer => new SharedArrayBuffer(bytes);
  return {
    control: new Int32Array(sab(64)),
    args: new Float64Array(sab(MAX_ARGS * 8)),
    bounds: new Int32Array(sab((MAX_CHUNKS + 1) * 4)),
    results: new Float64Array(sab(MAX_CHUNKS * 8)),
    errorText: new Uint8Array(sab(4096)),
  };
}

// The two functions below also run inside workers, as source text (see WORKER_SOURCE): they
// may use only their parameters and globals.

/** Runs chunks of the current job until none is left; records the first error. */
function runChunks(kernels: Kernel[], s: SharedState, slot: Slots, scratch: number): void {
  const c = s.control;
  try {
    const kernel = kernels[c[slot.kernel]];
    const args = Array.from(s.args.subarray(0, c[slot.args]));
    const n = c[slot.chunks];
    for (let chunk = Atomics.add(c, slot.next, 1); chunk < n; chunk = Atomics.add(c, slot.next, 1)) {
      s.results[chunk] = kernel(chunk, s.bounds[chunk], s.bounds[chunk + 1], scratch, ...args);
    }
  } catch (err) {
    if (Atomics.exchange(c, slot.failed, 1) === 0) {
      const text = new TextEncoder().encode(String((err as Error).stack ?? err)).subarray(0, s.errorText.length);
      s.errorText.set(text);
      c[slot.errorLength] = text.length;
    }
  }
}

function workerMain(): void {
  const { workerData } = require('node:worker_threads') as typeof import('node:worker_threads');
  const data = workerData as WorkerData;
  const instance = new WebAssembly.Instance(data.module, { env: { memory: data.memory } });
  const kernels = data.kernelNames.map((name) => instance.exports[name] as Kernel);
  const { state, slot } = data;
  Atomics.add(state.control, slot.ready, 1);
  Atomics.notify(state.control, slot.ready);
  let seen = 0;
  for (;;) {
    Atomics.wait(state.control, slot.gen, seen);
    seen = Atomics.load(state.control, slot.gen);
    if (state.control[slot.kernel] < 0) return;
    runChunks(kernels, state, slot, data.scratch);
    Atomics.add(state.control, slot.done, 1);
    Atomics.notify(state.control, slot.done);
  }
}

const WORKER_SOURCE = `${runChunks.toString()}\n(${workerMain.toString()})();\n`;

export class KernelPool<K extends string> {
  private readonly state = sharedState();
  private readonly workers: Worker[] = [];
  private readonly kernels: Kernel[];
  private running = false;
  private closed = false;

  /**
   * @param scratch byte offset of `threads` consecutive scratch areas of `scratchStride` bytes
   */
  constructor(
    private readonly kernelModule: KernelModule<K>,
    memory: WebAssembly.Memory,
    readonly threads: number,
    private readonly scratch: number,
    scratchStride: number,
  ) {
    if (!Number.isInteger(threads) || threads < 1) throw new Error(`KernelPool: threads must be ≥ 1, got ${threads}`);
    const instance = kernelModule.instantiate(memory);
    this.kernels = kernelModule.kernels.map((name) => instance.exports[name] as Kernel);
    for (let t = 1; t < threads; t++) {
      const workerData: WorkerData = {
        module: kernelModule.module,
        memory,
        kernelNames: kernelModule.kernels,
        state: this.state,
        slot: SLOT,
        scratch: scratch + t * scratchStride,
      };
      // Not the parent's flags: under `node --input-type=module` this CommonJS source would be
      // an ES module, where `require` is undefined, and the worker would die at start.
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData, execArgv: [] });
      // Idle workers wait on the control block and must not keep the process alive.
      worker.unref();
      this.workers.push(worker);
    }
    this.awaitWorkers();
  }

  /**
   * Blocks until every worker has started. A job waits for all workers, so one that died
   * before it started would hang the first job; this turns that into an error.
   */
  private awaitWorkers(): void {
    const c = this.state.control;
    const deadline = Date.now() + WORKER_START_MS;
    for (let ready = Atomics.load(c, SLOT.ready); ready < this.workers.length; ready = Atomics.load(c, SLOT.ready)) {
      const left = deadline - Date.now();
      if (left <= 0) {
        for (const w of this.workers) void w.terminate();
        this.closed = true;
        throw new RecsysError(
          `${this.kernelModule.name} kernels: ${this.workers.length - ready} of ${this.workers.length} worker threads did not start within ${WORKER_START_MS / 1000} s`,
        );
      }
      Atomics.wait(c, SLOT.ready, ready, left);
    }
  }

  /** Starts a job on the workers; `finish` makes this thread join it and waits for the end. */
  start(kernel: K, bounds: Int32Array, args: readonly number[]): void {
    if (this.closed) throw new Error('KernelPool: closed');
    if (this.running) throw new Error('KernelPool: a job is already running');
    const chunks = bounds.length - 1;
    if (chunks > MAX_CHUNKS || args.length > MAX_ARGS) throw new Error('KernelPool: too many chunks or arguments');
    const s = this.state;
    s.bounds.set(bounds);
    s.args.set(args);
    const c = s.control;
    c[SLOT.kernel] = this.kernelModule.kernels.indexOf(kernel);
    c[SLOT.chunks] = chunks;
    c[SLOT.args] = args.length;
    c[SLOT.failed] = 0;
    Atomics.store(c, SLOT.next, 0);
    Atomics.store(c, SLOT.done, 0);
    this.running = true;
    Atomics.add(c, SLOT.gen, 1);
    Atomics.notify(c, SLOT.gen);
  }

  /** Runs the remaining chunks here, waits for the workers, returns each chunk's result. */
  finish(): Float64Array {
    if (!this.running) throw new Error('KernelPool: no job to finish');
    const s = this.state;
    const c = s.control;
    runChunks(this.kernels, s, SLOT, this.scratch);
    for (let done = Atomics.load(c, SLOT.done); done < this.workers.length; done = Atomics.load(c, SLOT.done)) {
      Atomics.wait(c, SLOT.done, done);
    }
    this.running = false;
    if (c[SLOT.failed] !== 0) {
      const text = new TextDecoder().decode(s.errorText.slice(0, c[SLOT.errorLength]));
      throw new RecsysError(`${this.kernelModule.name} kernel failed: ${text}`);
    }
    return s.results.slice(0, c[SLOT.chunks]);
  }

  /**
   * Runs a kernel on [begin, end) on this thread alone, as one chunk: for jobs smaller than
   * the cost of waking the workers (tens of microseconds).
   */
  runHere(kernel: K, begin: number, end: number, args: readonly number[]): number {
    if (this.running) throw new Error('KernelPool: a job is running');
    return this.kernels[this.kernelModule.kernels.indexOf(kernel)](0, begin, end, this.scratch, ...args);
  }

  run(kernel: K, bounds: Int32Array, args: readonly number[]): Float64Array {
    this.start(kernel, bounds, args);
    return this.finish();
  }

  /** Ends the workers (they also end with the process). */
  close(): void {
    if (this.closed) return;
    if (this.running) this.finish();
    this.closed = true;
    const c = this.state.control;
    c[SLOT.kernel] = -1;
    Atomics.add(c, SLOT.gen, 1);
    Atomics.notify(c, SLOT.gen);
  }
}

/** Sum of chunk results in chunk order (a fixed order, so the same bits every run). */
export function sumInOrder(results: Float64Array): number {
  let total = 0;
  for (let i = 0; i < results.length; i++) total += results[i];
  return total;
}

/** The thread count a `threads` setting stands for (0 = every available core). */
export function resolveThreads(threads: number): number {
  return threads > 0 ? threads : availableParallelism();
}
