import { transpose, type Csr } from '../../matrix/csr.js';
import { log } from '../../util/log.js';
import { Progress } from '../../util/progress.js';
import { Rng } from '../../util/rng.js';
import type { AlsParams } from './params.js';
import { balancedChunks, evenChunks } from './partition.js';
import { KernelPool, MAX_CHUNKS, resolveThreads, sumInOrder } from '../../wasm/pool.js';
import { WasmArena } from '../../wasm/arena.js';
import { ALS_KERNELS, type AlsKernel } from './kernels.js';

/** One iteration's record: wall time, relative factor change ‖ΔX‖/‖X‖, training loss. */
export interface AlsIteration {
  readonly iteration: number;
  readonly seconds: number;
  readonly userChange: number;
  readonly itemChange: number;
  /** Weighted squared error plus penalty, divided by the total confidence (as benfred/implicit reports it); null when not computed. */
  readonly loss: number | null;
}

export interface AlsFit {
  /** nUsers × factors and nItems × factors, row-major. */
  readonly userFactors: Float32Array;
  readonly itemFactors: Float32Array;
  readonly history: AlsIteration[];
  readonly threads: number;
}

/** Wasm rows are padded to a multiple of 16 floats (4 v128 per step); the padding stays 0. */
export function paddedDim(factors: number): number {
  return Math.ceil(factors / 16) * 16;
}

/** Chunks per sweep: enough to balance two threads and let V8 tier up early; within MAX_CHUNKS. */
const SWEEP_CHUNKS = Math.min(512, MAX_CHUNKS);
/** Gram partial blocks (k × k each) summed in f64 afterwards. */
const GRAM_CHUNKS = 64;
/** r, p, Ap and the previous x of the CG kernel. */
const SCRATCH_VECTORS = 4;
/** Factors start uniform in [0, INIT_SCALE), as benfred/implicit does. */
const INIT_SCALE = 0.01;

type Region = 'uIndptr' | 'uIndices' | 'uConf' | 'iIndptr' | 'iIndices' | 'iConf' | 'x' | 'y' | 'gram' | 'partials' | 'scratch';

/**
 * Implicit-feedback ALS (Hu, Koren, Volinsky 2008) with the conjugate-gradient solver of
 * Takács, Pilászy and Tikk (2011), on `weights` (users × items, w ≥ 0): confidence
 * c = 1 + alpha × w, preference 1 on observed pairs and 0 elsewhere. Each iteration solves
 * all users against fixed items, then all items against fixed users.
 */
