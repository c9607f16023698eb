import { InputError } from '../util/errors.js';
import { log } from '../util/log.js';
import { Progress } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { claimOutput } from '../util/output.js';
import { DATASET_OUTPUT, writeDataset, type DatasetMeta } from './dataset.js';
import { allocInteractions, type Interactions, type ItemCatalog } from './interactions.js';
import { makeClusters, type SynthClusters } from './synth/clusters.js';
import { generateEvents, type EventStats } from './synth/events.js';
import { MOVIELENS_GENRES, NO_GENRES } from './synth/genres.js';
import { clusterMass, makeItems, type SynthItems } from './synth/items.js';
import { randomDirections } from './synth/latent.js';
import { assignRatings } from './synth/ratings.js';
import { makeUsers, type SynthUsers } from './synth/users.js';

/**
 * `recsys data synth`: a MovieLens-shaped dataset with planted structure. Items have genres, a
 * release year, a log-normal popularity and a latent vector (genre directions plus noise); users
 * have a log-normal activity (summing exactly to `interactions`), an active period within the
 * years covered, and a taste vector that drifts from a start to an end direction. Each event
 * picks an unseen, released item with probability ∝ popularity × exp(tasteStrength × taste·item),
 * and its rating rises with that affinity. A collaborative model can therefore beat popularity,
 * by a margin that `tasteStrength` sets (0: popularity only).
 */
export interface SynthParams {
  /** Users, ids 1..users. Default 162,541 (MovieLens 25M). */
  readonly users: number;
  /** Catalogue items, ids 1..items. Default 59,047 (MovieLens 25M's rated movies). */
  readonly items: number;
  /** Interactions in all. Default 25,000,095 (MovieLens 25M). */
  readonly interactions: number;
  /** Seed of every random choice. Default 42. */
  readonly seed: number;
  /** How many genres of the MovieLens vocabulary to use, most frequent first. Default 19 (all). */
  readonly genres: number;
  /** First calendar year of the timestamps. Default 1995 (as MovieLens 25M). */
  readonly startYear: number;
  /** Calendar years the timestamps cover. Default 25 (1995..2019). */
  readonly years: number;
  /** Dimension of the planted latent space. Default 16. */
  readonly dim: number;
  /** Kinds of film: item clusters with a shared genre set, of which users are fans. Default 64. */
  readonly clusters: number;
  /** Inverse temperature of taste in item choice; 0 makes choices follow popularity only. Default 4. */
  readonly tasteStrength: number;
  /** Candidates per round within a cluster among which taste chooses. Default 8. */
  readonly candidates: number;
  /** How far a user's end taste is from their start taste, 0..1. Default 0.5. */
  readonly drift: number;
  /** Years of activity over which a user's taste drifts fully. Default 3. */
  readonly driftYears: number;
  /** Log-normal sigma of item popularity. Default 1.8. */
  readonly popularitySigma: number;
  /** Log-normal sigma of user activity. Default 1.6. */
  readonly activitySigma: number;
  /** Fewest interactions per user, when the total allows (MovieLens keeps users with 20+). Default 20. */
  readonly minUserInteractions: number;
}

export const SYNTH_DEFAULTS: SynthParams = {
  users: 162_541,
  items: 59_047,
  interactions: 25_000_095,
  seed: 42,
  genres: MOVIELENS_GENRES.length,
  startYear: 1995,
  years: 25,
  dim: 16,
  clusters: 64,
  tasteStrength: 4,
  candidates: 8,
  drift: 0.5,
  driftYears: 3,
  popularitySigma: 1.8,
  activitySigma: 1.6,
  minUserInteractions: 20,
};

/** No user rates more than this share of the catalogue (MovieLens 25M's heaviest: 32k of 59k). */
const MAX_USER_SHARE = 0.5;
const SECONDS_PER_YEAR = 365.25 * 86_400;

export interface SyntheticData {
  readonly params: SynthParams;
  /** Rows grouped by user (ascending id), each user's rows in time order. */
  readonly interactions: Interactions;
  readonly catalog: ItemCatalog;
  /** The planted affinity (taste at that time · item vector) of each row. */
  readonly affinity: Float32Array;
  /** The planted truth, for checks that a model recovers it (rows are dense index = id - 1). */
  readonly planted: PlantedVectors;
  readonly stats: EventStats;
}

export interface PlantedVectors {
  readonly dim: number;
  /** items × dim unit vectors. */
  readonly items: Float32Array;
  /** users × dim unit tastes at the start of each user's activity and after a full drift. */
  readonly tasteStart: Float32Array;
  readonly tasteEnd: Float32Array;
}

/** Most interactions one user can have with a catalogue of `items`. */
export function maxUserInteractions(items: number): number {
  return Math.max(1, Math.floor(items * MAX_USER_SHARE));
}

