import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { IdMap } from '../data/id-map.js';
import type { TrainingData } from '../data/training-data.js';
import { csrHas, type Csr } from '../matrix/csr.js';
import type { TopK } from '../matrix/topk.js';
import { hasEmbeddings, holdsResources } from '../models/model.js';
import { InputError } from '../util/errors.js';
import { mergeCandidates, retrieveAll, type CandidateSet } from './candidates.js';
import {
  POPULARITY_CHANNEL,
  cooccurrenceModel,
  checkChannelNames,
  fitChannel,
  loadChannel,
  popularityModel,
  retrieve,
  saveChannel,
  type Channel,
  type ChannelContext,
  type ChannelModels,
} from './channels/channel.js';
import { loadCooccurrenceNeighbours, type CooccurrenceModel, type CooccurrenceParams } from './channels/cooccurrence.js';
import { RecentPopularityModel } from './channels/recent-popularity.js';
import { buildFeatures, featureNames, type FeatureSources } from './features.js';
import type { GbdtModel } from './gbdt/index.js';
import { buildItemTimeline, buildUserHistory } from './history.js';
import { genreSimilarity, type ItemGenres } from './item-genres.js';
import { rankByScore, rerank, type ItemSimilarity, type RerankSettings, type SeenFilter } from './rerank.js';

/** How candidates are generated, fused and re-ranked. */
export interface FunnelSettings {
  readonly channels: readonly string[];
  /** Candidates per channel, and merged candidates per user. */
  readonly candidates: number;
  readonly rrfK: number;
  /** Per channel call; 0 = no limit. */
  readonly channelTimeoutMs: number;
  readonly popularityWindowDays: number;
  readonly cooccurrence: CooccurrenceParams;
  readonly faissChannels: readonly string[];
  readonly rerank: RerankSettings;
  /** "genre" (cosine of genre sets) or a channel whose model has item embeddings (their cosine). */
  readonly mmrSimilarity: string;
}

/** Every stage of the funnel for one batch of users. */
export interface FunnelOutput {
  /** Per channel, its top `candidates` (null when it failed or timed out). */
  readonly lists: ReadonlyArray<TopK | null>;
  readonly merged: CandidateSet;
  readonly scores: Float64Array;
  readonly ranked: TopK;
  readonly reranked: TopK;
  /** Wall time of each step, for the scoring-time report. */
  readonly seconds: { readonly candidates: number; readonly features: number; readonly gbdt: number; readonly rerank: number };
}

/** What the funnel evaluation needs of a ranker: its item/user spaces, funnel and scorer. */
export interface FunnelRanker {
  readonly users: IdMap;
  readonly items: IdMap;
  readonly funnel: Funnel;
  readonly gbdt: GbdtModel;
}

function latestTime(data: TrainingData): number {
  let t = -Infinity;
  for (const v of data.train.timestamp) if (v > t) t = v;
  return t;
}

/**
 * The candidate funnel over one feature data set (a TrainingData): channels → merge → features
 * → GBDT scores → re-ranking. Built on the early part of train to make training examples, and
 * on all of train to serve.
 */
export class Funnel {
  readonly sources: FeatureSources;
  /** Popularity, which answers when the channels leave a user short of candidates. */
  readonly fallback: Channel;
  readonly featureNames: readonly string[];
  private readonly similarity: ItemSimilarity;

  private constructor(
    readonly data: TrainingData,
    readonly genres: ItemGenres,
    readonly channels: readonly Channel[],
    cooccurrence: CooccurrenceModel,
    ctx: ChannelContext,
    readonly settings: FunnelSettings,
  ) {
    this.sources = { history: ctx.history, timeline: buildItemTimeline(data), genres, cooccurrence, referenceTime: latestTime(data) };
    this.fallback = channels.find((c) => c.name === POPULARITY_CHANNEL) ?? {
      name: POPULARITY_CHANNEL,
      model: popularityModel(data, ctx),
      index: null,
    };
    this.featureNames = featureNames(settings.channels, genres.names);
    this.similarity = this.itemSimilarity();
  }

  private static context(data: TrainingData, settings: FunnelSettings, models: ChannelModels): ChannelContext {
    return {
      history: buildUserHistory(data),
      popularityWindowDays: settings.popularityWindowDays,
      cooccurrence: settings.cooccurrence,
      faissChannels: settings.faissChannels,
      models,
    };
  }

  /** Fits every channel on `data`; `models` are the channels besides the built-in ones. */
  static async fit(data: TrainingData, genres: ItemGenres, settings: FunnelSettings, models: ChannelModels): Promise<Funnel> {
    checkFunnelSettings(settings, models);
    const ctx = Funnel.context(data, settings, models);
    const cooc = cooccurrenceModel(data, ctx);
    const channels: Channel[] = [];
    for (const name of settings.channels) channels.push(await fitChannel(name, data, ctx, cooc));
    return new Funnel(data, genres, channels, cooc, ctx, settings);
  }

