import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { readNpy, readNpyFloat32, readNpyInt32, writeNpy } from '../artifacts/npy.js';
import { countDistinct } from '../data/dataset.js';
import { selectRows, type Interactions } from '../data/interactions.js';
import { buildTrainingData, type TrainingData } from '../data/training-data.js';
import { buildTargets } from '../eval/protocol.js';
import type { Csr } from '../matrix/csr.js';
import type { TopK } from '../matrix/topk.js';
import { DEFAULT_RRF_K } from './candidates.js';
import { BUILT_IN_CHANNELS, type ChannelModels, unknownChannels } from './channels/channel.js';
import { funnelStageMetrics, type FunnelReport } from './evaluate-funnel.js';
import { Funnel, type FunnelRanker, type FunnelSettings } from './funnel.js';
import {
  gbdtParamsSchema,
  loadGbdtModel,
  ThreadedGbdtModel,
  trainGbdt,
  type GbdtModel,
  type GbdtTrainInfo,
  type GbdtTrainResult,
  type RankingData,
} from './gbdt/index.js';
import { buildItemGenres, loadItemGenres, saveItemGenres, type ItemGenres } from './item-genres.js';
import { buildClickExamples, type ClickExampleStats, type LoggedImpressions } from './click-training.js';
import { buildTrainingExamples, type TrainingExamples } from './training-set.js';
import { splitInteractions } from '../split/split.js';
import { InputError } from '../util/errors.js';
import { writeJsonAtomic } from '../util/fs.js';
import { log } from '../util/log.js';
import type {
  FitContext,
  HoldsResources,
  ModelFactory,
  NamesSources,
  PreparesServing,
  Recommender,
  SourcedTopK,
  SummarisesTraining,
} from '../models/model.js';
import { parseParams } from '../models/params.js';

const atLeast = (min: number) => z.number().int().min(min);
const gbdt = gbdtParamsSchema.shape;

/** The ranker's hyper-parameters (see models/params.ts). */
export const rankerParamsSchema = z
  .object({
    channels: z
      .string()
      .min(1)
      .default('als,two-tower,popularity,cooc')
      .describe('candidate channels, comma-separated: popularity, cooc, or any registered model kind (als, two-tower, ...)'),
    candidates: atLeast(1).default(200).describe('candidates per channel and merged candidates per user (N)'),
    inner_frac: z
      .number()
      .gt(0)
      .lt(1)
      .default(0.8)
      .describe('inner per-user time split of train: the earlier share builds features and candidates, the rest gives labels'),
    negatives: atLeast(0)
      .default(20)
      .describe('sampled negatives per training query, besides the candidates the user did not interact with'),
    negative_distribution: z.enum(['popularity', 'uniform']).default('popularity').describe('distribution of sampled negatives'),
    valid_frac: z.number().min(0).lt(1).default(0.2).describe('share of training queries held out to validate the GBDT (train data only)'),
    max_queries: atLeast(1).default(50_000).describe('most training queries (users), a seeded sample beyond it'),
    popularity_window_days: z
      .number()
      .min(0)
      .finite()
      .default(90)
      .describe("popularity channel window, days up to the user's last event (0 = all time)"),
    cooc_window: atLeast(1).default(20).describe('co-occurrence: events at most this many positions apart co-occur'),
    cooc_neighbours: atLeast(1).default(100).describe('co-occurrence: neighbours kept per item'),
    cooc_recent: atLeast(1).default(30).describe('co-occurrence: recent events of the user that vote'),
    cooc_decay: z.number().gt(0).max(1).default(0.95).describe('co-occurrence: weight decay per event back in time'),
    faiss_channels: z
      .string()
      .default('two-tower')
      .describe('channels searched through a FAISS index over their embeddings, comma-separated'),
    rrf_k: z.number().min(0).finite().default(DEFAULT_RRF_K).describe('reciprocal-rank fusion constant'),
    channel_timeout_ms: atLeast(0).default(0).describe('a channel call slower than this is dropped for the batch (0 = no limit)'),
    mmr_lambda: z.number().min(0).max(1).default(0.9).describe('MMR relevance weight (1 = ranked order)'),
    mmr_similarity: z.string().min(1).default('genre').describe('"genre" or a channel with item embeddings'),
    genre_cap: atLeast(0).default(0).describe('most items per genre in a list (0 = no cap)'),
    freshness: z.number().min(0).finite().default(0).describe('freshness boost weight (0 = off)'),
    freshness_half_life_days: z.number().gt(0).finite().default(365).describe('item age at which the freshness boost halves'),
    gbdt_engine: z
      .enum(['auto', 'lightgbm', 'xgboost'])
      .default('auto')
      .describe('GBDT program: auto = lightgbm when on PATH or LIGHTGBM_BIN, else xgboost'),
    trees: gbdt.numTrees.removeDefault().default(200).describe('GBDT boosting rounds'),
    learning_rate: gbdt.learningRate.removeDefault().default(0.05).describe('GBDT learning rate'),
    leaves: gbdt.numLeaves.removeDefault().default(31).describe('GBDT leaves per tree'),
    ips_floor: z
      .number()
      .gt(0)
      .max(1)
      .default(0.05)
      .describe('training from logged clicks: the smallest θ_p a click is divided by (caps its weight 1/θ_p at 1/ips_floor)'),
  })
  .strict();

