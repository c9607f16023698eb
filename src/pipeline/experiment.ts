import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { ITEMS_FILE, loadDataset, META_FILE, type Dataset } from '../data/dataset.js';
import type { Interactions } from '../data/interactions.js';
import { buildTrainingData, type TrainingData } from '../data/training-data.js';
import { MANIFEST_FILE, type ArtifactManifest } from '../artifacts/store.js';
import { verifyArtifact } from '../artifacts/verify.js';
import { checkSplitMatches, describeSplit, isSplitDir, readSplitDir, splitParamsOf, type SplitManifest } from '../split/manifest.js';
import { splitInteractions, type SplitParams } from '../split/split.js';
import { InputError } from '../util/errors.js';
import { log } from '../util/log.js';

/** Either a split to compute on the fly, or a directory written by `recsys split`. */
export type SplitSource = SplitParams | { readonly dir: string };

/** A dataset, split and the training data built from it: the input of every fit and eval. */
export interface Experiment {
  readonly dataset: Dataset;
  readonly split: SplitManifest;
  readonly train: Interactions;
  readonly test: Interactions;
  readonly training: TrainingData;
}

export async function prepareExperiment(
  datasetDir: string,
  source: SplitSource,
  opts: { seed?: number; tags?: boolean } = {},
): Promise<Experiment> {
  const dataset = await loadDataset(datasetDir, { catalog: true, tags: opts.tags ?? false });
  if (!dataset.catalog) log.warn(`${join(datasetDir, ITEMS_FILE)}: absent, so diversity@K (which compares genres) is not reported`);
  let manifest: SplitManifest;
  let train: Interactions;
  let test: Interactions;
  if ('dir' in source) {
    if (!isSplitDir(source.dir)) throw new InputError(`${source.dir}: not a split directory`);
    // A pipeline's split artifact: its manifest records every file's hash.
    const artifact = existsSync(join(source.dir, MANIFEST_FILE));
    if (artifact) await verifyArtifact(source.dir);
    const saved = await readSplitDir(source.dir);
    if (saved.manifest.input.interactions_sha256 !== dataset.meta.interactions_sha256) {
      throw new InputError(`${source.dir}: split was made from different data than ${datasetDir} (interactions sha256 differs)`);
    }
    if (!artifact) checkSplitMatches(source.dir, saved, dataset);
    ({ manifest, train, test } = saved);
  } else {
    const split = splitInteractions(dataset.interactions, source);
    manifest = describeSplit(split, dataset);
    ({ train, test } = split);
  }
  log.event('experiment.split', { ...manifest });
  const training = buildTrainingData(train, { catalog: dataset.catalog, tags: dataset.tags, seed: opts.seed });
  return { dataset, split: manifest, train, test, training };
}

/** What a model artifact was trained on, as its manifest records it, with the split's parameters to recompute it. */
export interface TrainedOn {
  readonly dataset: NonNullable<ArtifactManifest['dataset']>;
  readonly split: SplitManifest;
  readonly params: SplitParams;
}

export function trainedOn(dir: string, manifest: ArtifactManifest): TrainedOn {
  const split = manifest.split as unknown as SplitManifest | undefined;
  if (!manifest.dataset || !split) throw new InputError(`${dir}: the artifact records no dataset or split it was trained on`);
  return { dataset: { ...manifest.dataset, dir: locateDataset(dir, manifest.dataset.dir) }, split, params: splitParamsOf(split) };
}

/**
 * The dataset folder a manifest names. It is recorded as given, often relative to where the
 * pipeline ran (`data/ml-latest-small`); from another working directory (a server, a
 * notebook) it is looked for relative to the artifact's parent folders. The data's sha256 is
 * checked after loading, so a folder of the same name with other data is refused, not used.
 */
function locateDataset(artifactDir: string, recorded: string): string {
  if (isAbsolute(recorded) || existsSync(join(recorded, META_FILE))) return recorded;
  for (let dir = dirname(artifactDir); dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, recorded);
    if (existsSync(join(candidate, META_FILE))) return candidate;
  }
  return recorded;
}

/** Refuses an experiment whose data or split differ from what the model in `dir` was trained on. */
export function checkTrainedOn(dir: string, exp: Experiment, trained: TrainedOn): void {
  if (exp.dataset.meta.interactions_sha256 !== trained.dataset.interactions_sha256) {
    throw new InputError(`${dir} was trained on different data than ${exp.dataset.dir} (interactions sha256 differs)`);
  }
  if (exp.split.sha256 !== trained.split.sha256) {
    throw new InputError(`${dir}: the split recomputed from the data differs from the one the model was trained on`);
  }
}
