import { z } from 'zod';
import { delimiterProblem } from '../data/csv.js';
import { columnMappingProblem, TIMESTAMP_UNITS } from '../data/import.js';
import { EVENT_TYPE } from '../events/log-reader.js';
import { ACCURACY_METRICS, LIST_METRICS, MAX_CUTOFF } from '../eval/evaluate.js';
import { SPLIT_STRATEGIES, type SplitParams } from '../split/split.js';
import { DEFAULT_MONITORING_JOB } from '../tracking/prometheus-report.js';

/**
 * The pipeline file (pipelines/*.yaml), top level. Steps are validated by their own kind's
 * schema (steps/registry.ts), so a new step kind needs no change here. Relative paths are
 * relative to the working directory. Documented in docs/pipeline.md.
 */

/** Names that become parts of artifact names and MLflow experiment names. */
export const NAME = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'expected a name of letters, digits, "_", "-" and "." (starting with a letter or digit)');

const DEFAULT_FRAC = 0.8;

const splitSchema = z
  .object({
    strategy: z.enum(SPLIT_STRATEGIES),
    /** Train fraction; default 0.8 (not for leave-last-n). */
    frac: z.number().gt(0).lt(1).optional(),
    /** leave-last-n: test events per user. */
    n: z.number().int().min(1).optional(),
    /** random-user: seed of the draw. */
    seed: z.number().int().optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.strategy === 'leave-last-n' && s.n === undefined)
      ctx.addIssue({ code: 'custom', path: ['n'], message: 'leave-last-n needs n (test events per user)' });
    if (s.strategy !== 'leave-last-n' && s.n !== undefined)
      ctx.addIssue({ code: 'custom', path: ['n'], message: `n applies to leave-last-n only, not ${s.strategy}` });
    if (s.strategy === 'leave-last-n' && s.frac !== undefined)
      ctx.addIssue({ code: 'custom', path: ['frac'], message: 'frac does not apply to leave-last-n' });
    if (s.strategy !== 'random-user' && s.seed !== undefined)
      ctx.addIssue({ code: 'custom', path: ['seed'], message: 'seed applies to random-user only' });
  })
  .transform((s): SplitParams => ({ strategy: s.strategy, frac: s.frac ?? DEFAULT_FRAC, n: s.n, seed: s.seed }));

const dataSchema = z
  .object({
    /** Import format (the import step). */
    format: z.enum(['movielens', 'ml100k', 'csv']).default('movielens'),
    /** Import input: a directory (movielens, ml100k) or a CSV file; needed by the import step. */
    in: z.string().min(1).optional(),
    /** The dataset directory every other step reads. */
    out: z.string().min(1),
    columns: z
      .object({ user: z.string(), item: z.string(), rating: z.string().optional(), timestamp: z.string().optional() })
      .strict()
      .superRefine((c, ctx) => {
        const problem = columnMappingProblem(c);
        if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    delimiter: z
      .string()
      .superRefine((d, ctx) => {
        const problem = delimiterProblem(d);
        if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    encoding: z.enum(['utf8', 'latin1']).optional(),
    /** Unit of integer timestamps (default s). */
    timestamp_unit: z.enum(TIMESTAMP_UNITS as ['s', 'ms']).optional(),
    skip_bad: z.boolean().default(false),
    /** A log directory (docs/events.md) whose positive events the import step appends to the imported data. */
    events: z
      .object({
        logs: z.string().min(1),
        /** Positive event types and their weights as ratings (default click and purchase, 1 each). */
        weights: z.record(z.string().regex(EVENT_TYPE, 'a lower-case event type'), z.number().positive()).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type DataSpec = z.infer<typeof dataSchema>;

/** `ndcg@10`-style keys of the metrics the evaluator computes. */
export const METRIC_KEY = z.string().refine(
  (key) => {
    const m = /^([a-z_]+)@(\d+)$/.exec(key);
    return m !== null && Number(m[2]) >= 1 && ([...ACCURACY_METRICS, ...LIST_METRICS] as readonly string[]).includes(m[1]);
  },
  `expected METRIC@K with METRIC one of ${[...ACCURACY_METRICS, ...LIST_METRICS].join(', ')}`,
);

const gateSchema = z
  .object({
    /** The split (name under `splits`) the gate applies to; default: every split. */
    split: z.string().optional(),
    /** The model (train step name) the gate applies to; default: every model. */
    model: z.string().optional(),
    /** Absolute lower bounds, e.g. {ndcg@10: 0.05}. */
    fail_under: z.record(METRIC_KEY, z.number()).default({}),
    /** Largest relative drop from the previous `latest` version, e.g. {ndcg@10: 0.02} (2 %). */
    max_drop: z.record(METRIC_KEY, z.number().min(0).max(1)).default({}),
  })
  .strict();

export type GateSpec = z.infer<typeof gateSchema>;

/** An http(s) URL, e.g. of a Pushgateway. */
export const HTTP_URL = z.string().refine((url) => {
  try {
    return ['http:', 'https:'].includes(new URL(url).protocol);
  } catch {
    return false;
  }
}, 'expected an http:// or https:// URL');

const monitoringSchema = z
  .object({
    /** The Pushgateway's URL; default: the PUSHGATEWAY_URL environment variable; none: a textfile in the root. */
    pushgateway: HTTP_URL.optional(),
    /** The Pushgateway job the runs are pushed under. */
    job: NAME.default(DEFAULT_MONITORING_JOB),
  })
  .strict();

export type MonitoringSpec = z.infer<typeof monitoringSchema>;

export const pipelineSchema = z
  .object({
    /** The MLflow experiment of the pipeline's runs; default: the file name. */
    name: NAME.optional(),
    /** Artifact root; every step's versions go under it. */
    artifacts: z.string().min(1).default('artifacts'),
    /** Default seed of the steps. */
    seed: z.number().int().default(42),
    /** Evaluation cut-offs. */
    k: z.array(z.number().int().min(1).max(MAX_CUTOFF)).nonempty().default([10]),
    data: dataSchema,
    splits: z.record(NAME, splitSchema).refine((s) => Object.keys(s).length > 0, 'expected at least one split'),
    steps: z.array(z.unknown()).nonempty(),
    gates: z.array(gateSchema).default([]),
    /** Where each run's metrics go (Prometheus): docs/serving.md, "Monitoring". */
    monitoring: monitoringSchema.default({}),
  })
  .strict();

/** The top level of a validated pipeline file (steps still raw). */
export type PipelineHead = Omit<z.infer<typeof pipelineSchema>, 'steps' | 'name'> & {
  /** The file it was read from. */
  readonly file: string;
  readonly name: string;
};
