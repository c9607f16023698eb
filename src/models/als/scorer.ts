import type { Csr } from '../../matrix/csr.js';
import { allocTopK, topKOfScoreBlock, type TopK } from '../../matrix/topk.js';
import { evenChunks } from './partition.js';
import { KernelPool } from '../../wasm/pool.js';
import { WasmArena } from '../../wasm/arena.js';
import { ALS_KERNELS, type AlsKernel } from './kernels.js';

type Region = 'panels' | 'q0' | 'q1' | 'out0' | 'out1' | 'scratch';

/** Score floats per batch block: large enough to amortise a job, small enough for the cache-friendly top-k pass. */
const BLOCK_FLOATS = 1 << 23;
const MAX_BATCH = 512;
const PANEL_CHUNKS = 64;

/**
 * Exact top-k by inner product against a fixed set of item vectors: batches of query rows
 * are scored densely by the wasm kernel `scorePanels` on all threads, then each row's best
 * items are selected by `topKOfScoreBlock`. Two score buffers alternate so this thread selects
 * from batch b while the workers already score batch b + 1.
 */
export class DenseScorer {
  private readonly arena: WasmArena<Region>;
  private readonly pool: KernelPool<AlsKernel>;
  private readonly batch: number;
  private readonly chunks: Int32Array;

  /** @param vectors nItems × f, row-major */
  constructor(
    vectors: Float32Array,
    readonly nItems: number,
    readonly f: number,
    threads: number,
  ) {
    const nPanels = Math.ceil(nItems / 8);
    this.batch = Math.max(4, Math.min(MAX_BATCH, Math.floor(BLOCK_FLOATS / Math.max(nItems, 1) / 4) * 4));
    this.arena = new WasmArena<Region>('Dense scoring', {
      panels: nPanels * 8 * f * 4,
      q0: this.batch * f * 4,
      q1: this.batch * f * 4,
      out0: this.batch * nItems * 4,
      out1: this.batch * nItems * 4,
      scratch: 16 * threads,
    });
    packPanels(vectors, nItems, f, this.arena.f32('panels', nPanels * 8 * f));
    this.chunks = evenChunks(nPanels, PANEL_CHUNKS);
    this.pool = new KernelPool(ALS_KERNELS, this.arena.memory, threads, this.arena.at.scratch, 16);
  }

  /**
   * Top-k items of each query row (queries: n × f, row-major). Row b skips the items in row
   * `rowKeys[b]` of `exclude`.
   */
  topK(queries: Float32Array, rowKeys: Int32Array, k: number, exclude: Csr | null): TopK {
    const n = rowKeys.length;
    const out = allocTopK(n, k);
    const batches = Math.ceil(n / this.batch);
    if (batches === 0) return out;
    const rowsOf = (b: number): number => Math.min(this.batch, n - b * this.batch);
    this.launch(queries, 0, rowsOf(0));
    this.pool.finish();
    for (let b = 0; b < batches; b++) {
      if (b + 1 < batches) this.launch(queries, b + 1, rowsOf(b + 1));
      const first = b * this.batch;
      const scores = this.arena.f32(b % 2 === 0 ? 'out0' : 'out1', rowsOf(b) * this.nItems);
      topKOfScoreBlock(scores, this.nItems, rowKeys.subarray(first, first + rowsOf(b)), k, exclude, out, first);
      if (b + 1 < batches) this.pool.finish();
    }
    return out;
  }

  close(): void {
    this.pool.close();
  }

  /** Copies batch b's queries (padded with zero rows to a multiple of 4) and starts scoring them. */
  private launch(queries: Float32Array, b: number, rows: number): void {
    const f = this.f;
    const nQ = Math.ceil(rows / 4) * 4;
    const slot = b % 2 === 0 ? (['q0', 'out0'] as const) : (['q1', 'out1'] as const);
    const q = this.arena.f32(slot[0], nQ * f);
    const first = b * this.batch * f;
    q.set(queries.subarray(first, first + rows * f));
    q.fill(0, rows * f);
    const at = this.arena.at;
    this.pool.start('scorePanels', this.chunks, [at[slot[0]], nQ, at.panels, this.nItems, f, at[slot[1]]]);
  }
}

/** Panel p holds, for j = 0..f−1, factor j of items 8p..8p+7 (zeros past the last item). */
function packPanels(vectors: Float32Array, nItems: number, f: number, panels: Float32Array): void {
  for (let i = 0; i < nItems; i++) {
    const base = (i >> 3) * 8 * f + (i & 7);
    for (let j = 0; j < f; j++) panels[base + j * 8] = vectors[i * f + j];
  }
}