export type RankerParams = z.infer<typeof rankerParamsSchema>;

const list = (s: string): string[] =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0);

export function funnelSettings(p: RankerParams): FunnelSettings {
  const settings: FunnelSettings = {
    channels: list(p.channels),
    candidates: p.candidates,
    rrfK: p.rrf_k,
    channelTimeoutMs: p.channel_timeout_ms,
    popularityWindowDays: p.popularity_window_days,
    cooccurrence: { window: p.cooc_window, neighbours: p.cooc_neighbours, recent: p.cooc_recent, decay: p.cooc_decay },
    faissChannels: list(p.faiss_channels),
    rerank: { mmrLambda: p.mmr_lambda, genreCap: p.genre_cap, freshness: p.freshness, freshnessHalfLifeDays: p.freshness_half_life_days },
    mmrSimilarity: p.mmr_similarity,
  };
  return settings;
}

/** What fitting learned besides the models: recorded in params() and ranker.json. */
export interface RankerTrainingInfo {
  readonly gbdt: Omit<GbdtTrainInfo, 'config' | 'history'> & { readonly lastValidMetrics: Record<string, number> | null };
  /** Lambdarank examples of the inner split, or (fitted from logged clicks) the click examples and the examination curve used. */
  readonly examples:
    | (TrainingExamples['stats'] & { readonly validQueries: number })
    | (ClickExampleStats & { readonly source: 'clicks'; readonly theta: readonly number[] });
  /** Funnel stages on the held-out training queries (inner split, train data only). */
  readonly innerValidation: Record<string, number> | null;
  readonly seconds: Record<string, number>;
}

const FORMAT_VERSION = 1;
const TRAIN_FILES = {
  userId: 'train_user_id.npy',
  itemId: 'train_item_id.npy',
  rating: 'train_rating.npy',
  timestamp: 'train_timestamp.npy',
};

/**
 * Multi-channel candidates → merge → GBDT lambdarank → re-ranking, as one Recommender: its
 * fit learns the GBDT on an inner time split of train; `recommend` runs the whole funnel.
 */
export class RankerModel implements Recommender, NamesSources, SummarisesTraining, HoldsResources, PreparesServing, FunnelRanker {
  readonly kind = 'ranker';
  /** Scores a batch of users' candidates on all cores (an all-user export, an evaluation). */
  readonly gbdt: ThreadedGbdtModel;

  constructor(
    readonly funnel: Funnel,
    gbdt: GbdtModel,
    readonly settings: RankerParams,
    readonly info: RankerTrainingInfo,
  ) {
    this.gbdt = new ThreadedGbdtModel(gbdt);
  }

  get users() {
    return this.funnel.data.users;
  }

  get items() {
    return this.funnel.data.items;
  }

  recommend(users: Int32Array, k: number, exclude: Csr | null): TopK {
    return this.funnel.run(users, k, exclude, this.gbdt).reranked;
  }

  /**
   * The final lists with, per item, the channel that ranked it best among those that returned it
   * ("fallback" for items only the popularity fill-up supplied).
   */
  recommendWithSources(users: Int32Array, k: number, exclude: Csr | null): SourcedTopK {
    const { lists, merged, reranked: top, seconds } = this.funnel.run(users, k, exclude, this.gbdt);
    const nChannels = merged.channels.length;
    const sources = [...merged.channels, 'fallback'];
    const source = new Uint8Array(top.items.length).fill(nChannels);
    for (let b = 0; b < users.length; b++) {
      for (let j = 0; j < k; j++) {
        const item = top.items[b * k + j];
        if (item < 0) continue;
        for (let row = merged.offsets[b]; row < merged.offsets[b + 1]; row++) {
          if (merged.items[row] !== item) continue;
          let best = Infinity;
          for (let c = 0; c < nChannels; c++) {
            const rank = merged.channelRanks[row * nChannels + c];
            if (rank < best) {
              best = rank;
              source[b * k + j] = c;
            }
          }
          break;
        }
      }
    }
    const skipped = merged.channels.filter((_, c) => lists[c] === null);
    return { top, source, sources, skipped, seconds };
  }

