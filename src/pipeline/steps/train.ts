import { join } from 'node:path';
import { z } from 'zod';
import { readManifest, type ArtifactManifest } from '../../artifacts/store.js';
import { safeParseParams } from '../../models/params.js';
import { getFactory, modelKinds } from '../model-registry.js';
import { protocolLabel, type SplitManifest } from '../../split/manifest.js';
import { metricName } from '../../tracking/limits.js';
import { trainModel } from '../train.js';
import { NAME } from '../spec.js';
import { docIssues } from '../zod-issues.js';
import { latestState, requireLatest } from './artifacts.js';
import { selectedSplits, splitArtifactName, unknownSplits } from './split.js';
import type { ReportRow, StepKind } from './step.js';

/**
 * `- kind: train`: fits a model on each split it lists (default: all) and evaluates it on
 * that split's test side. One artifact per (model, split), `<name>-<split>`, because a
 * model trained on one split must not be evaluated on another (its test rows may be
 * training rows there).
 */
const schema = z
  .object({
    /** A registered model kind. */
    model: z.string(),
    /** Artifact name prefix and the name other steps use; default: the model kind. */
    name: NAME.optional(),
    /** Hyper-parameters, checked against the model's schema; the rest take its defaults. */
    params: z.record(z.unknown()).default({}),
    splits: z.array(z.string()).nonempty().optional(),
    /** Default: the file's seed. */
    seed: z.number().int().optional(),
  })
  .strict()
  .transform((o, ctx) => {
    if (!modelKinds().includes(o.model)) {
      ctx.addIssue({ code: 'custom', path: ['model'], message: `unknown model "${o.model}" (registered: ${modelKinds().join(', ')})` });
      return z.NEVER;
    }
    // The model's own schema: ranges, choices and unknown keys, reported at the key's line.
    const factory = getFactory(o.model);
    const { params: schema } = factory;
    const params = safeParseParams(schema, o.params);
    if (params.success) {
      const problems = factory.checkParams?.(params.data) ?? [];
      for (const p of problems) ctx.addIssue({ code: 'custom', path: ['params', p.key], message: `${o.model}: ${p.message}` });
      return problems.length > 0 ? z.NEVER : { ...o, params: params.data as Record<string, unknown> };
    }
    for (const issue of docIssues(params.error, schema, ['params']))
      ctx.addIssue({ code: 'custom', path: [...issue.path], message: `${o.model}: ${issue.message}` });
    return z.NEVER;
  });

type TrainOptions = z.output<typeof schema>;

export function modelArtifactName(model: string, split: string): string {
  return `${model}-${split}`;
}

export function trainStepName(o: TrainOptions): string {
  return o.name ?? o.model;
}

/** The row of a model artifact in the final table: its metrics on the split it was trained on. */
export function modelRow(manifest: ArtifactManifest, split: string, model: string): ReportRow {
  const protocol = protocolLabel(manifest.split as unknown as SplitManifest);
  return {
    split,
    protocol,
    name: model,
    model,
    artifact: { name: manifest.name, version: manifest.version },
    metrics: manifest.metrics[protocol] ?? {},
  };
}

export const trainStep: StepKind<TrainOptions> = {
  kind: 'train',
  module: import.meta.url,
  schema,
  produces: (o, { head }) =>
    selectedSplits(o.splits, head).map((s) => ({
      token: `model:${trainStepName(o)}:${s}`,
      output: modelArtifactName(trainStepName(o), s),
    })),
  needs: (o, { head }) =>
    selectedSplits(o.splits, head).map((s, i) => ({
      path: o.splits ? ['splits', i] : [],
      token: `split:${s}`,
      missing: `split "${s}" is made by no split step before this one (add \`- kind: split\` before it)`,
    })),
  check: (o, { head, step }) => unknownSplits(o.splits, head, step),
  plan(o, { head, step }) {
    const name = trainStepName(o);
    const seed = o.seed ?? head.seed;
    return selectedSplits(o.splits, head).map((split) => {
      const output = modelArtifactName(name, split);
      let splitDir = '';
      return {
        step,
        kind: 'train',
        label: `train ${output}`,
        output,
        split,
        config: { model: o.model, params: o.params, seed, k: head.k, split },
        async inputs() {
          const input = requireLatest(head.artifacts, splitArtifactName(split), `the split step of "${split}"`);
          splitDir = input.dir;
          const manifest = input.manifest.split as unknown as SplitManifest;
          return {
            identity: { split: manifest.sha256, dataset: manifest.input.interactions_sha256 },
            lineage: [input.ref],
            tags: { 'recsys.dataset.sha256': manifest.input.interactions_sha256, 'recsys.split.sha256': manifest.sha256 },
          };
        },
        current: () => latestState(head.artifacts, output),
        async run(work) {
          const result = await trainModel({
            kind: o.model,
            datasetDir: head.data.out,
            split: { dir: splitDir },
            params: o.params,
            seed,
            out: join(head.artifacts, output),
            ks: head.k,
            ctx: { onEpoch: (epoch, metrics) => work.run.logMetrics(mlflowMetrics(metrics), epoch) },
            manifest: { lineage: work.lineage, details: { pipeline: work.details } },
            finish: work.finish,
          });
          work.run.logMetrics({ fit_seconds: result.fitSeconds });
          return result.dir;
        },
        report: (dir) => [modelRow(readManifest(dir), split, name)],
      };
    });
  },
};

/** Epoch metrics under their MLflow names (`ndcg@10` → `ndcg_at_10`). */
function mlflowMetrics(metrics: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).map(([k, v]) => [metricName(k), v]));
}
