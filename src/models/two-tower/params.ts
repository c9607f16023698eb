import type { ModelOption } from '../model.js';
import { InputError } from '../../util/errors.js';

export const BACKEND_CHOICES = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export const NEGATIVE_CHOICES = ['uniform', 'popularity'] as const;

export interface TwoTowerParams {
  /** Width of the final (L2-normalised) user and item vectors, and of the id embeddings. */
  readonly dim: number;
  /** Width of the hidden ReLU layer of each tower. */
  readonly hidden: number;
  /** How many of the user's most recent items the user tower pools. */
  readonly history: number;
  /** Most epochs; with validation, early stopping may stop sooner. */
  readonly epochs: number;
  readonly batchSize: number;
  /** Adam step size, for the towers and the embedding tables alike. */
  readonly lr: number;
  /** Softmax temperature on cosine scores. */
  readonly temperature: number;
  /** Strength of the logQ correction (0 = none, 1 = full subtraction of log sampling probability). */
  readonly logq: number;
  /** Extra negatives per batch drawn by the negative sampler, besides the in-batch ones. */
  readonly negatives: number;
  readonly negativeSampling: (typeof NEGATIVE_CHOICES)[number];
  /** Probability of hiding an example's user or item id embedding, so the towers learn to work from content and history alone. */
  readonly idDropout: number;
  /** Share of each user's latest training events held out to pick the epoch count (0 = no validation). */
  readonly valFrac: number;
  /** Epochs without a better validation recall before stopping. */
  readonly patience: number;
  /** K of the validation recall@K. */
  readonly valK: number;
  /** Users sampled for validation (scoring every user each epoch would dominate on large data). */
  readonly valUsers: number;
  /** Tag vocabulary size (most widely used tags). */
  readonly tagVocab: number;
  /** Release-year buckets (quantiles of the catalogue's years), besides "unknown". */
  readonly yearBuckets: number;
  readonly backend: BackendChoice;
}

export const TWO_TOWER_DEFAULTS: TwoTowerParams = {
  dim: 64,
  hidden: 128,
  history: 50,
  epochs: 30,
  batchSize: 1024,
  lr: 0.002,
  temperature: 0.05,
  logq: 1,
  negatives: 0,
  negativeSampling: 'popularity',
  idDropout: 0.1,
  valFrac: 0.1,
  patience: 3,
  valK: 10,
  valUsers: 2000,
  tagVocab: 100,
  yearBuckets: 16,
  backend: 'auto',
};

export const TWO_TOWER_OPTIONS: readonly ModelOption[] = [
  { key: 'dim', type: 'int', description: 'embedding width (user/item vectors and id embeddings)' },
  { key: 'hidden', type: 'int', description: 'hidden layer width of each tower' },
  { key: 'history', type: 'int', description: 'recent items pooled by the user tower' },
  { key: 'epochs', type: 'int', description: 'most epochs (early stopping may stop sooner)' },
  { key: 'batchSize', type: 'int', description: 'examples per step (also the in-batch negatives)' },
  { key: 'lr', type: 'float', description: 'Adam learning rate' },
  { key: 'temperature', type: 'float', description: 'softmax temperature on cosine scores' },
  { key: 'logq', type: 'float', description: 'logQ popularity correction strength (0..1)' },
  { key: 'negatives', type: 'int', description: 'extra sampled negatives per batch' },
  { key: 'negativeSampling', type: 'string', description: 'distribution of the extra negatives', choices: NEGATIVE_CHOICES },
  { key: 'idDropout', type: 'float', description: 'probability of hiding an id embedding in training (cold-start robustness)' },
  { key: 'valFrac', type: 'float', description: "share of each user's latest training events used for early stopping (0 = none)" },
  { key: 'patience', type: 'int', description: 'epochs without validation improvement before stopping' },
  { key: 'valK', type: 'int', description: 'K of the validation recall@K' },
  { key: 'valUsers', type: 'int', description: 'users sampled for validation' },
  { key: 'tagVocab', type: 'int', description: 'tag vocabulary size' },
  { key: 'yearBuckets', type: 'int', description: 'release-year quantile buckets' },
  { key: 'backend', type: 'string', description: 'TensorFlow.js backend', choices: BACKEND_CHOICES },
];

/** Merges user values over the defaults and checks every value; names the bad key. */
export function resolveParams(given: Partial<Record<keyof TwoTowerParams, unknown>>): TwoTowerParams {
  const p = { ...TWO_TOWER_DEFAULTS, ...given } as TwoTowerParams;
  const positiveInts: Array<keyof TwoTowerParams> = [
    'dim',
    'hidden',
    'history',
    'epochs',
    'batchSize',
    'patience',
    'valK',
    'valUsers',
    'yearBuckets',
  ];
  for (const key of positiveInts) {
    const v = p[key];
    if (!Number.isInteger(v) || (v as number) < 1)
      throw new InputError(`two-tower: parameter ${key} must be a positive integer, got ${String(v)}`);
  }
  for (const key of ['negatives', 'tagVocab'] as const) {
    if (!Number.isInteger(p[key]) || p[key] < 0)
      throw new InputError(`two-tower: parameter ${key} must be an integer ≥ 0, got ${String(p[key])}`);
  }
  const inRange = (key: keyof TwoTowerParams, lo: number, hi: number, loOpen: boolean, hiOpen: boolean): void => {
    const v = p[key] as number;
    const ok = typeof v === 'number' && (loOpen ? v > lo : v >= lo) && (hiOpen ? v < hi : v <= hi);
    if (!ok)
      throw new InputError(
        `two-tower: parameter ${key} must be in ${loOpen ? '(' : '['}${lo}, ${hi}${hiOpen ? ')' : ']'}, got ${String(v)}`,
      );
  };
  inRange('lr', 0, 1, true, false);
  inRange('temperature', 0, 10, true, false);
  inRange('logq', 0, 1, false, false);
  inRange('idDropout', 0, 1, false, true);
  inRange('valFrac', 0, 1, false, true);
  if (!BACKEND_CHOICES.includes(p.backend))
    throw new InputError(`two-tower: parameter backend must be one of ${BACKEND_CHOICES.join(', ')}, got ${String(p.backend)}`);
  if (!NEGATIVE_CHOICES.includes(p.negativeSampling)) {
    throw new InputError(
      `two-tower: parameter negativeSampling must be one of ${NEGATIVE_CHOICES.join(', ')}, got ${String(p.negativeSampling)}`,
    );
  }
  return p;
}
