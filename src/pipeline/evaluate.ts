import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { searchExcluding } from '../index/search.js';
import type { Csr } from '../matrix/csr.js';
import type { TopK } from '../matrix/topk.js';
import { INDEX_FILE, openModelIndex } from '../index/artifact-index.js';
import { recordMetrics } from '../artifacts/store.js';
import { openArtifact } from '../artifacts/verify.js';
import { evaluateWithColdItems } from '../eval/cold-items.js';
import type { Metrics } from '../eval/evaluate.js';
import { stageReport, type FunnelReport } from '../rank/evaluate-funnel.js';
import { hasEmbeddings, type Recommender } from '../models/model.js';
import { getFactory, modelKinds } from './model-registry.js';
import { protocolLabel, type SplitManifest } from '../split/manifest.js';
import type { SplitParams } from '../split/split.js';
import { RECS_DUMP_OUTPUT } from '../eval/evaluate.js';
import { excerpt, InputError } from '../util/errors.js';
import { claimOutput } from '../util/output.js';
import { checkTrainedOn, prepareExperiment, trainedOn, type SplitSource } from './experiment.js';

export interface EvalRequest {
  /** A model kind (fitted on the fly with its defaults) or an artifact path. */
  readonly model: string;
  /** Required for a model kind; for an artifact, defaults to the data it was trained on. */
  readonly datasetDir?: string;
  /** For an artifact, defaults to the split it was trained on. */
  readonly split?: SplitSource;
  readonly ks: number[];
  readonly dumpRecs?: string;
  readonly seed?: number;
  /** Retrieve through the artifact's FAISS index (seen items filtered after retrieval). */
  readonly viaIndex?: { readonly nprobe?: number; readonly efSearch?: number };
  /** Ranker models: also the metrics after each funnel stage. */
  readonly stages?: boolean;
}

export interface EvalOutcome {
  readonly metrics: Metrics;
  readonly protocol: string;
  readonly split: SplitManifest;
  /** The artifact whose metrics.json received the results, if any. */
  readonly artifactDir: string | null;
  readonly funnel?: FunnelReport;
}

function sameSplit(a: SplitParams, b: Record<string, unknown>): boolean {
  return (
    a.strategy === b.strategy &&
    (a.strategy === 'leave-last-n' ? a.n === b.n : a.frac === b.frac) &&
    (a.strategy !== 'random-user' || (a.seed ?? 42) === b.seed)
  );
}

export async function evaluateRun(req: EvalRequest): Promise<EvalOutcome> {
  if (req.dumpRecs !== undefined) claimOutput(req.dumpRecs, RECS_DUMP_OUTPUT);
  if (modelKinds().includes(req.model) && !existsSync(req.model)) {
    if (!req.datasetDir || !req.split) throw new InputError(`evaluating model kind ${excerpt(req.model)} needs --data and --split`);
    const factory = getFactory(req.model);
    const exp = await prepareExperiment(req.datasetDir, req.split, { seed: req.seed });
    const model = await factory.fit(exp.training, factory.params.parse({}));
    const metrics = evaluateWithColdItems(model, exp.train, exp.test, { ks: req.ks, catalog: exp.dataset.catalog, dumpRecs: req.dumpRecs });
    const funnel = req.stages ? stageReport(model, exp.train, exp.test, { ks: req.ks, catalog: exp.dataset.catalog }) : undefined;
    return { metrics, protocol: protocolLabel(exp.split), split: exp.split, artifactDir: null, funnel };
  }
  const { dir, manifest } = await openArtifact(req.model);
  const trained = trainedOn(dir, manifest);
  const split: SplitSource = req.split ?? trained.params;
  if (!('dir' in split) && !sameSplit(split, trained.split as unknown as Record<string, unknown>)) {
    throw new InputError(
      `${dir} was trained on the ${protocolLabel(trained.split)} split; evaluating it on ${protocolLabel({ strategy: split.strategy, frac: split.frac, n: split.n ?? null, seed: split.seed ?? null })} would put training data in the test set. Train a model on that split instead.`,
    );
  }
  const exp = await prepareExperiment(req.datasetDir ?? trained.dataset.dir, split, { seed: manifest.seed });
  checkTrainedOn(dir, exp, trained);
  const model: Recommender = await getFactory(manifest.kind).load(dir);
  const recommend = req.viaIndex ? indexRetrieval(dir, model, req.viaIndex) : undefined;
  const metrics = evaluateWithColdItems(model, exp.train, exp.test, {
    ks: req.ks,
    catalog: exp.dataset.catalog,
    dumpRecs: req.dumpRecs,
    recommend,
  });
  const protocol = `${protocolLabel(exp.split)}${req.viaIndex ? ' via-index' : ''}`;
  recordMetrics(dir, protocol, metrics);
  const funnel = req.stages ? stageReport(model, exp.train, exp.test, { ks: req.ks, catalog: exp.dataset.catalog }) : undefined;
  return { metrics, protocol, split: exp.split, artifactDir: dir, funnel };
}

/** Top-k through the FAISS index stored in the artifact, over the model's user vectors. */
function indexRetrieval(
  dir: string,
  model: Recommender,
  settings: { nprobe?: number; efSearch?: number },
): (users: Int32Array, k: number, seen: Csr) => TopK {
  if (!hasEmbeddings(model)) throw new InputError(`${dir}: a ${model.kind} model has no user vectors to query an index with`);
  const users = model.userEmbeddings();
  if (!existsSync(join(dir, INDEX_FILE))) throw new InputError(`${dir}: no ${INDEX_FILE}; build one with \`recsys index --model ${dir}\``);
  const { index, prepareQueries } = openModelIndex(dir, settings);
  const queries = prepareQueries(users);
  return (rows, k, seen) => searchExcluding(index, queries, rows, k, seen);
}
