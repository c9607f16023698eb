import { attributeEvents } from '../events/attribution.js';
import { readLogInto } from '../events/log-reader.js';
import { estimateOffPolicy, type EstimatorName, type OpeReport } from '../ope/estimate.js';
import { fallbackAnswer, liveUserAnswer, type ServingModel } from '../serve/serving-model.js';
import { log } from '../util/log.js';
import { loadServingModel } from './serving.js';

export interface OpeRequest {
  /** A model artifact version, e.g. artifacts/ranker-temporal-user/latest. */
  readonly model: string;
  /** The exposure and event log directory (recsys serve --log-dir, recsys simulate). */
  readonly logs: string;
  readonly k: number;
  readonly estimators?: readonly EstimatorName[];
  readonly bootstrap?: number;
  readonly seed?: number;
}

export interface OpeRunReport extends OpeReport {
  readonly model: { readonly name: string; readonly version: string };
  readonly logs: string;
  /** Positive events no exposure explains (attribution, docs/events.md). */
  readonly unattributed: number;
}

/**
 * `recsys ope`: the model's online clicks estimated from logs collected under another policy.
 * The target is what `recsys serve` would answer each logged user with the model greedily: its
 * top k with the training split's seen items filtered (as `recommend --all-users`), the
 * popularity fallback for users the model does not know.
 */
export async function runOpe(req: OpeRequest): Promise<OpeRunReport> {
  const contents = await readLogInto(req.logs);
  const { exposures, unattributed } = attributeEvents(contents.exposures, contents.events);
  const serving = await loadServingModel(req.model);
  try {
    const report = estimateOffPolicy(exposures, targetOf(serving, req.k), {
      k: req.k,
      estimators: req.estimators,
      bootstrap: req.bootstrap,
      seed: req.seed,
    });
    const out = { model: { name: serving.name, version: serving.version }, logs: req.logs, unattributed, ...report };
    log.event('ope.done', { model: serving.dir, requests: report.requests, unsupported: report.unsupportedShare });
    if (report.warning) log.warn(`recsys ope: ${report.warning}`);
    return out;
  } finally {
    await serving.close();
  }
}

/** Each user's greedy answer (raw item ids), computed once per user. */
function targetOf(m: ServingModel, k: number): (userId: number) => readonly number[] {
  const lists = new Map<number, number[]>();
  const none = new Set<number>();
  return (userId) => {
    let list = lists.get(userId);
    if (!list) {
      const user = m.model.users.indexOf(userId);
      const answer = user < 0 ? fallbackAnswer(m, userId, k, none, 'unknown user') : liveUserAnswer(m, userId, user, k, none).answer;
      list = answer.items.map((item) => item.item_id);
      lists.set(userId, list);
    }
    return list;
  };
}
