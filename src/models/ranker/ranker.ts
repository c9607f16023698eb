import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy, readNpyFloat32, readNpyInt32, writeNpy } from '../../artifacts/npy.js';
import { countDistinct } from '../../data/dataset.js';
import { selectRows, type Interactions } from '../../data/interactions.js';
import { buildTrainingData, type TrainingData } from '../../data/training-data.js';
import { buildTargets } from '../../eval/protocol.js';
import type { Csr } from '../../matrix/csr.js';
import type { TopK } from '../../matrix/topk.js';
import { DEFAULT_RRF_K } from '../../rank/candidates.js';
import { checkCooccurrenceParams } from '../../rank/channels/cooccurrence.js';
import { funnelStageMetrics, type FunnelReport } from '../../rank/evaluate-funnel.js';
import { Funnel, type FunnelRanker, type FunnelSettings } from '../../rank/funnel.js';
import { loadGbdtModel, trainGbdt, type GbdtEngine, type GbdtModel, type GbdtTrainInfo } from '../../rank/gbdt/index.js';
import { buildItemGenres, loadItemGenres, saveItemGenres, type ItemGenres } from '../../rank/item-genres.js';
import { buildTrainingExamples, type TrainingExamples } from '../../rank/training-set.js';
import { splitInteractions } from '../../split/split.js';
import { InputError } from '../../util/errors.js';
import { writeJsonAtomic } from '../../util/fs.js';
import { log } from '../../util/log.js';
import type { FitContext, ModelFactory, ModelOption, Recommender } from '../model.js';

/** The ranker's hyper-parameters (CLI flags are their kebab-case forms). */
export interface RankerParams {
  channels: string;
  candidates: number;
  innerFrac: number;
  negatives: number;
  negativeDistribution: 'popularity' | 'uniform';
  validFrac: number;
  maxQueries: number;
  popularityWindowDays: number;
  coocWindow: number;
  coocNeighbours: number;
  coocRecent: number;
  coocDecay: number;
  faissChannels: string;
  rrfK: number;
  channelTimeoutMs: number;
  mmrLambda: number;
  mmrSimilarity: string;
  genreCap: number;
  freshness: number;
  freshnessHalfLifeDays: number;
  gbdtEngine: 'auto' | GbdtEngine;
  trees: number;
  learningRate: number;
  leaves: number;
}

export const RANKER_DEFAULTS: RankerParams = {
  channels: 'als,two-tower,popularity,cooc',
  candidates: 200,
  innerFrac: 0.8,
  negatives: 20,
  negativeDistribution: 'popularity',
  validFrac: 0.2,
  maxQueries: 50_000,
  popularityWindowDays: 90,
  coocWindow: 20,
  coocNeighbours: 100,
  coocRecent: 30,
  coocDecay: 0.95,
  faissChannels: 'two-tower',
  rrfK: DEFAULT_RRF_K,
  channelTimeoutMs: 0,
  mmrLambda: 0.9,
  mmrSimilarity: 'genre',
  genreCap: 0,
  freshness: 0,
  freshnessHalfLifeDays: 365,
  gbdtEngine: 'auto',
  trees: 200,
  learningRate: 0.05,
  leaves: 31,
};

const OPTIONS: readonly ModelOption[] = [
  {
    key: 'channels',
    type: 'string',
    description: 'candidate channels, comma-separated: popularity, cooc, or any registered model kind (als, two-tower, ...)',
  },
  { key: 'candidates', type: 'int', description: 'candidates per channel and merged candidates per user (N)' },
  {
    key: 'innerFrac',
    type: 'float',
    description: 'inner per-user time split of train: the earlier share builds features and candidates, the rest gives labels',
  },
  {
    key: 'negatives',
    type: 'int',
    description: 'sampled negatives per training query, besides the candidates the user did not interact with',
  },
  { key: 'negativeDistribution', type: 'string', description: 'distribution of sampled negatives', choices: ['popularity', 'uniform'] },
  { key: 'validFrac', type: 'float', description: 'share of training queries held out to validate the GBDT (train data only)' },
  { key: 'maxQueries', type: 'int', description: 'most training queries (users), a seeded sample beyond it' },
  { key: 'popularityWindowDays', type: 'float', description: "popularity channel window, days up to the user's last event (0 = all time)" },
  { key: 'coocWindow', type: 'int', description: 'co-occurrence: events at most this many positions apart co-occur' },
  { key: 'coocNeighbours', type: 'int', description: 'co-occurrence: neighbours kept per item' },
  { key: 'coocRecent', type: 'int', description: 'co-occurrence: recent events of the user that vote' },
  { key: 'coocDecay', type: 'float', description: 'co-occurrence: weight decay per event back in time' },
  { key: 'faissChannels', type: 'string', description: 'channels searched through a FAISS index over their embeddings, comma-separated' },
  { key: 'rrfK', type: 'float', description: 'reciprocal-rank fusion constant' },
  { key: 'channelTimeoutMs', type: 'int', description: 'a channel call slower than this is dropped for the batch (0 = no limit)' },
  { key: 'mmrLambda', type: 'float', description: 'MMR relevance weight in [0, 1] (1 = ranked order)' },
  { key: 'mmrSimilarity', type: 'string', description: '"genre" or a channel with item embeddings' },
  { key: 'genreCap', type: 'int', description: 'most items per genre in a list (0 = no cap)' },
  { key: 'freshness', type: 'float', description: 'freshness boost weight (0 = off)' },
  { key: 'freshnessHalfLifeDays', type: 'float', description: 'item age at which the freshness boost halves' },
  {
    key: 'gbdtEngine',
    type: 'string',
    description: 'GBDT program: auto = lightgbm when on PATH or LIGHTGBM_BIN, else xgboost',
    choices: ['auto', 'lightgbm', 'xgboost'],
  },
  { key: 'trees', type: 'int', description: 'boosting rounds' },
  { key: 'learningRate', type: 'float', description: 'GBDT learning rate' },
  { key: 'leaves', type: 'int', description: 'leaves per tree' },
];

