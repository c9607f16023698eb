import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpyFloat32, readNpyInt32, writeNpy } from '../../artifacts/npy.js';
import { IdMap } from '../../data/id-map.js';
import type { TrainingData } from '../../data/training-data.js';
import type { Csr } from '../../matrix/csr.js';
import type { Embeddings } from '../../matrix/embeddings.js';
import type { TopK } from '../../matrix/topk.js';
import { InputError } from '../../util/errors.js';
import { writeJsonAtomic } from '../../util/fs.js';
import type { FitContext, FoldsInHistory, HasEmbeddings, HoldsResources, ModelFactory, Recommender } from '../model.js';
import { parseParams } from '../params.js';
import { fitAls, type AlsIteration } from './fit.js';
import { FoldIn } from './fold-in.js';
import { resolveThreads } from '../../wasm/pool.js';
import { alsParamsSchema, type AlsParams } from './params.js';
import { DenseScorer } from './scorer.js';
import { weightMatrix } from './weights.js';

export const ALS_FILES = {
  userFactors: 'user_factors.npy',
  itemFactors: 'item_factors.npy',
  userIds: 'user_ids.npy',
  itemIds: 'item_ids.npy',
  settings: 'als.json',
} as const;

/** What als.json records besides the factors: enough to reproduce the fit. */
export interface AlsSettings {
  readonly params: AlsParams;
  readonly seed: number;
  /** Threads the fit ran on (the factors do not depend on it). */
  readonly threads: number;
  readonly history: readonly AlsIteration[];
}

/**
 * A fitted implicit ALS model: score(u, i) = x_u · y_i. Scoring runs in wasm on all threads
 * (DenseScorer), created on first use; `close()` ends its worker threads early.
 */
export class AlsModel implements Recommender, HasEmbeddings, FoldsInHistory, HoldsResources {
  readonly kind = 'als';
  readonly factors: number;
  private scorer: DenseScorer | null = null;
  private cosineScorer: DenseScorer | null = null;
  private cosineVectors: Float32Array | null = null;
  private foldIn: FoldIn | null = null;

  constructor(
    readonly users: IdMap,
    readonly items: IdMap,
    /** users.size × factors, row-major. */
    readonly userFactors: Float32Array,
    /** items.size × factors, row-major. */
    readonly itemFactors: Float32Array,
    readonly settings: AlsSettings,
  ) {
    this.factors = settings.params.factors;
    if (userFactors.length !== users.size * this.factors || itemFactors.length !== items.size * this.factors) {
      throw new Error('AlsModel: factor matrices do not match the id maps');
    }
  }

  recommend(users: Int32Array, k: number, exclude: Csr | null): TopK {
    const f = this.factors;
    const queries = new Float32Array(users.length * f);
    for (let b = 0; b < users.length; b++) {
      const u = users[b];
      if (!(u >= 0 && u < this.users.size)) throw new Error(`als: user index ${u} out of range (${this.users.size} users)`);
      queries.set(this.userFactors.subarray(u * f, (u + 1) * f), b * f);
    }
    return this.itemScorer().topK(queries, users, k, exclude);
  }

  /** Cosine similarity of item factors; the item itself is excluded. */
  similarItems(items: Int32Array, k: number): TopK {
    const f = this.factors;
    if (this.cosineVectors === null) this.cosineVectors = normalizedRows(this.itemFactors, f);
    this.cosineScorer ??= new DenseScorer(this.cosineVectors, this.items.size, f, this.threads());
    const queries = new Float32Array(items.length * f);
    for (let b = 0; b < items.length; b++) {
      const i = items[b];
      if (!(i >= 0 && i < this.items.size)) throw new Error(`als: item index ${i} out of range (${this.items.size} items)`);
      queries.set(this.cosineVectors.subarray(i * f, (i + 1) * f), b * f);
    }
    return this.cosineScorer.topK(queries, items, k, identityRows(this.items.size));
  }

  /**
   * Factors of a user outside training (or a training user with a new history), solved
   * exactly against the item factors. See FoldIn.solve for `items` and `weights`.
   */
  foldInUser(items: Int32Array, weights: Float32Array | null = null): Float32Array {
    const { regularization, alpha } = this.settings.params;
    this.foldIn ??= new FoldIn(this.itemFactors, this.factors, regularization, alpha);
    return this.foldIn.solve(items, weights);
  }

  /** Top-k for a history that is not a training user: fold-in, then score; the history's items are excluded. */
  recommendFromHistory(items: Int32Array, weights: Float32Array | null, k: number): TopK {
    const x = this.foldInUser(items, weights);
    const seen = Int32Array.from(new Set(Array.from(items).filter((i) => i >= 0))).sort();
    const exclude: Csr = {
      nRows: 1,
      nCols: this.items.size,
      indptr: Int32Array.of(0, seen.length),
      indices: seen,
      data: new Float32Array(seen.length),
    };
    return this.itemScorer().topK(x, new Int32Array(1), k, exclude);
  }

