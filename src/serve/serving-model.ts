import type { ItemPools } from '../explore/pools.js';
import type { Csr } from '../matrix/csr.js';
import type { TopK } from '../matrix/topk.js';
import { recommendSourced, type Recommender } from '../models/model.js';
import type { AnsweredItem, HistoryRecommender, RankedAnswer, SessionRecommender } from './types.js';

/**
 * One loaded model version, ready to answer: what the batch export uses (the model and the
 * training split's seen items), plus the popularity list for users it cannot answer and, when
 * the model can, a way to answer a history. Built by the assembler (pipeline/serving.ts).
 */
export interface ServingModel {
  /** Artifact name, e.g. ranker-temporal-user. */
  readonly name: string;
  readonly version: string;
  readonly kind: string;
  /** The version directory it was loaded from. */
  readonly dir: string;
  /** When the version was created (its manifest), for the model-age metric. */
  readonly createdAt: Date;
  readonly model: Recommender;
  /** Each training user's training items: filtered out exactly as `recommend --all-users` does. */
  readonly seen: Csr;
  /** Raw item ids, most popular in training first, and their training counts: the cold-start answer. */
  readonly popular: { readonly itemIds: Int32Array; readonly scores: Float32Array };
  readonly history: HistoryRecommender | null;
  /** How a training user's session is folded in (ALS, two-tower); null: session items are only excluded (docs/serving.md, "Sessions"). */
  readonly session: SessionRecommender | null;
  /** The fresh and cold items of its training data, which exploring policies draw from (docs/exploration.md). */
  readonly pools: ItemPools;
  /** Releases native resources (onnxruntime, FAISS); called once no request uses the version. */
  close(): Promise<void>;
}

/** Wall time of one answer's stages, seconds. */
export type StageSeconds = Readonly<Record<string, number>>;

export interface LiveAnswer {
  readonly answer: RankedAnswer;
  readonly seconds: StageSeconds;
}

/** The first `k` entries of row `row` of `top` as answered items, skipping padding and `exclude`d raw ids. */
function answeredItems(
  m: ServingModel,
  top: TopK,
  row: number,
  k: number,
  channelOf: (j: number) => string,
  exclude: ReadonlySet<number>,
): AnsweredItem[] {
  const items: AnsweredItem[] = [];
  for (let j = 0; j < top.k && items.length < k; j++) {
    const item = top.items[row * top.k + j];
    if (item < 0) break;
    const id = m.model.items.rawId(item);
    if (exclude.has(id)) continue;
    items.push({ item_id: id, rank: items.length + 1, score: top.scores[row * top.k + j], channel: channelOf(j) });
  }
  return items;
}

/** The popularity answer for a user the model cannot answer, `reason` saying why. */
export function fallbackAnswer(
  m: ServingModel,
  userId: number | null,
  k: number,
  exclude: ReadonlySet<number>,
  reason: string,
): RankedAnswer {
  const items: AnsweredItem[] = [];
  const { itemIds, scores } = m.popular;
  for (let j = 0; j < itemIds.length && items.length < k; j++)
    if (!exclude.has(itemIds[j])) items.push({ item_id: itemIds[j], rank: items.length + 1, score: scores[j], channel: 'popularity' });
  return {
    user_id: userId,
    items,
    model: m.name,
    version: m.version,
    path: 'fallback',
    reason,
  };
}

/**
 * A training user's top k through the model, exactly as the batch export computes it (same
 * call, same seen filter). Request-time exclusions are applied after: the model is asked for
 * k + |exclude| items and the excluded ones dropped, which keeps the rest of the list as the
 * model ranked it (greedy MMR picks each item given the ones before, so a longer list starts
 * with the shorter one).
 */
export function liveUserAnswer(m: ServingModel, userId: number, user: number, k: number, exclude: ReadonlySet<number>): LiveAnswer {
  const ask = k + exclude.size;
  const result = recommendSourced(m.model, Int32Array.of(user), ask, m.seen);
  const answer: RankedAnswer = {
    user_id: userId,
    items: answeredItems(m, result.top, 0, k, (j) => result.sources[result.source[j]], exclude),
    model: m.name,
    version: m.version,
    path: 'live',
    ...(result.skipped.length > 0 ? { skipped_channels: [...result.skipped] } : {}),
  };
  return { answer, seconds: result.seconds };
}

/**
 * A training user's top k given their session (raw item ids, oldest first), or null when no
 * session item is known to the model (the answer is then the usual one). A model that folds a
 * session in answers through it, excluding the training and session items; any other (the
 * ranker, whose GBDT features come from training) answers as without a session, the session's
 * items excluded like request-time exclusions.
 */
export async function sessionUserAnswer(
  m: ServingModel,
  userId: number,
  user: number,
  session: readonly number[],
  k: number,
  exclude: ReadonlySet<number>,
): Promise<LiveAnswer | null> {
  const { known } = m.model.items.split(session);
  if (known.length === 0) return null;
  const counted = { session_items: known.length };
  if (m.session === null) {
    const live = liveUserAnswer(m, userId, user, k, new Set([...exclude, ...session]));
    return { answer: { ...live.answer, ...counted }, seconds: live.seconds };
  }
  const started = performance.now();
  const trained = m.seen.indices.subarray(m.seen.indptr[user], m.seen.indptr[user + 1]);
  const top = await m.session.recommendWithSession(user, trained, known, k + exclude.size);
  const answer: RankedAnswer = {
    user_id: userId,
    items: answeredItems(m, top, 0, k, () => m.kind, exclude),
    model: m.name,
    version: m.version,
    path: 'live',
    ...counted,
  };
  return { answer, seconds: { session: (performance.now() - started) / 1000 } };
}

/** Top k for a user known by a history of raw item ids (oldest first); unknown ids are ignored and named. */
export async function historyAnswer(m: ServingModel, history: readonly number[], k: number): Promise<LiveAnswer> {
  const { known, unknown: ignored } = m.model.items.split(history);
  const named = ignored.length > 0 ? { ignored_items: ignored } : {};
  const historyIds = new Set(history);
  if (known.length === 0 || m.history === null) {
    const reason =
      m.history === null ? `a ${m.kind} model cannot recommend from a history` : 'no item of the history is known to the model';
    return { answer: { ...fallbackAnswer(m, null, k, historyIds, reason), ...named }, seconds: {} };
  }
  const started = performance.now();
  const top = await m.history.recommend(known, k);
  const channel = m.history.channel;
  const answer: RankedAnswer = {
    user_id: null,
    items: answeredItems(m, top, 0, k, () => channel, historyIds),
    model: m.name,
    version: m.version,
    path: 'live',
    ...named,
  };
  return { answer, seconds: { history: (performance.now() - started) / 1000 } };
}

/** The k items most similar to the item `itemId` (dense index `item`). */
export function similarAnswer(m: ServingModel, itemId: number, item: number, k: number): LiveAnswer {
  const started = performance.now();
  const top = m.model.similarItems(Int32Array.of(item), k);
  const answer: RankedAnswer = {
    user_id: null,
    item_id: itemId,
    items: answeredItems(m, top, 0, k, () => m.kind, new Set()),
    model: m.name,
    version: m.version,
    path: 'live',
  };
  return { answer, seconds: { similar: (performance.now() - started) / 1000 } };
}