  /** Item similarity is the channels' business: the first channel that knows it answers. */
  similarItems(items: Int32Array, k: number): TopK {
    const channel = this.funnel.channels.find((c) => c.model.kind !== 'recent-popularity') ?? this.funnel.fallback;
    return channel.model.similarItems(items, k);
  }

  params(): RankerParams {
    return { ...this.settings };
  }

  prepareServing(): void {
    this.funnel.prepareServing();
  }

  /** Ends its channel models' and its GBDT scoring's worker threads. */
  close(): void {
    this.funnel.close();
    void this.gbdt.close();
  }

  trainingSummary(): Record<string, unknown> {
    const channelParams = Object.fromEntries(this.funnel.channels.map((c) => [c.name, c.model.params()]));
    return { features: this.funnel.featureNames.length, channelParams, ...this.info };
  }

  async save(dir: string): Promise<void> {
    const train = this.funnel.data.train;
    for (const [key, file] of Object.entries(TRAIN_FILES)) writeNpy(join(dir, file), train[key as keyof Interactions]);
    saveItemGenres(this.funnel.genres, dir);
    await this.funnel.save(dir);
    mkdirSync(join(dir, 'gbdt'), { recursive: true });
    const modelFile = this.gbdt.engine === 'xgboost' ? 'model.json' : 'model.txt';
    this.gbdt.save(join(dir, 'gbdt', modelFile));
    writeJsonAtomic(join(dir, 'ranker.json'), {
      format_version: FORMAT_VERSION,
      params: this.settings,
      seed: this.funnel.data.seed,
      genres: this.funnel.genres.names,
      features: this.funnel.featureNames,
      gbdt_model: `gbdt/${modelFile}`,
      training: this.info,
    });
  }
}

/** The evaluated stages on the held-out inner queries, flattened for the manifest. */
function innerValidation(funnel: Funnel, gbdt: GbdtModel, examples: TrainingExamples, late: Interactions): Record<string, number> | null {
  if (examples.validUsers.length === 0) return null;
  const { data } = funnel;
  const validRaw = new Set(Array.from(examples.validUsers, (u) => data.users.rawId(u)));
  const rows = Int32Array.from({ length: late.userId.length }, (_, r) => r).filter((r) => validRaw.has(late.userId[r]));
  const targets = buildTargets(selectRows(late, rows), data.users, data.items, data.matrix);
  const report: FunnelReport = funnelStageMetrics(
    { users: data.users, items: data.items, funnel, gbdt },
    targets,
    data.matrix,
    countDistinct(data.train.itemId),
    {
      ks: [10],
      catalog: data.catalog,
    },
  );
  const out: Record<string, number> = { users: report.users };
  for (const s of report.stages) out[`${s.stage}.ndcg@10`] = s.metrics['ndcg@10'];
  for (const [c, r] of Object.entries(report.candidateRecall)) out[`candidate_recall@${report.candidates}.${c}`] = r;
  return out;
}

type Timed = <T>(name: string, step: () => Promise<T> | T) => Promise<T>;

/**
 * The GBDT, learnt on the inner time split of train: channels fitted on the earlier part make
 * the candidates and features, the later part gives the labels. Its channels see only the
 * earlier part, so they are not those the ranker serves with (fitted on all of train); they
 * are closed here, and unreachable once this returns, so that the serving channels' fit does
 * not hold both in memory.
 */