  itemEmbeddings(): Embeddings {
    return { rows: this.items.size, dim: this.factors, data: this.itemFactors };
  }

  userEmbeddings(): Embeddings {
    return { rows: this.users.size, dim: this.factors, data: this.userFactors };
  }

  params(): AlsParams {
    return { ...this.settings.params };
  }

  async save(dir: string): Promise<void> {
    const f = this.factors;
    writeNpy(join(dir, ALS_FILES.userFactors), this.userFactors, [this.users.size, f]);
    writeNpy(join(dir, ALS_FILES.itemFactors), this.itemFactors, [this.items.size, f]);
    writeNpy(join(dir, ALS_FILES.userIds), this.users.ids);
    writeNpy(join(dir, ALS_FILES.itemIds), this.items.ids);
    const s = this.settings;
    writeJsonAtomic(join(dir, ALS_FILES.settings), {
      kind: this.kind,
      params: s.params,
      seed: s.seed,
      threads: s.threads,
      users: this.users.size,
      items: this.items.size,
      iterations: s.history,
    });
  }

  /** Ends the scoring worker threads (they also end with the process). */
  close(): void {
    this.scorer?.close();
    this.cosineScorer?.close();
    this.scorer = null;
    this.cosineScorer = null;
  }

  private threads(): number {
    return resolveThreads(this.settings.params.threads);
  }

  private itemScorer(): DenseScorer {
    this.scorer ??= new DenseScorer(this.itemFactors, this.items.size, this.factors, this.threads());
    return this.scorer;
  }
}

function normalizedRows(m: Float32Array, f: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let r = 0; r < m.length / f; r++) {
    let norm = 0;
    for (let j = 0; j < f; j++) norm += m[r * f + j] * m[r * f + j];
    const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let j = 0; j < f; j++) out[r * f + j] = m[r * f + j] * scale;
  }
  return out;
}

/** n × n CSR with row i = {i}: excludes each item from its own neighbours. */
function identityRows(n: number): Csr {
  const indptr = new Int32Array(n + 1);
  for (let i = 0; i <= n; i++) indptr[i] = i;
  return { nRows: n, nCols: n, indptr, indices: indptr.slice(0, n), data: new Float32Array(n) };
}

function readSettings(dir: string): AlsSettings & { users: number; items: number } {
  const path = join(dir, ALS_FILES.settings);
  if (!existsSync(path)) throw new InputError(`${dir}: not an ALS model (no ${ALS_FILES.settings})`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new InputError(`${path}: invalid JSON (${(err as Error).message})`);
  }
  if (raw.kind !== 'als' || typeof raw.params !== 'object' || raw.params === null) {
    throw new InputError(`${path}: field "kind" must be "als" and "params" an object`);
  }
  return {
    params: parseParams(`${path}: als`, alsParamsSchema, raw.params),
    seed: Number(raw.seed),
    threads: Number(raw.threads),
    history: Array.isArray(raw.iterations) ? (raw.iterations as AlsIteration[]) : [],
    users: Number(raw.users),
    items: Number(raw.items),
  };
}

function readFactors(dir: string, file: string, rows: number, f: number): Float32Array {
  const { data, shape } = readNpyFloat32(join(dir, file));
  if (shape.length !== 2 || shape[0] !== rows || shape[1] !== f) {
    throw new InputError(`${join(dir, file)}: shape (${shape.join(', ')}) but als.json says (${rows}, ${f})`);
  }
  return data;
}

/** `satisfies` keeps the AlsModel return types (fold-in, close) visible to callers that know the kind. */
export const alsFactory = {
  kind: 'als',
  description: 'implicit-feedback ALS (Hu, Koren, Volinsky 2008), conjugate-gradient solver, wasm SIMD on all cores',
  params: alsParamsSchema,
  async fit(data: TrainingData, p: AlsParams, ctx?: FitContext): Promise<AlsModel> {
    const fitted = fitAls(weightMatrix(data, p.weight), p, data.seed, ctx?.onEpoch);
    return new AlsModel(data.users, data.items, fitted.userFactors, fitted.itemFactors, {
      params: p,
      seed: data.seed,
      threads: fitted.threads,
      history: fitted.history,
    });
  },
  async load(dir: string): Promise<AlsModel> {
    const s = readSettings(dir);
    const users = new IdMap(readNpyInt32(join(dir, ALS_FILES.userIds)));
    const items = new IdMap(readNpyInt32(join(dir, ALS_FILES.itemIds)));
    if (users.size !== s.users || items.size !== s.items) {
      throw new InputError(`${dir}: id maps hold ${users.size} users and ${items.size} items but als.json says ${s.users} and ${s.items}`);
    }
    const f = s.params.factors;
    return new AlsModel(
      users,
      items,
      readFactors(dir, ALS_FILES.userFactors, users.size, f),
      readFactors(dir, ALS_FILES.itemFactors, items.size, f),
      s,
    );
  },
} satisfies ModelFactory<typeof alsParamsSchema, AlsModel>;
