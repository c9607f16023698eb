import { basename, dirname } from 'node:path';
import {
  ARTIFACT_FOLDER_OUTPUT,
  createArtifact,
  type ArtifactManifest,
  type CreateOptions,
  type ManifestFields,
} from '../artifacts/store.js';
import { evaluateWithColdItems } from '../eval/cold-items.js';
import type { Metrics } from '../eval/evaluate.js';
import { summarisesTraining, type FitContext, type Recommender } from '../models/model.js';
import { parseParams } from '../models/params.js';
import { getFactory } from './model-registry.js';
import { protocolLabel } from '../split/manifest.js';
import { InputError } from '../util/errors.js';
import { log } from '../util/log.js';
import { makeDirs } from '../util/fs.js';
import { claimOutput } from '../util/output.js';
import { prepareExperiment, type Experiment, type SplitSource } from './experiment.js';

export interface TrainRequest {
  readonly kind: string;
  readonly datasetDir: string;
  readonly split: SplitSource;
  /** Model hyper-parameters, validated against the model's schema; missing ones take its defaults. */
  readonly params: Record<string, unknown>;
  readonly seed: number;
  /** Artifact directory, e.g. artifacts/als: versions are created under it. */
  readonly out: string;
  /** Cut-offs of the evaluation run after training. */
  readonly ks: number[];
  readonly ctx?: FitContext;
  /** Lineage and details the caller adds to the manifest (the pipeline runner does). */
  readonly manifest?: Pick<ManifestFields, 'lineage' | 'details'>;
  /** Runs on the complete version before `latest` moves (the pipeline moves the step's log into it). */
  readonly finish?: CreateOptions['finish'];
}

export interface TrainResult {
  readonly dir: string;
  readonly manifest: ArtifactManifest;
  readonly metrics: Metrics;
  readonly model: Recommender;
  readonly experiment: Experiment;
  readonly fitSeconds: number;
}

/** Fits a model on the training side of a split, saves it as a new artifact version, evaluates it on the test side. */
export async function trainModel(req: TrainRequest): Promise<TrainResult> {
  claimOutput(req.out, ARTIFACT_FOLDER_OUTPUT, { inputs: [req.datasetDir] });
  const factory = getFactory(req.kind);
  // Checked before any data is read: a bad value fails at once.
  const params = parseParams(req.kind, factory.params, req.params);
  const problems = factory.checkParams?.(params) ?? [];
  if (problems.length > 0) throw new InputError(`${req.kind}: ${problems.map((p) => `${p.key}: ${p.message}`).join('; ')}`);
  const experiment = await prepareExperiment(req.datasetDir, req.split, { seed: req.seed, tags: true });
  log.info(
    `training ${req.kind} on ${experiment.training.users.size} users × ${experiment.training.items.size} items (${experiment.train.userId.length} interactions)`,
  );
  const started = performance.now();
  makeDirs(req.out);
  const model = await factory.fit(experiment.training, params, { ...req.ctx, tempDir: req.out });
  const fitSeconds = (performance.now() - started) / 1000;
  log.event('train.fit', { kind: req.kind, seconds: fitSeconds, params: model.params() });
  // Evaluated before the artifact is created, so `latest` moves only once the whole step succeeded.
  const metrics = evaluateWithColdItems(model, experiment.train, experiment.test, { ks: req.ks, catalog: experiment.dataset.catalog });
  const protocol = protocolLabel(experiment.split);
  const { dir, manifest } = await createArtifact(
    dirname(req.out),
    basename(req.out),
    {
      kind: req.kind,
      config: { model: req.kind, params: model.params() },
      seed: req.seed,
      dataset: { dir: experiment.dataset.dir, interactions_sha256: experiment.dataset.meta.interactions_sha256 },
      split: { ...experiment.split },
      lineage: req.manifest?.lineage ?? [],
      metrics: { [protocol]: metrics },
      details: {
        ...req.manifest?.details,
        fit_seconds: fitSeconds,
        ...(summarisesTraining(model) ? { training: model.trainingSummary() } : {}),
      },
    },
    (tmp) => model.save(tmp),
    { finish: req.finish },
  );
  return { dir, manifest, metrics, model, experiment, fitSeconds };
}
