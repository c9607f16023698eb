import { availableParallelism } from 'node:os';
import { InputError } from '../../util/errors.js';
import type { ModelOption } from '../model.js';

/** How an interaction's weight w (confidence c = 1 + alpha × w) is read from the training data. */
export const ALS_WEIGHTS = ['one', 'count', 'rating'] as const;
export type AlsWeight = (typeof ALS_WEIGHTS)[number];

export interface AlsParams {
  /** Latent dimension. */
  factors: number;
  /** λ, added to the diagonal of every normal equation. */
  regularization: number;
  /** Confidence slope: c = 1 + alpha × w. */
  alpha: number;
  /** Alternating sweeps (users, then items). */
  iterations: number;
  /** Conjugate-gradient steps per row and sweep (warm-started from the previous sweep). */
  cgSteps: number;
  /** Threads (this one plus worker_threads); 0 = every available core. Results do not depend on it. */
  threads: number;
  /** one: w = 1 per user-item pair; count: w = number of interactions; rating: w = sum of the pair's ratings. */
  weight: AlsWeight;
  /** Computes the training loss after every iteration (one extra pass over the data). */
  loss: boolean;
}

/** Chosen on a validation split carved from the training part of ml-latest-small (docs/benchmarks.md, ALS). */
export const ALS_DEFAULTS: AlsParams = {
  factors: 64,
  regularization: 30,
  alpha: 2,
  iterations: 15,
  cgSteps: 3,
  threads: 0,
  weight: 'one',
  loss: false,
};

export const ALS_OPTIONS: readonly ModelOption[] = [
  { key: 'factors', type: 'int', description: 'latent factors' },
  { key: 'regularization', type: 'float', description: 'L2 regularization λ' },
  { key: 'alpha', type: 'float', description: 'confidence slope: c = 1 + alpha × weight' },
  { key: 'iterations', type: 'int', description: 'alternating iterations' },
  { key: 'cgSteps', type: 'int', description: 'conjugate-gradient steps per row and iteration' },
  { key: 'threads', type: 'int', description: 'threads (0 = all cores; results do not depend on it)' },
  { key: 'weight', type: 'string', description: 'interaction weight', choices: ALS_WEIGHTS },
  { key: 'loss', type: 'boolean', description: 'compute the training loss every iteration' },
];

function int(raw: unknown, key: string, min: number, max: number): number {
  const v = typeof raw === 'string' ? Number(raw) : raw;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InputError(`als: ${key} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  }
  return v;
}

function nonNegative(raw: unknown, key: string): number {
  const v = typeof raw === 'string' ? Number(raw) : raw;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new InputError(`als: ${key} must be a finite number ≥ 0, got ${JSON.stringify(raw)}`);
  }
  return v;
}

/** Defaults overlaid with `raw` (CLI options or a pipeline file), checked field by field. */
export function parseAlsParams(raw: Partial<Record<keyof AlsParams, unknown>>): AlsParams {
  const p = { ...ALS_DEFAULTS, ...raw };
  const known = new Set(Object.keys(ALS_DEFAULTS));
  for (const key of Object.keys(raw)) {
    if (!known.has(key)) throw new InputError(`als: unknown parameter "${key}" (known: ${[...known].join(', ')})`);
  }
  if (!ALS_WEIGHTS.includes(p.weight as AlsWeight)) {
    throw new InputError(`als: weight must be one of ${ALS_WEIGHTS.join(', ')}, got ${JSON.stringify(p.weight)}`);
  }
  if (typeof p.loss !== 'boolean') throw new InputError(`als: loss must be true or false, got ${JSON.stringify(p.loss)}`);
  return {
    factors: int(p.factors, 'factors', 1, 1024),
    regularization: nonNegative(p.regularization, 'regularization'),
    alpha: nonNegative(p.alpha, 'alpha'),
    iterations: int(p.iterations, 'iterations', 1, 10_000),
    cgSteps: int(p.cgSteps, 'cgSteps', 1, 1024),
    threads: int(p.threads, 'threads', 0, 1024),
    weight: p.weight as AlsWeight,
    loss: p.loss,
  };
}

/** The thread count a `threads` setting stands for. */
export function resolveThreads(threads: number): number {
  return threads > 0 ? threads : availableParallelism();
}
