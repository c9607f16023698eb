import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InputError } from '../util/errors.js';

/**
 * An A/B test as declared in its file (docs/experiments.md): users are split between variants by
 * a deterministic hash, so the same user gets the same variant on every server and after every
 * restart, with no assignment table to keep.
 */

/** Buckets a user hashes into; a variant's share is a whole number of them (0.01 %). */
export const BUCKETS = 10_000;

const variantSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a name of letters, digits, _ . - (1 to 64)'),
    /** Share of users, 0 < share ≤ 1; the shares of an experiment sum to 1. */
    share: z.number().gt(0).lte(1),
    /** The model artifact this variant serves (its latest); absent = the server's own. */
    model: z.string().min(1).optional(),
    /** The placement policy this variant serves (e.g. epsilon-greedy:0.1:candidates); absent = the server's own. */
    policy: z.string().min(1).optional(),
  })
  .strict();

export const experimentSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'an id of letters, digits, _ . - (1 to 64)'),
    /** Changing the salt reshuffles users: experiments with different salts split users independently. */
    salt: z.string().min(1),
    /** When the experiment starts (ISO 8601); events before it are its pre-period (CUPED). */
    start: z.string().datetime({ offset: true }),
    /** When it ends (ISO 8601); absent = still running. */
    end: z.string().datetime({ offset: true }).optional(),
    /** The variant the others are compared with; default: the first. */
    control: z.string().optional(),
    variants: z.array(variantSchema).min(2, 'at least two variants'),
  })
  .strict()
  .superRefine((e, ctx) => {
    const total = e.variants.reduce((s, v) => s + v.share, 0);
    if (Math.abs(total - 1) > 1e-9) ctx.addIssue({ code: 'custom', path: ['variants'], message: `shares sum to ${total}, not 1` });
    const names = new Set<string>();
    e.variants.forEach((v, i) => {
      if (names.has(v.name)) ctx.addIssue({ code: 'custom', path: ['variants', i, 'name'], message: `duplicate variant ${v.name}` });
      names.add(v.name);
      if (Math.abs(v.share * BUCKETS - Math.round(v.share * BUCKETS)) > 1e-6)
        ctx.addIssue({ code: 'custom', path: ['variants', i, 'share'], message: `not a whole number of 1/${BUCKETS}` });
    });
    if (e.control !== undefined && !names.has(e.control))
      ctx.addIssue({ code: 'custom', path: ['control'], message: `no variant named ${e.control}` });
    if (e.end !== undefined && Date.parse(e.end) <= Date.parse(e.start))
      ctx.addIssue({ code: 'custom', path: ['end'], message: 'must be after start' });
  });

export type Experiment = z.infer<typeof experimentSchema>;
export type Variant = Experiment['variants'][number];

/** Validates a parsed experiment document; an InputError names `source` and the field at fault. */
export function parseExperiment(doc: unknown, source: string): Experiment {
  const result = experimentSchema.safeParse(doc);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new InputError(`${source}: ${where}${issue.message}`);
}

/** Reads an experiment file (YAML or JSON). */
export function loadExperiment(path: string): Experiment {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(`${path}: cannot read the experiment file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new InputError(`${path}: not YAML or JSON (${(err as Error).message.split('\n')[0]})`);
  }
  return parseExperiment(doc, path);
}

/**
 * The user's bucket in 0..BUCKETS-1: the first 8 bytes of sha256("salt:id:user") modulo BUCKETS
 * (the modulo bias of a 64-bit value over 10,000 buckets is below 1e-15).
 */
export function bucketOf(experiment: Pick<Experiment, 'id' | 'salt'>, userId: number): number {
  const digest = createHash('sha256').update(`${experiment.salt}:${experiment.id}:${userId}`).digest();
  return Number(digest.readBigUInt64BE(0) % BigInt(BUCKETS));
}

/** The variant a user is in: variants own consecutive bucket ranges in the file's order. */
export function assignVariant(experiment: Experiment, userId: number): Variant {
  const bucket = bucketOf(experiment, userId);
  let end = 0;
  for (const v of experiment.variants) {
    end += Math.round(v.share * BUCKETS);
    if (bucket < end) return v;
  }
  return experiment.variants[experiment.variants.length - 1];
}

/** The control variant's name (the file's `control`, else its first variant). */
export function controlOf(experiment: Experiment): string {
  return experiment.control ?? experiment.variants[0].name;
}
