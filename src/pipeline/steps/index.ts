import { join } from 'node:path';
import { z } from 'zod';
import { writeNpy } from '../../artifacts/npy.js';
import { createArtifact, readManifest } from '../../artifacts/store.js';
import { countDistinct } from '../../data/dataset.js';
import { evaluateTargets, seenMatrix } from '../../eval/evaluate.js';
import { buildTargets } from '../../eval/protocol.js';
import { METRICS } from '../../index/ann-index.js';
import { buildIndex } from '../../index/build.js';
import { writeIndex } from '../../index/io.js';
import { searchExcluding } from '../../index/search.js';
import { getFactory } from '../../models/registry.js';
import { protocolLabel } from '../../split/manifest.js';
import { InputError } from '../../util/errors.js';
import { prepareExperiment } from '../experiment.js';
import { contentHash, latestState, requireLatest } from './artifacts.js';
import { splitArtifactName, unknownSplits } from './split.js';
import type { StepKind } from './step.js';
import { modelArtifactName } from './train.js';

/**
 * `- kind: index`: a FAISS index over the item vectors of a model's latest artifact
 * (`index.faiss`, read by faiss.read_index, and `item_ids.npy`: label i is that raw item id),
 * and the serving stage's metrics: the split's evaluation with top-k lists read from the
 * index instead of exact scoring. `recsys index --pipeline FILE` runs only these steps.
 */
export const INDEX_FILE = 'index.faiss';
export const ITEM_IDS_FILE = 'item_ids.npy';

const schema = z
  .object({
    /** The train step name whose model is indexed. */
    model: z.string(),
    /** Default: the first split of the file. */
    split: z.string().optional(),
    /** FAISS factory string: Flat, IVF256,Flat, HNSW32, IVF256,PQ16, ... */
    factory: z.string().default('Flat'),
    metric: z.enum(METRICS as ['ip', 'l2']).default('ip'),
    nprobe: z.number().int().min(1).optional(),
    ef_search: z.number().int().min(1).optional(),
    /** Seed of the training sample; default: the file's seed. */
    seed: z.number().int().optional(),
  })
  .strict();

type IndexOptions = z.infer<typeof schema>;

export function indexArtifactName(model: string, split: string): string {
  return `index-${model}-${split}`;
}

export const indexStep: StepKind<IndexOptions> = {
  kind: 'index',
  schema,
  produces: (o, { head }) => {
    const split = o.split ?? Object.keys(head.splits)[0];
    return [{ token: `index:${o.model}:${split}`, output: indexArtifactName(o.model, split) }];
  },
  needs: (o, { head }) => {
    const split = o.split ?? Object.keys(head.splits)[0];
    return [{ path: ['model'], token: `model:${o.model}:${split}`, missing: `no train step before this one trains "${o.model}" on split "${split}"` }];
  },
  check: (o, { head, step }) => unknownSplits(o.split === undefined ? [] : [o.split], head, step, 'split').map((i) => ({ ...i, path: ['steps', step, 'split'] })),
  plan(o, { head, step }) {
    const split = o.split ?? Object.keys(head.splits)[0];
    const output = indexArtifactName(o.model, split);
    const source = modelArtifactName(o.model, split);
    const settings = { factory: o.factory, metric: o.metric, nprobe: o.nprobe, efSearch: o.ef_search, seed: o.seed ?? head.seed };
    let modelDir = '';
    return [
      {
        step,
        kind: 'index',
        label: `index ${source}`,
        output,
        split,
        config: { model: o.model, split, ...settings, k: head.k },
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
          const manifest = readManifest(modelDir);
          const model = await getFactory(manifest.kind).load(modelDir);
          const items = model.itemEmbeddings();
          const users = model.userEmbeddings();
          if (!items || !users) throw new InputError(`${modelDir}: a ${manifest.kind} model has no item and user vectors to index; index steps need a factor model`);
          const { index, stats } = buildIndex(items, settings);
          // The serving stage on the split the model was trained on (its lineage names it).
          const splitRef = manifest.lineage.find((r) => r.name === splitArtifactName(split));
          if (!splitRef) throw new InputError(`${modelDir}: its manifest names no ${splitArtifactName(split)} artifact in its lineage`);
          const exp = await prepareExperiment(head.data.out, { dir: join(head.artifacts, splitRef.name, splitRef.version) });
          const seen = seenMatrix(model, exp.train);
          const targets = buildTargets(exp.test, model.users, model.items, seen);
          const metrics = evaluateTargets((rows, k) => searchExcluding(index, users, rows, k, seen), model, targets, seen, countDistinct(exp.train.itemId), {
            ks: head.k,
            catalog: exp.dataset.catalog,
          });
          const created = await createArtifact(
            head.artifacts,
            output,
            {
              kind: 'index',
              config: { model: o.model, split, ...settings },
              seed: settings.seed,
              split: { ...exp.split },
              lineage: work.lineage,
              metrics: { [protocolLabel(exp.split)]: metrics },
              details: { pipeline: work.details, build: stats },
            },
            async (tmp) => {
              writeIndex(index, join(tmp, INDEX_FILE));
              writeNpy(join(tmp, ITEM_IDS_FILE), model.items.ids);
            },
          );
          work.run.logMetrics({ build_seconds: stats.seconds.total });
          return created.dir;
        },
        report(dir) {
          const m = readManifest(dir);
          const [protocol, metrics] = Object.entries(m.metrics)[0] ?? ['', {}];
          return [{ split, protocol, name: `${o.model} via ${o.factory}`, metrics }];
        },
      },
    ];
  },
};