/** The defaults overridden by `given`, checked; bad values are an InputError naming the field. */
export function resolveSynthParams(given: Partial<SynthParams>): SynthParams {
  const p: SynthParams = { ...SYNTH_DEFAULTS, ...given };
  const integer = (field: keyof SynthParams, min: number, max: number): void => {
    const v = p[field];
    if (!Number.isInteger(v) || v < min || v > max) throw new InputError(`synth: ${field} must be an integer in ${min}..${max}, got ${v}`);
  };
  const real = (field: keyof SynthParams, min: number, max: number): void => {
    const v = p[field];
    if (!Number.isFinite(v) || v < min || v > max) throw new InputError(`synth: ${field} must be a number in ${min}..${max}, got ${v}`);
  };
  integer('users', 1, 2 ** 31 - 1);
  integer('items', 1, 2 ** 31 - 1);
  integer('interactions', 1, 2 ** 31 - 1);
  integer('seed', 0, 2 ** 32 - 1);
  integer('genres', 1, MOVIELENS_GENRES.length);
  integer('startYear', 1970, 2100);
  integer('years', 1, 100);
  integer('dim', 1, 1024);
  integer('clusters', 1, 100_000);
  real('tasteStrength', 0, 50);
  integer('candidates', 1, 4096);
  real('drift', 0, 1);
  real('driftYears', 1e-6, 1000);
  real('popularitySigma', 0, 10);
  real('activitySigma', 0, 10);
  integer('minUserInteractions', 0, 2 ** 31 - 1);
  const perUser = maxUserInteractions(p.items);
  if (p.interactions > p.users * perUser) {
    throw new InputError(
      `synth: ${p.interactions} interactions do not fit ${p.users} users × ${p.items} items (a user rates at most ${perUser} items); ask for fewer interactions or more items`,
    );
  }
  return p;
}

/** The planted structure a dataset's events are drawn from: kinds of film, items, users. */
export interface SynthStructure {
  readonly params: SynthParams;
  readonly clusters: SynthClusters;
  readonly items: SynthItems;
  readonly users: SynthUsers;
  readonly planted: PlantedVectors;
}

/**
 * The planted structure alone (no events: O(users + items)), the same as `generateSynthetic`
 * draws for the same parameters, so a dataset's truth can be regenerated from its dataset.json.
 * `rng` continues with the draws after the structure (the ratings).
 */
export function plantSynthetic(given: Partial<SynthParams> = {}, rng = new Rng(resolveSynthParams(given).seed)): SynthStructure {
  const p = resolveSynthParams(given);
  const endYear = p.startYear + p.years - 1;
  const clusters = makeClusters(rng, p.clusters, p.dim, p.genres, randomDirections(rng, p.genres, p.dim));
  const items = makeItems(rng, { count: p.items, dim: p.dim, vocabulary: p.genres, popularitySigma: p.popularitySigma, endYear }, clusters);
  const users = makeUsers(
    rng,
    {
      count: p.users,
      dim: p.dim,
      interactions: p.interactions,
      minInteractions: p.minUserInteractions,
      maxInteractions: maxUserInteractions(p.items),
      activitySigma: p.activitySigma,
      drift: p.drift,
      timeStart: Date.UTC(p.startYear, 0, 1) / 1000,
      timeEnd: Date.UTC(endYear + 1, 0, 1) / 1000,
    },
    clusters,
    clusterMass(items, p.clusters),
  );
  const planted = { dim: p.dim, items: items.vectors, tasteStart: users.tasteStart, tasteEnd: users.tasteEnd };
  return { params: p, clusters, items, users, planted };
}

/** Generates the dataset in memory (typed arrays; about 24 bytes per interaction). */
export function generateSynthetic(given: Partial<SynthParams> = {}): SyntheticData {
  const p = resolveSynthParams(given);
  const rng = new Rng(p.seed);
  const { clusters, items, users, planted } = plantSynthetic(p, rng);
  const interactions = allocInteractions(p.interactions);
  const affinity = new Float32Array(p.interactions);
  const progress = new Progress('synth: events', p.interactions, 'events');
  const stats = generateEvents(
    items,
    clusters,
    users,
    { dim: p.dim, tasteStrength: p.tasteStrength, candidates: p.candidates, driftSeconds: p.driftYears * SECONDS_PER_YEAR },
    interactions,
    affinity,
    progress,
  );
  progress.finish({ ...stats });
  assignRatings(rng, interactions, affinity, users, items);
  return { params: p, interactions, catalog: catalogOf(items), affinity, planted, stats };
}

function catalogOf(items: SynthItems): ItemCatalog {
  const itemId = Int32Array.from({ length: items.count }, (_, i) => i + 1);
  return {
    itemId,
    title: Array.from(itemId, (id, i) => `Synthetic Movie ${id} (${items.releaseYear[i]})`),
    genres: items.genres.map((g) => (g.length === 0 ? [NO_GENRES] : g.map((k) => MOVIELENS_GENRES[k].name))),
  };
}

/**
 * Generates a dataset and writes it to `outDir` in the layout of `recsys data import`
 * (interactions.parquet, items.parquet, dataset.json with source {kind: 'synth', params}).
 */
export async function synthesizeDataset(outDir: string, given: Partial<SynthParams> = {}): Promise<DatasetMeta> {
  claimOutput(outDir, DATASET_OUTPUT);
  const started = Date.now();
  const data = generateSynthetic(given);
  log.info(`synth: ${data.params.interactions} events generated in ${((Date.now() - started) / 1000).toFixed(1)}s; writing ${outDir}`);
  const meta = await writeDataset(outDir, {
    interactions: data.interactions,
    catalog: data.catalog,
    source: { kind: 'synth', params: { ...data.params } },
  });
  log.event('synth.done', { out: outDir, seconds: (Date.now() - started) / 1000, ...data.stats });
  return meta;
}
