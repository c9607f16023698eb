import { z } from 'zod';

export const BACKEND_CHOICES = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export const NEGATIVE_CHOICES = ['uniform', 'popularity'] as const;

const positiveInt = () => z.number().int().min(1);

export const twoTowerParamsSchema = z
  .object({
    dim: positiveInt().default(64).describe('width of the final (L2-normalised) user and item vectors, and of the id embeddings'),
    hidden: positiveInt().default(128).describe('width of the hidden ReLU layer of each tower'),
    history: positiveInt().default(50).describe("how many of the user's most recent items the user tower pools"),
    epochs: positiveInt().default(30).describe('most epochs; with validation, early stopping may stop sooner'),
    batch_size: positiveInt().default(1024).describe('examples per step (also the in-batch negatives)'),
    lr: z.number().gt(0).max(1).default(0.002).describe('Adam step size, for the towers and the embedding tables alike'),
    temperature: z.number().gt(0).max(10).default(0.05).describe('softmax temperature on cosine scores'),
    logq: z
      .number()
      .min(0)
      .max(1)
      .default(1)
      .describe('strength of the logQ popularity correction (0 = none, 1 = full subtraction of the log sampling probability)'),
    negatives: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('extra negatives per batch drawn by the negative sampler, besides the in-batch ones'),
    negative_sampling: z.enum(NEGATIVE_CHOICES).default('popularity').describe('distribution of the extra negatives'),
    id_dropout: z
      .number()
      .min(0)
      .lt(1)
      .default(0.1)
      .describe("probability of hiding an example's user or item id embedding, so the towers learn to work from content and history alone"),
    val_frac: z
      .number()
      .min(0)
      .lt(1)
      .default(0.1)
      .describe("share of each user's latest training events held out to pick the epoch count (0 = no validation)"),
    patience: positiveInt().default(3).describe('epochs without a better validation recall before stopping'),
    val_k: positiveInt().default(10).describe('K of the validation recall@K'),
    val_users: positiveInt()
      .default(2000)
      .describe('users sampled for validation (scoring every user each epoch would dominate on large data)'),
    tag_vocab: z.number().int().min(0).default(100).describe('tag vocabulary size (the most widely used tags)'),
    year_buckets: positiveInt().default(16).describe('release-year buckets (quantiles of the catalogue\'s years), besides "unknown"'),
    threads: z
      .number()
      .int()
      .min(0)
      .max(1024)
      .default(0)
      .describe('threads of the training kernels (0 = every available core); the same seed gives the same model for any thread count'),
    backend: z
      .enum(BACKEND_CHOICES)
      .default('auto')
      .describe('TensorFlow.js backend evaluating the trained towers (validation, embeddings)'),
  })
  .strict();

export type TwoTowerParams = z.infer<typeof twoTowerParamsSchema>;
