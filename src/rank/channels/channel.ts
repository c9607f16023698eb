import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainingData } from '../../data/training-data.js';
import type { AnnIndex } from '../../index/ann-index.js';
import { buildIndex } from '../../index/build.js';
import { readIndex, writeIndex } from '../../index/io.js';
import { searchExcluding } from '../../index/search.js';
import type { Csr } from '../../matrix/csr.js';
import type { TopK } from '../../matrix/topk.js';
import { hasEmbeddings, type ModelFactory, type Recommender } from '../../models/model.js';
import { parseParams, type ParamsSchema } from '../../models/params.js';
import { InputError } from '../../util/errors.js';
import { log } from '../../util/log.js';
import type { UserHistory } from '../history.js';
import { CooccurrenceModel, cooccurrenceNeighbours, type CooccurrenceParams } from './cooccurrence.js';
import { RecentPopularityModel } from './recent-popularity.js';

/** Channel names with their own implementation here; any other channel is a model the ranker is given. */
export const POPULARITY_CHANNEL = 'popularity';
export const COOCCURRENCE_CHANNEL = 'cooc';
export const BUILT_IN_CHANNELS: readonly string[] = [POPULARITY_CHANNEL, COOCCURRENCE_CHANNEL];

/** A model the ranker can fit as a candidate channel: its factory and the hyper-parameters to fit it with. */
export interface ChannelModel {
  readonly factory: ModelFactory;
  /** Checked against the factory's schema, its defaults filled in (e.g. a tuned ALS). */
  readonly params: Readonly<Record<string, unknown>>;
}

/** The models a ranker may use as channels besides the built-in ones, by channel name. */
export type ChannelModels = Readonly<Record<string, ChannelModel>>;

export function channelModel<S extends ParamsSchema>(factory: ModelFactory<S>, params: Record<string, unknown> = {}): ChannelModel {
  // Channels hold factories of different schemas; `params` is checked against this one's here.
  return { factory: factory as unknown as ModelFactory, params: parseParams(factory.kind, factory.params, params) };
}

/**
 * One candidate source: a Recommender, asked either directly or, for models listed as FAISS
 * channels, through an exact inner-product FAISS index over its item embeddings (searched
 * with its user embeddings), the way an embedding model is served.
 */
export interface Channel {
  readonly name: string;
  readonly model: Recommender;
  readonly index: AnnIndex | null;
}

/** What building the built-in channels needs besides the training data. */
export interface ChannelContext {
  readonly history: UserHistory;
  readonly popularityWindowDays: number;
  readonly cooccurrence: CooccurrenceParams;
  /** Channels searched through FAISS (e.g. two-tower). */
  readonly faissChannels: readonly string[];
  readonly models: ChannelModels;
}

export function retrieve(channel: Channel, users: Int32Array, n: number, exclude: Csr | null): TopK {
  if (!channel.index || !hasEmbeddings(channel.model)) return channel.model.recommend(users, n, exclude);
  return searchExcluding(channel.index, channel.model.userEmbeddings(), users, n, exclude);
}

/** An exact inner-product index over the model's item vectors. */
function embeddingIndex(model: Recommender, name: string): AnnIndex {
  if (!hasEmbeddings(model))
    throw new InputError(`channel ${name}: model "${model.kind}" has no user and item embeddings to search with FAISS`);
  return buildIndex(model.itemEmbeddings(), { factory: 'Flat', metric: 'ip' }).index;
}

/** One message per name of `names` that is neither built in nor one of `models`. */
export function unknownChannels(names: readonly string[], models: ChannelModels): string[] {
  const known = [...BUILT_IN_CHANNELS, ...Object.keys(models)];
  return names.filter((n) => !known.includes(n)).map((n) => `unknown channel "${n}" (known: ${known.join(', ')})`);
}

/** Throws naming the first of `names` that is neither built in nor one of `models`. */
export function checkChannelNames(names: readonly string[], models: ChannelModels): void {
  const [problem] = unknownChannels(names, models);
  if (problem !== undefined) throw new InputError(problem);
}

function modelOf(name: string, models: ChannelModels): ChannelModel {
  checkChannelNames([name], models);
  return models[name];
}

function sameSpace(model: Recommender, data: TrainingData, name: string): void {
  const same = (a: Int32Array, b: Int32Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);
  if (!same(model.users.ids, data.users.ids) || !same(model.items.ids, data.items.ids)) {
    throw new InputError(`channel ${name}: the model's users/items differ from the ranker's training data`);
  }
}

export function cooccurrenceModel(data: TrainingData, ctx: ChannelContext, neighbours?: Csr): CooccurrenceModel {
  return new CooccurrenceModel(
    data.users,
    data.items,
    neighbours ?? cooccurrenceNeighbours(ctx.history, data.items.size, ctx.cooccurrence),
    ctx.history,
    ctx.cooccurrence,
  );
}

export function popularityModel(data: TrainingData, ctx: ChannelContext): RecentPopularityModel {
  return new RecentPopularityModel(data.users, data.items, ctx.history, ctx.popularityWindowDays);
}

/**
 * Fits channel `name` on `data`. The built-in co-occurrence model is passed in so that the
 * channel and the ranker's co-occurrence features share one table.
 */
export async function fitChannel(name: string, data: TrainingData, ctx: ChannelContext, cooc: CooccurrenceModel): Promise<Channel> {
  if (name === POPULARITY_CHANNEL) return { name, model: popularityModel(data, ctx), index: null };
  if (name === COOCCURRENCE_CHANNEL) return { name, model: cooc, index: null };
  const { factory, params } = modelOf(name, ctx.models);
  log.info(`ranker: fitting channel ${name} on ${data.train.userId.length} interactions`);
  const model = await factory.fit(data, params);
  sameSpace(model, data, name);
  return { name, model, index: ctx.faissChannels.includes(name) ? embeddingIndex(model, name) : null };
}

/** Saves a model channel into `dir` (the built-in ones live in the ranker's own files). */
export async function saveChannel(channel: Channel, dir: string): Promise<void> {
  if (BUILT_IN_CHANNELS.includes(channel.name)) return;
  mkdirSync(dir, { recursive: true });
  await channel.model.save(dir);
  if (channel.index) writeIndex(channel.index, join(dir, 'index.faiss'));
}

export async function loadChannel(
  name: string,
  dir: string,
  data: TrainingData,
  ctx: ChannelContext,
  cooc: CooccurrenceModel,
): Promise<Channel> {
  if (name === POPULARITY_CHANNEL) return { name, model: popularityModel(data, ctx), index: null };
  if (name === COOCCURRENCE_CHANNEL) return { name, model: cooc, index: null };
  const model = await modelOf(name, ctx.models).factory.load(dir);
  sameSpace(model, data, name);
  const indexFile = join(dir, 'index.faiss');
  return { name, model, index: existsSync(indexFile) ? readIndex(indexFile) : null };
}
