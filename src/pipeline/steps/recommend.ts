import { join } from 'node:path';
import { z } from 'zod';
import { createArtifact, readManifest } from '../../artifacts/store.js';
import { recommendAllUsers } from '../recommend.js';
import { contentHash, latestState, requireLatest } from './artifacts.js';
import { unknownSplits } from './split.js';
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
    /** The train step name whose model recommends (typically the ranker). */
    model: z.string(),
    /** Default: the first split of the file. */
    split: z.string().optional(),
    k: z.number().int().min(1).default(100),
    batch_size: z.number().int().min(1).default(2048),
  })
  .strict();

type RecommendOptions = z.infer<typeof schema>;

export function recsArtifactName(model: string, split: string): string {
  return `recs-${model}-${split}`;
}

function splitOf(o: RecommendOptions, splits: Record<string, unknown>): string {
  return o.split ?? Object.keys(splits)[0];
}

export const recommendStep: StepKind<RecommendOptions> = {
  kind: 'recommend',
  schema,
  produces: (o, { head }) => [{ token: `recs:${o.model}:${splitOf(o, head.splits)}`, output: recsArtifactName(o.model, splitOf(o, head.splits)) }],
  needs: (o, { head }) => {
    const split = splitOf(o, head.splits);
    return [{ path: ['model'], token: `model:${o.model}:${split}`, missing: `no train step before this one trains "${o.model}" on split "${split}"` }];
  },
  check: (o, { head, step }) => unknownSplits(o.split === undefined ? [] : [o.split], head, step).map((i) => ({ ...i, path: ['steps', step, 'split'] })),
  plan(o, { head, step }) {
    const split = splitOf(o, head.splits);
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
          const input = requireLatest(head.artifacts, source, `the train step of "${o.model}"`);
          modelDir = input.dir;
          return {
            identity: { model: contentHash(input.manifest) },
            lineage: [input.ref],
            tags: { 'recsys.dataset.sha256': input.manifest.dataset?.interactions_sha256 ?? '' },
          };
        },
        current: () => latestState(head.artifacts, output),
        async run(work) {
          const model = readManifest(modelDir);
          const { dir } = await createArtifact(
            head.artifacts,
            output,
            { kind: 'recommendations', config: { model: o.model, split, k: o.k }, seed: model.seed, dataset: model.dataset, split: model.split, lineage: work.lineage, details: { pipeline: work.details } },
            async (tmp) => {
              const report = await recommendAllUsers({ model: modelDir, k: o.k, out: join(tmp, RECS_FILE), batchSize: o.batch_size });
              work.run.logMetrics({ users: report.users, rows: report.rows, seconds: report.seconds });
            },
          );
          return dir;
        },
        report: () => [],
      },
    ];
  },
};