const list = (s: string): string[] =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0);

export function funnelSettings(p: RankerParams): FunnelSettings {
  const settings: FunnelSettings = {
    channels: list(p.channels),
    candidates: p.candidates,
    rrfK: p.rrfK,
    channelTimeoutMs: p.channelTimeoutMs,
    popularityWindowDays: p.popularityWindowDays,
    cooccurrence: { window: p.coocWindow, neighbours: p.coocNeighbours, recent: p.coocRecent, decay: p.coocDecay },
    faissChannels: list(p.faissChannels),
    rerank: { mmrLambda: p.mmrLambda, genreCap: p.genreCap, freshness: p.freshness, freshnessHalfLifeDays: p.freshnessHalfLifeDays },
    mmrSimilarity: p.mmrSimilarity,
  };
  checkCooccurrenceParams(settings.cooccurrence);
  return settings;
}

/** What fitting learned besides the models: recorded in params() and ranker.json. */
export interface RankerTrainingInfo {
  readonly gbdt: Omit<GbdtTrainInfo, 'config' | 'history'> & { readonly lastValidMetrics: Record<string, number> | null };
  readonly examples: TrainingExamples['stats'] & { readonly validQueries: number };
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
export class RankerModel implements Recommender, FunnelRanker {
  readonly kind = 'ranker';

  constructor(
    readonly funnel: Funnel,
    readonly gbdt: GbdtModel,
    readonly settings: RankerParams,
    readonly info: RankerTrainingInfo,
  ) {}

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
  recommendWithSources(users: Int32Array, k: number, exclude: Csr | null): { top: TopK; source: Uint8Array; sources: readonly string[] } {
    const { merged, reranked: top } = this.funnel.run(users, k, exclude, this.gbdt);
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
    return { top, source, sources };
  }

  /** Item similarity is the channels' business: the first channel that knows it answers. */
  similarItems(items: Int32Array, k: number): TopK {
    const channel = this.funnel.channels.find((c) => c.model.kind !== 'recent-popularity') ?? this.funnel.fallback;
    return channel.model.similarItems(items, k);
  }

  itemEmbeddings(): null {
    return null;
  }

  userEmbeddings(): null {
    return null;
  }