export function fitAls(
  weights: Csr,
  params: AlsParams,
  seed: number,
  onEpoch?: (epoch: number, metrics: Record<string, number>) => void,
): AlsFit {
  const nUsers = weights.nRows;
  const nItems = weights.nCols;
  const nnz = weights.indices.length;
  const f = params.factors;
  const k = paddedDim(f);
  const threads = resolveThreads(params.threads);
  const arena = new WasmArena<Region>('ALS', {
    uIndptr: (nUsers + 1) * 4,
    uIndices: nnz * 4,
    uConf: nnz * 4,
    iIndptr: (nItems + 1) * 4,
    iIndices: nnz * 4,
    iConf: nnz * 4,
    x: nUsers * k * 4,
    y: nItems * k * 4,
    gram: k * k * 4,
    partials: GRAM_CHUNKS * k * k * 4,
    scratch: threads * SCRATCH_VECTORS * k * 4,
  });
  const totalConfidence = copyConfidence(arena, weights, 'u', params.alpha) + (nUsers * nItems - nnz);
  copyConfidence(arena, transpose(weights), 'i', params.alpha);
  const x = arena.f32('x', nUsers * k);
  const y = arena.f32('y', nItems * k);
  const rng = new Rng(seed);
  initFactors(x, nUsers, f, k, rng);
  initFactors(y, nItems, f, k, rng);

  const userChunks = balancedChunks(weights.indptr, SWEEP_CHUNKS, k / 2, 1);
  const itemChunks = balancedChunks(arena.i32('iIndptr', nItems + 1), SWEEP_CHUNKS, k / 2, 1);
  const sweepArgs = (side: 'u' | 'i'): number[] => {
    const [solved, fixed] = side === 'u' ? (['x', 'y'] as const) : (['y', 'x'] as const);
    const at = arena.at;
    return [at[`${side}Indptr`], at[`${side}Indices`], at[`${side}Conf`], at[solved], at[fixed], at.gram, k];
  };
  const pool = new KernelPool(ALS_KERNELS, arena.memory, threads, arena.at.scratch, SCRATCH_VECTORS * k * 4);
  const history: AlsIteration[] = [];
  const progress = new Progress('als', params.iterations, 'iterations');
  log.event('als.fit.start', { users: nUsers, items: nItems, nnz, factors: f, threads, seed });
  try {
    let gramIsOfY = false;
    for (let it = 1; it <= params.iterations; it++) {
      const start = performance.now();
      if (!gramIsOfY) gram(pool, arena, 'y', nItems, k, params.regularization);
      const userDelta = sumInOrder(pool.run('cgSolve', userChunks, [...sweepArgs('u'), params.cg_steps]));
      gram(pool, arena, 'x', nUsers, k, params.regularization);
      const itemDelta = sumInOrder(pool.run('cgSolve', itemChunks, [...sweepArgs('i'), params.cg_steps]));
      gramIsOfY = false;
      let loss: number | null = null;
      if (params.loss) {
        gram(pool, arena, 'y', nItems, k, params.regularization);
        gramIsOfY = true;
        // Σ_u [xᵀ(YᵀY + λI)x + observed corrections] + λ‖Y‖²
        const userTerms = sumInOrder(pool.run('lossRows', userChunks, sweepArgs('u')));
        loss = (userTerms + params.regularization * sumOfSquares(y)) / totalConfidence;
      }
      const record: AlsIteration = {
        iteration: it,
        seconds: (performance.now() - start) / 1000,
        userChange: Math.sqrt(userDelta / Math.max(sumOfSquares(x), Number.MIN_VALUE)),
        itemChange: Math.sqrt(itemDelta / Math.max(sumOfSquares(y), Number.MIN_VALUE)),
        loss,
      };
      history.push(record);
      reportIteration(record, params.iterations);
      onEpoch?.(it, {
        seconds: record.seconds,
        user_change: record.userChange,
        item_change: record.itemChange,
        ...(loss === null ? {} : { loss }),
      });
      progress.tick();
    }
  } finally {
    pool.close();
  }
  progress.finish({ threads });
  return { userFactors: unpad(x, nUsers, f, k), itemFactors: unpad(y, nItems, f, k), history, threads };
}

/** Copies a CSR into the `side` regions with c = 1 + alpha × w; returns Σ c. */
function copyConfidence(arena: WasmArena<Region>, m: Csr, side: 'u' | 'i', alpha: number): number {
  const nnz = m.indices.length;
  arena.i32(`${side}Indptr`, m.nRows + 1).set(m.indptr);
  arena.i32(`${side}Indices`, nnz).set(m.indices);
  const conf = arena.f32(`${side}Conf`, nnz);
  let total = 0;
  for (let p = 0; p < nnz; p++) {
    conf[p] = 1 + alpha * m.data[p];
    total += conf[p];
  }
  return total;
}

function initFactors(out: Float32Array, rows: number, f: number, k: number, rng: Rng): void {
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < f; j++) out[r * k + j] = rng.next() * INIT_SCALE;
  }
}

/** G = FᵀF + λI into the `gram` region: wasm partial blocks per chunk, summed here in f64 in chunk order. */
function gram(pool: KernelPool<AlsKernel>, arena: WasmArena<Region>, rows: 'x' | 'y', n: number, k: number, lambda: number): void {
  const bounds = evenChunks(n, GRAM_CHUNKS);
  pool.run('gramRows', bounds, [arena.at[rows], k, arena.at.partials]);
  const kk = k * k;
  const parts = arena.f32('partials', (bounds.length - 1) * kk);
  const acc = new Float64Array(kk);
  for (let c = 0; c < bounds.length - 1; c++) {
    for (let e = 0; e < kk; e++) acc[e] += parts[c * kk + e];
  }
  for (let d = 0; d < k; d++) acc[d * k + d] += lambda;
  arena.f32('gram', kk).set(acc);
}

function sumOfSquares(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return s;
}

function unpad(padded: Float32Array, rows: number, f: number, k: number): Float32Array {
  if (f === k) return padded.slice(0, rows * f);
  const out = new Float32Array(rows * f);
  for (let r = 0; r < rows; r++) out.set(padded.subarray(r * k, r * k + f), r * f);
  return out;
}

function reportIteration(r: AlsIteration, total: number): void {
  const loss = r.loss === null ? '' : `, loss ${r.loss.toPrecision(5)}`;
  log.info(
    `als: iteration ${r.iteration}/${total}: ${r.seconds.toFixed(2)} s${loss}, factor change users ${r.userChange.toExponential(2)} items ${r.itemChange.toExponential(2)}`,
  );
  log.event('als.iteration', { ...r });
}
