import { z } from 'zod';
import { createArtifact } from '../../artifacts/store.js';
import { loadDataset, readDatasetMeta } from '../../data/dataset.js';
import { describeSplit, writeSplit } from '../../split/manifest.js';
import { splitInteractions } from '../../split/split.js';
import type { PipelineHead } from '../spec.js';
import { latestState } from './artifacts.js';
import type { DocIssue, StepKind } from './step.js';

/**
 * `- kind: split`: writes each split of the file (or those listed) as an artifact
 * `split-<name>` holding train.parquet, test.parquet and split.json (a `recsys split`
 * directory), so models trained on it record exactly which rows they saw.
 */
const schema = z
  .object({
    /** Names under `splits:`; default: all. */
    splits: z.array(z.string()).nonempty().optional(),
  })
  .strict();

type SplitOptions = z.infer<typeof schema>;

export function splitArtifactName(split: string): string {
  return `split-${split}`;
}

/** The split names a step lists, or every split of the file. */
export function selectedSplits(listed: readonly string[] | undefined, head: PipelineHead): string[] {
  return listed ? [...listed] : Object.keys(head.splits);
}

/** Issues for listed split names the file does not define. */
export function unknownSplits(listed: readonly string[] | undefined, head: PipelineHead, step: number, key = 'splits'): DocIssue[] {
  return (listed ?? []).flatMap((name, i) =>
    name in head.splits
      ? []
      : [{ path: ['steps', step, key, i], message: `unknown split "${name}" (the file's splits: ${Object.keys(head.splits).join(', ')})` }],
  );
}

export const splitStep: StepKind<SplitOptions> = {
  kind: 'split',
  module: import.meta.url,
  schema,
  produces: (o, { head }) => selectedSplits(o.splits, head).map((s) => ({ token: `split:${s}`, output: splitArtifactName(s) })),
  needs: () => [],
  check: (o, { head, step }) => unknownSplits(o.splits, head, step),
  plan(o, { head, step }) {
    return selectedSplits(o.splits, head).map((name) => {
      const params = head.splits[name];
      const output = splitArtifactName(name);
      return {
        step,
        kind: 'split',
        label: `split ${name}`,
        output,
        split: name,
        config: { split: name, ...params },
        async inputs() {
          const sha = readDatasetMeta(head.data.out).interactions_sha256;
          return { identity: { dataset: sha }, lineage: [], tags: { 'recsys.dataset.sha256': sha } };
        },
        current: () => latestState(head.artifacts, output),
        async run(work) {
          const dataset = await loadDataset(head.data.out, { catalog: false });
          const split = splitInteractions(dataset.interactions, params);
          const manifest = describeSplit(split, dataset);
          const created = await createArtifact(
            head.artifacts,
            output,
            {
              kind: 'split',
              config: { split: name, ...params },
              seed: params.seed,
              dataset: { dir: dataset.dir, interactions_sha256: dataset.meta.interactions_sha256 },
              split: { ...manifest },
              lineage: work.lineage,
              details: { pipeline: work.details },
            },
            (tmp) => writeSplit(tmp, split, manifest),
            { finish: work.finish },
          );
          work.run.setTags({ 'recsys.split.sha256': manifest.sha256 });
          work.processed(manifest.counts.train_rows + manifest.counts.test_rows);
          work.run.logMetrics({
            train_rows: manifest.counts.train_rows,
            test_rows: manifest.counts.test_rows,
            evaluated_users: manifest.counts.evaluated_users,
          });
          return created.dir;
        },
        report: () => [],
      };
    });
  },
};