async function fitOnInnerSplit(channels: ChannelModels, data: TrainingData, p: RankerParams, timed: Timed, ctx?: FitContext) {
  const settings = funnelSettings(p);
  // Inner split: the earlier part of each user's training events builds features and
  // candidates; the later part gives labels. Test rows never reach fit.
  const inner = splitInteractions(data.train, { strategy: 'temporal-user', frac: p.inner_frac });
  const early = buildTrainingData(inner.train, { catalog: data.catalog, tags: data.tags, seed: data.seed });
  log.info(
    `ranker: inner split ${inner.train.userId.length} feature / ${inner.test.userId.length} label events; channels ${settings.channels.join(', ')}`,
  );
  const earlyFunnel = await timed('fit_channels_inner', () =>
    Funnel.fit(early, buildItemGenres(early.items, data.catalog), settings, channels),
  );
  try {
    const examples = await timed('examples', () =>
      buildTrainingExamples(earlyFunnel, inner.test, {
        negatives: p.negatives,
        distribution: p.negative_distribution,
        validFrac: p.valid_frac,
        maxQueries: p.max_queries,
        seed: data.seed,
      }),
    );
    log.info(`ranker: ${examples.stats.queries} queries, ${examples.stats.rows} rows × ${earlyFunnel.featureNames.length} features`);
    const trained = await timed('gbdt', () => trainRankerGbdt(examples.train, examples.valid, 'lambdarank', p, data.seed, ctx));
    const validation = await timed('inner_validation', () => innerValidation(earlyFunnel, trained.model, examples, inner.test));
    if (validation)
      log.info(
        `ranker: inner validation ndcg@10: ${Object.entries(validation)
          .filter(([k]) => k.endsWith('ndcg@10'))
          .map(([k, v]) => `${k.replace('.ndcg@10', '')} ${v.toFixed(4)}`)
          .join(', ')}`,
      );
    return { trained, stats: { ...examples.stats, validQueries: examples.validUsers.length }, validation };
  } finally {
    earlyFunnel.close();
  }
}

/** The ranker's GBDT with its parameters, through the engine's CLI. */
function trainRankerGbdt(
  train: RankingData,
  valid: RankingData | null,
  objective: 'lambdarank' | 'regression',
  p: RankerParams,
  seed: number,
  ctx?: FitContext,
): Promise<GbdtTrainResult> {
  return trainGbdt(
    train,
    { objective, numTrees: p.trees, learningRate: p.learning_rate, numLeaves: p.leaves, seed, evalAt: [10] },
    // OpenMP threads that spin while waiting made an xgboost run 18× slower on 2 busy cores
    // (37.8 s against 2.1 s); passive waiting costs nothing measurable when cores are free.
    {
      engine: p.gbdt_engine,
      valid,
      env: { OMP_WAIT_POLICY: 'PASSIVE', ...process.env },
      // The GBDT's own validation curve (e.g. its ndcg@10 on the inner split's held-out
      // queries) under names of its own: tracked as ndcg_at_10 it hid the evaluated metric.
      onIteration: (i, m) => ctx?.onEpoch?.(i, Object.fromEntries(Object.entries(m).map(([k, v]) => [`gbdt_valid_${k}`, v]))),
      tempIn: ctx?.tempDir,
    },
  );
}

/** A step timer: `timed` runs a step and records its seconds under its name. */
function stepTimer(): { timed: Timed; seconds: Record<string, number> } {
  const seconds: Record<string, number> = {};
  const timed: Timed = async (name, step) => {
    const t0 = performance.now();
    const result = await step();
    seconds[name] = (performance.now() - t0) / 1000;
    log.event('ranker.step', { step: name, seconds: seconds[name] });
    return result;
  };
  return { timed, seconds };
}

const gbdtSummary = ({ config: _config, history, ...info }: GbdtTrainInfo): RankerTrainingInfo['gbdt'] => ({
  ...info,
  lastValidMetrics: history.at(-1)?.metrics ?? null,
});

async function fitRanker(channels: ChannelModels, data: TrainingData, p: RankerParams, ctx?: FitContext): Promise<RankerModel> {
  const { timed, seconds } = stepTimer();
  const { trained, stats, validation } = await fitOnInnerSplit(channels, data, p, timed, ctx);
  // Fitted again, on all of train: the served channels must know the label window's events
  // (a user's latest items, new items), which the inner split's channels must not have seen.
  const funnel = await timed('fit_channels', () =>
    Funnel.fit(data, buildItemGenres(data.items, data.catalog), funnelSettings(p), channels),
  );
  const info: RankerTrainingInfo = { gbdt: gbdtSummary(trained.info), examples: stats, innerValidation: validation, seconds };
  return new RankerModel(funnel, trained.model, p, info);
}

/** Logged clicks to learn from, and the examination curve that weights them. */
export interface ClickTraining {
  readonly impressions: LoggedImpressions;
  /** θ_p for positions 1..P (θ_1 = 1), e.g. from `estimatePositionBias`; rows shown beyond P are left out. All 1: unweighted. */
  readonly theta: readonly number[];
}