  static async load(dir: string, data: TrainingData, genres: ItemGenres, settings: FunnelSettings, models: ChannelModels): Promise<Funnel> {
    checkFunnelSettings(settings, models);
    const ctx = Funnel.context(data, settings, models);
    const cooc = cooccurrenceModel(data, ctx, loadCooccurrenceNeighbours(join(dir, 'cooc'), data.items.size));
    const channels: Channel[] = [];
    for (const name of settings.channels) channels.push(await loadChannel(name, join(dir, 'channels', name), data, ctx, cooc));
    return new Funnel(data, genres, channels, cooc, ctx, settings);
  }

  /** Writes the co-occurrence table and the model channels under `dir`. */
  async save(dir: string): Promise<void> {
    mkdirSync(join(dir, 'cooc'), { recursive: true });
    await this.sources.cooccurrence.save(join(dir, 'cooc'));
    for (const c of this.channels) await saveChannel(c, join(dir, 'channels', c.name));
  }

  private itemSimilarity(): ItemSimilarity {
    const name = this.settings.mmrSimilarity;
    if (name === 'genre') return genreSimilarity(this.genres);
    const channel = this.channels.find((c) => c.name === name);
    const emb = channel && hasEmbeddings(channel.model) ? channel.model.itemEmbeddings() : null;
    if (!emb)
      throw new InputError(
        `mmr similarity "${name}" is neither "genre" nor a channel with item embeddings (channels: ${this.settings.channels.join(', ')})`,
      );
    const norms = new Float64Array(emb.rows);
    for (let i = 0; i < emb.rows; i++) {
      let s = 0;
      for (let d = 0; d < emb.dim; d++) s += emb.data[i * emb.dim + d] ** 2;
      norms[i] = Math.sqrt(s);
    }
    return (a, b) => {
      let dot = 0;
      for (let d = 0; d < emb.dim; d++) dot += emb.data[a * emb.dim + d] * emb.data[b * emb.dim + d];
      return norms[a] > 0 && norms[b] > 0 ? dot / (norms[a] * norms[b]) : 0;
    };
  }

  /** Ends the channel models' worker threads. */
  close(): void {
    for (const c of this.channels) if (holdsResources(c.model)) c.model.close();
  }

  /** Fills the popularity channel's per-day rankings for the candidate count asked of it (see RecentPopularityModel). */
  prepareServing(): void {
    if (this.fallback.model instanceof RecentPopularityModel) this.fallback.model.prepareRankings(this.settings.candidates);
  }

  /** Items a user must not see: `exclude`'s row, and always the user's own training items. */
  seenFilter(exclude: Csr | null): SeenFilter {
    const own = this.data.matrix;
    return (u, item) =>
      (u >= 0 && u < own.nRows && csrHas(own, u, item)) || (exclude !== null && u >= 0 && u < exclude.nRows && csrHas(exclude, u, item));
  }

  /** Channels → merged candidates. Channels skip `exclude`'s items (the user's training items when null). */
  candidates(users: Int32Array, exclude: Csr | null): { lists: Array<TopK | null>; set: CandidateSet } {
    const filter = exclude ?? this.data.matrix;
    const n = this.settings.candidates;
    const lists = retrieveAll(this.channels, users, n, filter, { timeoutMs: this.settings.channelTimeoutMs });
    const popularity = lists[this.channels.indexOf(this.fallback)] ?? retrieve(this.fallback, users, n, filter);
    return { lists, set: mergeCandidates(this.settings.channels, lists, users, n, popularity, this.settings.rrfK) };
  }

  features(set: CandidateSet): Float32Array {
    return buildFeatures(this.sources, set);
  }

  run(users: Int32Array, k: number, exclude: Csr | null, gbdt: GbdtModel): FunnelOutput {
    const t0 = performance.now();
    const { lists, set } = this.candidates(users, exclude);
    const t1 = performance.now();
    const x = this.features(set);
    const t2 = performance.now();
    const nFeatures = this.featureNames.length;
    const scores = gbdt.predict(x, set.items.length, nFeatures);
    const t3 = performance.now();
    const seen = this.seenFilter(exclude);
    const ranked = rankByScore(set, scores, k, seen);
    const ageColumn = this.featureNames.indexOf('item_age_days');
    const ages = Float32Array.from({ length: set.items.length }, (_, r) => x[r * nFeatures + ageColumn]);
    const reranked = rerank(set, scores, k, seen, this.settings.rerank, this.similarity, this.genres, ages);
    const seconds = {
      candidates: (t1 - t0) / 1000,
      features: (t2 - t1) / 1000,
      gbdt: (t3 - t2) / 1000,
      rerank: (performance.now() - t3) / 1000,
    };
    return { lists, merged: set, scores, ranked, reranked, seconds };
  }
}

export function checkFunnelSettings(s: FunnelSettings, models: ChannelModels): void {
  if (s.channels.length === 0) throw new InputError('the ranker needs at least one channel');
  if (new Set(s.channels).size !== s.channels.length) throw new InputError(`channels listed twice: ${s.channels.join(',')}`);
  checkChannelNames(s.channels, models);
  if (!Number.isInteger(s.candidates) || s.candidates < 1) throw new InputError(`candidates must be an integer ≥ 1, got ${s.candidates}`);
  if (!(s.rrfK >= 0)) throw new InputError(`rrf k must be ≥ 0, got ${s.rrfK}`);
  if (!(s.channelTimeoutMs >= 0)) throw new InputError(`channel timeout must be ≥ 0 ms, got ${s.channelTimeoutMs}`);
}
