import { join } from 'node:path';
import { z } from 'zod';
import { readManifest } from '../../artifacts/store.js';
import { METRICS } from '../../index/ann-index.js';
import { parseFactory, type FactorySpec } from '../../index/factory.js';
import { InputError } from '../../util/errors.js';
import { evaluateRun } from '../evaluate.js';
import { indexModel } from '../index-model.js';
import { latestState } from './artifacts.js';
import { modelInputs, modelStepGraph, modelStepKeys, modelStepSplit, requireModel } from './model-step.js';
import type { StepKind } from './step.js';
import { modelArtifactName } from './train.js';

/**
 * `- kind: index`: `recsys index` on the latest artifact of a model trained on a split: an
 * artifact `index-<model>-<split>` holding the model's files and a FAISS index of its item
 * vectors (recall against exact search measured), then the serving stage evaluated: the
 * split's protocol with top-k lists retrieved through the index (`... via-index`).
 * `recsys index --pipeline FILE` runs only these steps.
 */
const VIA_INDEX = ' via-index';

const schema = z
  .object({
    ...modelStepKeys,
    /** FAISS factory string: Flat, IVF256,Flat, HNSW32, IVF256,PQ16np, ... (src/index/factory.ts) */
    factory: z.string().default('Flat'),
    metric: z.enum(METRICS as ['ip', 'l2']).default('ip'),
    nprobe: z.number().int().min(1).optional(),
    ef_search: z.number().int().min(1).optional(),
    /** Inner product as L2 search over augmented vectors (src/index/mips.ts); auto: for IVF. */
    mips_transform: z.enum(['auto', 'on', 'off']).default('auto'),
    /** Seed of the training sample; default: the file's seed. */
    seed: z.number().int().optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    // Checked when the file loads: FAISS would crash on some factories, after the model is trained.
    let spec: FactorySpec;
    try {
      spec = parseFactory(o.factory);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      ctx.addIssue({ code: 'custom', path: ['factory'], message: err.message });
      return;
    }
    const { structure } = spec;
    if (o.nprobe !== undefined && structure.kind !== 'ivf')
      ctx.addIssue({ code: 'custom', path: ['nprobe'], message: `nprobe applies to IVF factories, not ${o.factory}` });
    if (o.nprobe !== undefined && structure.kind === 'ivf' && o.nprobe > structure.nlist)
      ctx.addIssue({
        code: 'custom',
        path: ['nprobe'],
        message: `nprobe ${o.nprobe} exceeds the ${structure.nlist} lists of ${o.factory}`,
      });
    if (o.ef_search !== undefined && structure.kind !== 'hnsw')
      ctx.addIssue({ code: 'custom', path: ['ef_search'], message: `ef_search applies to HNSW factories, not ${o.factory}` });
  });

type IndexOptions = z.infer<typeof schema>;

export function indexArtifactName(model: string, split: string): string {
  return `index-${model}-${split}`;
}

export const indexStep: StepKind<IndexOptions> = {
  kind: 'index',
  module: import.meta.url,
  schema,
  ...modelStepGraph('index', indexArtifactName),
  plan(o, { head, step }) {
    const split = modelStepSplit(o, head);
    const output = indexArtifactName(o.model, split);
    const source = modelArtifactName(o.model, split);
    const settings = {
      factory: o.factory,
      metric: o.metric,
      nprobe: o.nprobe,
      efSearch: o.ef_search,
      mipsTransform: o.mips_transform,
      seed: o.seed ?? head.seed,
    };
    let modelDir = '';
    /** The serving stage's metrics, recorded after the artifact is made; absent if that was interrupted. */
    const stageMetrics = (dir: string): [string, Record<string, number>] | undefined =>
      Object.entries(readManifest(dir).metrics).find(([p]) => p.endsWith(VIA_INDEX));
    return [
      {
        step,
        kind: 'index',
        label: `index ${source}`,
        output,
        split,
        config: { model: o.model, split, ...settings, k: head.k },
        async inputs() {
          const input = requireModel(head, o.model, split);
          modelDir = input.dir;
          return modelInputs(input);
        },
        current() {
          const state = latestState(head.artifacts, output);
          // Without the stage's metrics the unit did not finish: run it again.
          return state && !stageMetrics(state.dir) ? { ...state, fingerprint: null } : state;
        },
        async run(work) {
          const { dir } = await indexModel({
            model: modelDir,
            ...settings,
            out: join(head.artifacts, output),
            details: { pipeline: work.details },
            // The serving stage is evaluated on the new version before `latest` moves to it.
            finish: async (tmp, report) => {
              work.run.logMetrics({
                build_seconds: report.build.seconds.total,
                index_recall_10: report.measurement.recall,
                batched_qps: report.measurement.index.batchedQps,
              });
              await evaluateRun({ model: tmp, ks: head.k, viaIndex: {} });
              await work.finish(tmp);
            },
          });
          return dir;
        },
        report(dir) {
          const [protocol, metrics] = stageMetrics(dir) ?? ['', {}];
          return [{ split, protocol, name: `${o.model} via ${o.factory}`, metrics }];
        },
      },
    ];
  },
};