/**
 * The ranker learnt from logged clicks instead of an inner split of train
 * (docs/position-bias.md): the channels are fitted on `data`, which must be what the funnel knew
 * when the logs were collected (the served model's training data, not the logged clicks
 * themselves, or a clicked item's features would give its click away); each shown item becomes
 * a regression example labelled clicked / θ_p, so the GBDT learns relevance, not position.
 *
 * Why regression rather than the lambdarank of `fit`: XGBoost's rank objectives take one weight
 * per query group, not per example, and a pointwise logistic loss with per-example weights is
 * unbiased only with a negative weight on clicked rows' negative part, which trees cannot take;
 * the squared error on the inverse-propensity label has E[clicked / θ_p] = relevance as its
 * minimiser, with non-negative labels.
 */
export async function fitRankerFromClicks(
  channels: ChannelModels,
  data: TrainingData,
  p: RankerParams,
  clicks: ClickTraining,
  ctx?: FitContext,
): Promise<RankerModel> {
  const { timed, seconds } = stepTimer();
  const funnel = await timed('fit_channels', () =>
    Funnel.fit(data, buildItemGenres(data.items, data.catalog), funnelSettings(p), channels),
  );
  try {
    const examples = await timed('examples', () => buildClickExamples(funnel, clicks.impressions, clicks.theta, p.ips_floor));
    if (examples.stats.rows === 0)
      throw new InputError(`ranker: none of the ${examples.stats.impressions} logged impressions shows a known user a known item`);
    log.info(
      `ranker: ${examples.stats.rows} logged impressions (${examples.stats.clicks} clicks) of ${examples.stats.users} users × ${funnel.featureNames.length} features`,
    );
    const trained = await timed('gbdt', () => trainRankerGbdt(examples.data, null, 'regression', p, data.seed, ctx));
    const info: RankerTrainingInfo = {
      gbdt: gbdtSummary(trained.info),
      examples: { ...examples.stats, source: 'clicks', theta: clicks.theta },
      innerValidation: null,
      seconds,
    };
    return new RankerModel(funnel, trained.model, p, info);
  } catch (err) {
    funnel.close();
    throw err;
  }
}

interface SavedRanker {
  format_version: number;
  params: RankerParams;
  seed: number;
  genres: string[];
  features: string[];
  gbdt_model: string;
  training: RankerTrainingInfo;
}

async function loadRanker(channels: ChannelModels, dir: string): Promise<RankerModel> {
  const file = join(dir, 'ranker.json');
  if (!existsSync(file)) throw new InputError(`${dir}: no ranker.json (not a ranker artifact)`);
  const saved = JSON.parse(readFileSync(file, 'utf8')) as SavedRanker;
  if (saved.format_version !== FORMAT_VERSION)
    throw new InputError(`${file}: format_version ${saved.format_version}, this version reads ${FORMAT_VERSION}`);
  const params = parseParams(`${file}: ranker`, rankerParamsSchema, saved.params);
  const train: Interactions = {
    userId: readNpyInt32(join(dir, TRAIN_FILES.userId)),
    itemId: readNpyInt32(join(dir, TRAIN_FILES.itemId)),
    rating: readNpyFloat32(join(dir, TRAIN_FILES.rating)).data,
    timestamp: readNpy(join(dir, TRAIN_FILES.timestamp)).data as Float64Array,
  };
  const data = buildTrainingData(train, { seed: saved.seed });
  const genres: ItemGenres = loadItemGenres(dir, saved.genres);
  const funnel = await Funnel.load(dir, data, genres, funnelSettings(params), channels);
  if (funnel.featureNames.join('\n') !== saved.features.join('\n'))
    throw new InputError(`${file}: feature list differs from what this version computes`);
  return new RankerModel(funnel, loadGbdtModel(join(dir, saved.gbdt_model)), params, saved.training);
}

/**
 * The ranker's factory, assembled with the models it may use as channels besides the built-in
 * popularity and co-occurrence ones (`channels` names them; each is fitted with its own
 * parameters). Loading a saved ranker needs the same channel models.
 */
export function rankerFactory(channels: ChannelModels): ModelFactory<typeof rankerParamsSchema, RankerModel> {
  const clash = Object.keys(channels).find((name) => BUILT_IN_CHANNELS.includes(name));
  if (clash !== undefined) throw new Error(`ranker channel "${clash}" would hide the built-in channel of that name`);
  return {
    kind: 'ranker',
    description: 'multi-channel candidates, GBDT lambdarank (lightgbm/xgboost CLI), MMR re-ranking',
    params: rankerParamsSchema,
    checkParams: (p) => unknownChannels(list(p.channels), channels).map((message) => ({ key: 'channels', message })),
    fit: (data, params, ctx) => fitRanker(channels, data, params, ctx),
    load: (dir) => loadRanker(channels, dir),
  };
}