  params(): Record<string, unknown> {
    return { ...this.settings, features: this.funnel.featureNames.length, ...this.info };
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

async function fitRanker(data: TrainingData, params: RankerParams, ctx?: FitContext): Promise<RankerModel> {
  const p = { ...RANKER_DEFAULTS, ...params };
  const settings = funnelSettings(p);
  if (!(p.innerFrac > 0 && p.innerFrac < 1)) throw new InputError(`--inner-frac must be between 0 and 1 (exclusive), got ${p.innerFrac}`);
  if (!(p.validFrac >= 0 && p.validFrac < 1)) throw new InputError(`--valid-frac must be in [0, 1), got ${p.validFrac}`);
  if (!Number.isInteger(p.maxQueries) || p.maxQueries < 1)
    throw new InputError(`--max-queries must be an integer ≥ 1, got ${p.maxQueries}`);
  if (!Number.isInteger(p.negatives) || p.negatives < 0) throw new InputError(`--negatives must be an integer ≥ 0, got ${p.negatives}`);
  const seconds: Record<string, number> = {};
  const timed = async <T>(name: string, step: () => Promise<T> | T): Promise<T> => {
    const t0 = performance.now();
    const result = await step();
    seconds[name] = (performance.now() - t0) / 1000;
    log.event('ranker.step', { step: name, seconds: seconds[name] });
    return result;
  };
  // Inner split: the earlier part of each user's training events builds features and
  // candidates; the later part gives labels. Test rows never reach fit.
  const inner = splitInteractions(data.train, { strategy: 'temporal-user', frac: p.innerFrac });
  const early = buildTrainingData(inner.train, { catalog: data.catalog, tags: data.tags, seed: data.seed });
  log.info(
    `ranker: inner split ${inner.train.userId.length} feature / ${inner.test.userId.length} label events; channels ${settings.channels.join(', ')}`,
  );
  const earlyFunnel = await timed('fit_channels_inner', () => Funnel.fit(early, buildItemGenres(early.items, data.catalog), settings));
  const examples = await timed('examples', () =>
    buildTrainingExamples(earlyFunnel, inner.test, {
      negatives: p.negatives,
      distribution: p.negativeDistribution,
      validFrac: p.validFrac,
      maxQueries: p.maxQueries,
      seed: data.seed,
    }),
  );
  log.info(`ranker: ${examples.stats.queries} queries, ${examples.stats.rows} rows × ${earlyFunnel.featureNames.length} features`);
  const trained = await timed('gbdt', () =>
    trainGbdt(
      examples.train,
      { numTrees: p.trees, learningRate: p.learningRate, numLeaves: p.leaves, seed: data.seed, evalAt: [10] },
      // OpenMP threads that spin while waiting made an xgboost run 18× slower on 2 busy cores
      // (37.8 s against 2.1 s); passive waiting costs nothing measurable when cores are free.
      {
        engine: p.gbdtEngine,
        valid: examples.valid,
        env: { OMP_WAIT_POLICY: 'PASSIVE', ...process.env },
        // The GBDT's own validation curve (e.g. its ndcg@10 on the inner split's held-out
        // queries) under names of its own: tracked as ndcg_at_10 it hid the evaluated metric.
        onIteration: (i, m) => ctx?.onEpoch?.(i, Object.fromEntries(Object.entries(m).map(([k, v]) => [`gbdt_valid_${k}`, v]))),
      },
    ),
  );
  const validation = await timed('inner_validation', () => innerValidation(earlyFunnel, trained.model, examples, inner.test));
  if (validation)
    log.info(
      `ranker: inner validation ndcg@10: ${Object.entries(validation)
        .filter(([k]) => k.endsWith('ndcg@10'))
        .map(([k, v]) => `${k.replace('.ndcg@10', '')} ${v.toFixed(4)}`)
        .join(', ')}`,
    );
  const funnel = await timed('fit_channels', () => Funnel.fit(data, buildItemGenres(data.items, data.catalog), settings));
  const { config: _config, history, ...gbdtInfo } = trained.info;
  const info: RankerTrainingInfo = {
    gbdt: { ...gbdtInfo, lastValidMetrics: history.at(-1)?.metrics ?? null },
    examples: { ...examples.stats, validQueries: examples.validUsers.length },
    innerValidation: validation,
    seconds,
  };
  return new RankerModel(funnel, trained.model, p, info);
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

async function loadRanker(dir: string): Promise<RankerModel> {
  const file = join(dir, 'ranker.json');
  if (!existsSync(file)) throw new InputError(`${dir}: no ranker.json (not a ranker artifact)`);
  const saved = JSON.parse(readFileSync(file, 'utf8')) as SavedRanker;
  if (saved.format_version !== FORMAT_VERSION)
    throw new InputError(`${file}: format_version ${saved.format_version}, this version reads ${FORMAT_VERSION}`);
  const train: Interactions = {
    userId: readNpyInt32(join(dir, TRAIN_FILES.userId)),
    itemId: readNpyInt32(join(dir, TRAIN_FILES.itemId)),
    rating: readNpyFloat32(join(dir, TRAIN_FILES.rating)).data,
    timestamp: readNpy(join(dir, TRAIN_FILES.timestamp)).data as Float64Array,
  };
  const data = buildTrainingData(train, { seed: saved.seed });
  const genres: ItemGenres = loadItemGenres(dir, saved.genres);
  const funnel = await Funnel.load(dir, data, genres, funnelSettings(saved.params));
  if (funnel.featureNames.join('\n') !== saved.features.join('\n'))
    throw new InputError(`${file}: feature list differs from what this version computes`);
  return new RankerModel(funnel, loadGbdtModel(join(dir, saved.gbdt_model)), saved.params, saved.training);
}

export const rankerFactory: ModelFactory<RankerParams> = {
  kind: 'ranker',
  description: 'multi-channel candidates, GBDT lambdarank (lightgbm/xgboost CLI), MMR re-ranking',
  defaults: RANKER_DEFAULTS,
  options: OPTIONS,
  fit: fitRanker,
  load: loadRanker,
};
