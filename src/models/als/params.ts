import { z } from 'zod';

/** How an interaction's weight w (confidence c = 1 + alpha × w) is read from the training data. */
export const ALS_WEIGHTS = ['one', 'count', 'rating'] as const;
export type AlsWeight = (typeof ALS_WEIGHTS)[number];

/** Defaults chosen on a validation split carved from the training part of ml-latest-small (docs/benchmarks.md, ALS). */
export const alsParamsSchema = z
  .object({
    factors: z.number().int().min(1).max(1024).default(64).describe('latent factors'),
    regularization: z.number().min(0).finite().default(30).describe('L2 regularization λ, added to the diagonal of every normal equation'),
    alpha: z.number().min(0).finite().default(2).describe('confidence slope: c = 1 + alpha × weight'),
    iterations: z.number().int().min(1).max(10_000).default(15).describe('alternating sweeps (users, then items)'),
    cg_steps: z
      .number()
      .int()
      .min(1)
      .max(1024)
      .default(3)
      .describe('conjugate-gradient steps per row and sweep (warm-started from the previous sweep)'),
    threads: z.number().int().min(0).max(1024).default(0).describe('threads (0 = every available core); results do not depend on it'),
    weight: z
      .enum(ALS_WEIGHTS)
      .default('one')
      .describe("interaction weight w: one per user-item pair, count of interactions, or sum of the pair's ratings"),
    loss: z.boolean().default(false).describe('compute the training loss after every iteration (one extra pass over the data)'),
  })
  .strict();

export type AlsParams = z.infer<typeof alsParamsSchema>;
