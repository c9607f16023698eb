import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { createArtifact } from '../../artifacts/store.js';
import { writeJsonAtomic } from '../../util/fs.js';
import { evaluateRun } from '../evaluate.js';
import { contentHash, latestState } from './artifacts.js';
import { selectedSplits, unknownSplits } from './split.js';
import { requireModel } from './model-step.js';
import type { Produced, ReportRow, StepContext, StepKind } from './step.js';

/**
 * `- kind: eval`: evaluates the latest artifact of every model trained on a split (or of
 * the listed models) on that split, loading each from disk, and writes an `eval-<split>`
 * artifact with the report. The file's `gates:` are checked on these rows (gates.ts).
 */
export const REPORT_FILE = 'report.json';

const schema = z
  .object({
    splits: z.array(z.string()).nonempty().optional(),
    /** Train step names; default: every model trained on the split by an earlier step. */
    models: z.array(z.string()).nonempty().optional(),
  })
  .strict();

type EvalOptions = z.infer<typeof schema>;

interface EvalReport {
  readonly split: string;
  readonly k: number[];
  readonly rows: ReportRow[];
}

export function evalArtifactName(split: string): string {
  return `eval-${split}`;
}

/** Train step names whose models of `split` earlier steps make. */
function modelsTrainedOn(split: string, earlier: readonly Produced[]): string[] {
  const suffix = `:${split}`;
  return earlier
    .filter((p) => p.token.startsWith('model:') && p.token.endsWith(suffix))
    .map((p) => p.token.slice('model:'.length, -suffix.length));
}

function modelsOf(o: EvalOptions, split: string, at: StepContext): string[] {
  return o.models ? [...o.models] : modelsTrainedOn(split, at.earlier);
}

export const evalStep: StepKind<EvalOptions> = {
  kind: 'eval',
  module: import.meta.url,
  schema,
  produces: (o, { head }) => selectedSplits(o.splits, head).map((s) => ({ token: `eval:${s}`, output: evalArtifactName(s) })),
  needs: (o, at) =>
    selectedSplits(o.splits, at.head).flatMap((s) =>
      (o.models ?? []).map((m, i) => ({
        path: ['models', i],
        token: `model:${m}:${s}`,
        missing: `no train step before this one trains "${m}" on split "${s}"`,
      })),
    ),
  check: (o, at) => [
    ...unknownSplits(o.splits, at.head, at.step),
    ...selectedSplits(o.splits, at.head)
      .filter((s) => at.earlierValid && modelsOf(o, s, at).length === 0)
      .map((s) => ({ path: ['steps', at.step], message: `no model is trained on split "${s}" by a step before this eval step` })),
  ],
  plan(o, at) {
    const { head, step } = at;
    return selectedSplits(o.splits, head).map((split) => {
      const models = modelsOf(o, split, at);
      const output = evalArtifactName(split);
      const inputDirs = new Map<string, string>();
      return {
        step,
        kind: 'eval',
        label: `eval ${split}`,
        output,
        split,
        config: { split, models, k: head.k },
        async inputs() {
          const found = models.map((m) => {
            const input = requireModel(head, m, split);
            inputDirs.set(m, input.dir);
            return input;
          });
          return {
            identity: { models: found.map((f) => [f.ref.name, contentHash(f.manifest)]) },
            lineage: found.map((f) => f.ref),
            tags: { 'recsys.dataset.sha256': found[0]?.manifest.dataset?.interactions_sha256 ?? '' },
          };
        },
        current: () => latestState(head.artifacts, output),
        async run(work) {
          const rows: ReportRow[] = [];
          for (const [i, model] of models.entries()) {
            const outcome = await evaluateRun({ model: inputDirs.get(model) ?? '', ks: head.k });
            rows.push({ split, protocol: outcome.protocol, name: model, model, artifact: work.lineage[i], metrics: outcome.metrics });
          }
          const report: EvalReport = { split, k: head.k, rows };
          const created = await createArtifact(
            head.artifacts,
            output,
            { kind: 'evaluation', config: { split, models, k: head.k }, lineage: work.lineage, details: { pipeline: work.details } },
            async (tmp) => writeJsonAtomic(join(tmp, REPORT_FILE), report),
            { finish: work.finish },
          );
          return created.dir;
        },
        report: (dir) => (JSON.parse(readFileSync(join(dir, REPORT_FILE), 'utf8')) as EvalReport).rows,
      };
    });
  },
};
