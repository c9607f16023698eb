import { basename, dirname, join } from 'node:path';
import { LATEST, resolveArtifactDir } from '../artifacts/store.js';
import { seenMatrix } from '../eval/evaluate.js';
import { buildItemPools } from '../explore/pools.js';
import { parsePolicy } from '../explore/parse.js';
import type { Policy } from '../explore/policy.js';
import { canFoldIn, holdsResources, preparesServing, type Recommender } from '../models/model.js';
import { popularityFactory } from '../models/popularity/popularity.js';
import { RankerModel } from '../rank/ranker.js';
import { foldInHistory, foldInSession } from '../serve/history/fold-in.js';
import { openTwoTowerHistory } from '../serve/history/two-tower.js';
import { TwoTowerModel } from '../models/two-tower/model.js';
import type { ModelSource } from '../serve/model-holder.js';
import { MAX_K } from '../serve/request.js';
import type { ServingModel } from '../serve/serving-model.js';
import type { HistoryRecommender, SessionRecommender } from '../serve/types.js';
import { InputError } from '../util/errors.js';
import { log } from '../util/log.js';
import { checkTrainedOn, prepareExperiment, trainedOn } from './experiment.js';
import { loadModelArtifact } from './index-model.js';
import { loadPipeline } from './load.js';

/**
 * How a model answers a history, and a training user's session: itself (ALS folds the user in,
 * the training items with the session's), the two-tower model's exported user tower in
 * onnxruntime and its FAISS index, or, for the ranker, its first channel that can (the GBDT
 * stage needs a training user's features, so a history request is answered by that channel
 * alone, and a session only excludes its items from the funnel's list; docs/serving.md).
 */
async function historyRecommenders(
  dir: string,
  model: Recommender,
): Promise<{ history: HistoryRecommender | null; session: SessionRecommender | null }> {
  if (canFoldIn(model)) return { history: foldInHistory(model), session: foldInSession(model) };
  if (model instanceof TwoTowerModel) {
    const tower = await openTwoTowerHistory(dir, model);
    return { history: tower, session: tower };
  }
  if (model instanceof RankerModel) {
    const channel = model.funnel.channels.find((c) => canFoldIn(c.model));
    if (channel && canFoldIn(channel.model)) return { history: { ...foldInHistory(channel.model), channel: channel.name }, session: null };
  }
  return { history: null, session: null };
}

/**
 * Loads one model version to serve: the artifact (verified against its manifest), the split it
 * was trained on (recomputed and checked like `recommend --all-users` does, for the same seen
 * filter), the training popularity ranking for users the model cannot answer, and its history
 * recommender.
 */
export async function loadServingModel(versionDir: string): Promise<ServingModel> {
  const started = performance.now();
  const { dir, manifest, model } = await loadModelArtifact(versionDir);
  const trained = trainedOn(dir, manifest);
  const exp = await prepareExperiment(trained.dataset.dir, trained.params);
  checkTrainedOn(dir, exp, trained);
  const seen = seenMatrix(model, exp.train);
  const popularity = await popularityFactory.fit(exp.training, popularityFactory.params.parse({}));
  const top = popularity.recommend(Int32Array.of(-1), MAX_K, null);
  const padding = top.items.indexOf(-1);
  const n = padding < 0 ? top.items.length : padding;
  const popular = {
    itemIds: Int32Array.from(top.items.subarray(0, n), (i) => popularity.items.rawId(i)),
    scores: top.scores.slice(0, n),
  };
  if (preparesServing(model)) model.prepareServing();
  const { history, session } = await historyRecommenders(dir, model);
  log.event('serve.load', { dir, version: manifest.version, seconds: (performance.now() - started) / 1000 });
  return {
    name: manifest.name,
    version: manifest.version,
    kind: manifest.kind,
    dir,
    createdAt: new Date(manifest.created_at),
    model,
    seen,
    popular,
    history,
    session,
    pools: buildItemPools(exp.training),
    close: async () => {
      await history?.close();
      if (holdsResources(model)) model.close();
    },
  };
}

/** What `recsys serve` serves: a model artifact (`--model`), or the model a pipeline file exports (`--pipeline`). */
export type ServeTarget = { readonly model: string } | { readonly pipeline: string };

/**
 * The artifact folder's `latest` (or the version given) as a reloadable source. For a pipeline
 * file: the model of its last `recommend` step, the one whose batch export a cache holds.
 */
export function servingSource(target: ServeTarget): ModelSource & { readonly cacheName: string } {
  let path: string;
  if ('pipeline' in target) {
    const pipeline = loadPipeline(target.pipeline);
    const step = pipeline.steps.filter((s) => s.kind === 'recommend').at(-1);
    if (!step) throw new InputError(`${target.pipeline}: no recommend step names the model to serve; serve one with --model ARTIFACT`);
    // A recommend step produces `recs:<model>:<split>` from the artifact `<model>-<split>`.
    const [, model, split] = step.produces[0].token.split(':');
    path = join(pipeline.head.artifacts, `${model}-${split}`, LATEST);
  } else path = target.model;
  // A version directory resolves to itself every time; a folder or its `latest` follows `latest`.
  const first = resolveArtifactDir(path);
  return {
    target: path,
    cacheName: `recs-${basename(dirname(first))}`,
    resolve: () => resolveArtifactDir(path),
    load: loadServingModel,
  };
}

/** The policy a spelling names (`--policy`, an experiment variant's `policy`), drawing from the pools of the model that serves it. */
export function servingPolicy(spec: string, model: ServingModel): Policy {
  return parsePolicy(spec, model.pools);
}
