import { join } from 'node:path';
import { z } from 'zod';
import { createArtifact, readManifest } from '../../artifacts/store.js';
import { recommendAllUsers } from '../recommend.js';
import { latestState } from './artifacts.js';
import { modelInputs, modelStepGraph, modelStepKeys, modelStepSplit, requireModel } from './model-step.js';
import type { StepKind } from './step.js';
import { modelArtifactName } from './train.js';

/**
 * `- kind: recommend`: the batch export for a serving cache, `recsys recommend --all-users`
 * on the latest artifact of a model trained on a split: an artifact `recs-<model>-<split>`
 * holding recs.parquet (user_id, item_id, rank, score, channel).
 */
export const RECS_FILE = 'recs.parquet';

const schema = z
  .object({
    ...modelStepKeys,
    k: z.number().int().min(1).default(100),
    batch_size: z.number().int().min(1).default(2048),
  })
  .strict();

type RecommendOptions = z.infer<typeof schema>;

export function recsArtifactName(model: string, split: string): string {
  return `recs-${model}-${split}`;
}

export const recommendStep: StepKind<RecommendOptions> = {
  kind: 'recommend',
  module: import.meta.url,
  schema,
  ...modelStepGraph('recs', recsArtifactName),
  plan(o, { head, step }) {
    const split = modelStepSplit(o, head);
    const output = recsArtifactName(o.model, split);
    const source = modelArtifactName(o.model, split);
    let modelDir = '';
    return [
      {
        step,
        kind: 'recommend',
        label: `recommend ${source}`,
        output,
        split,
        config: { model: o.model, split, k: o.k },
        async inputs() {
          const input = requireModel(head, o.model, split);
          modelDir = input.dir;
          return modelInputs(input);
        },
        current: () => latestState(head.artifacts, output),
        async run(work) {
          const model = readManifest(modelDir);
          const { dir } = await createArtifact(
            head.artifacts,
            output,
            {
              kind: 'recommendations',
              config: { model: o.model, split, k: o.k },
              seed: model.seed,
              dataset: model.dataset,
              split: model.split,
              lineage: work.lineage,
              details: { pipeline: work.details },
            },
            async (tmp) => {
              const report = await recommendAllUsers({ model: modelDir, k: o.k, out: join(tmp, RECS_FILE), batchSize: o.batch_size });
              work.run.logMetrics({ users: report.users, rows: report.rows, seconds: report.seconds });
              work.processed(report.rows);
            },
            { finish: work.finish },
          );
          return dir;
        },
        report: () => [],
      },
    ];
  },
};
