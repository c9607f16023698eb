import { AliasTable } from '../../sampling/alias.js';
import type { Rng } from '../../util/rng.js';
import { allocateActivity } from './activity.js';
import type { SynthClusters } from './clusters.js';
import { blendedDirection, normalizeRow } from './latent.js';

/** The planted users: how active, when, what they like at the start and at the end. */
export interface SynthUsers {
  readonly count: number;
  /** Interactions of each user; they sum to the requested total. */
  readonly activity: Int32Array;
  /** Seconds since the epoch of the first interaction, and the length of the active period. */
  readonly start: Float64Array;
  readonly span: Float64Array;
  /** count × dim unit taste vectors at the start and after a full drift. */
  readonly tasteStart: Float32Array;
  readonly tasteEnd: Float32Array;
  /** The user's offset on ratings (some people rate generously). */
  readonly ratingBias: Float32Array;
  /** 1 when the user gives half stars (once the site allows them). */
  readonly halfStars: Uint8Array;
  /** Seed of the user's own random stream, so users can be generated in any order. */
  readonly streamSeed: Uint32Array;
}

export interface UserShape {
  readonly count: number;
  readonly dim: number;
  readonly interactions: number;
  readonly minInteractions: number;
  /** Most interactions one user may have. */
  readonly maxInteractions: number;
  readonly activitySigma: number;
  /** How far the end taste is from the start taste, 0..1. */
  readonly drift: number;
  /** First and one past the last second of the data. */
  readonly timeStart: number;
  readonly timeEnd: number;
}

const DAY = 86_400;
/**
 * Active periods are log-normal: a week at the median for a user with 20 ratings, longer for
 * heavier users (half a power of their activity), with a wide spread so some users rate in one
 * sitting and others over years, as on MovieLens.
 */
const MEDIAN_SPAN = 7 * DAY;
const SPAN_SIGMA = 2.5;
/** Weight of the favourite clusters over the user's own direction in a taste. */
const TASTE_FOCUS = 0.8;
/** Users are fans of 1, 2 or 3 clusters with these probabilities. */
const FAVOURITE_COUNT_SHARES = [0.4, 0.4, 0.2];
const RATING_BIAS_SD = 0.45;
const HALF_STAR_USERS = 0.5;

/**
 * `clusterMass` is each cluster's total item popularity: popular kinds of film have more fans.
 */
export function makeUsers(rng: Rng, shape: UserShape, clusters: SynthClusters, clusterMass: Float64Array): SynthUsers {
  const { count, dim } = shape;
  const fandom = new AliasTable(clusterMass);
  const favouriteCount = new AliasTable(FAVOURITE_COUNT_SHARES);
  const drawTaste = (out: Float32Array, offset: number): void => {
    const favourites = Array.from({ length: 1 + favouriteCount.sample(rng) }, () => fandom.sample(rng));
    blendedDirection(rng, favourites, clusters.centroids, TASTE_FOCUS, out, offset, dim);
  };
  const weights = new Float64Array(count);
  for (let u = 0; u < count; u++) weights[u] = Math.exp(shape.activitySigma * rng.normal());
  const floorEach = Math.min(shape.minInteractions, Math.floor(shape.interactions / count));
  const users: SynthUsers = {
    count,
    activity: allocateActivity(weights, shape.interactions, floorEach, shape.maxInteractions),
    start: new Float64Array(count),
    span: new Float64Array(count),
    tasteStart: new Float32Array(count * dim),
    tasteEnd: new Float32Array(count * dim),
    ratingBias: new Float32Array(count),
    halfStars: new Uint8Array(count),
    streamSeed: new Uint32Array(count),
  };
  const period = shape.timeEnd - shape.timeStart;
  for (let u = 0; u < count; u++) {
    const start = shape.timeStart + rng.next() * period;
    const typical = MEDIAN_SPAN * Math.sqrt(Math.max(users.activity[u], 1) / 20);
    users.start[u] = start;
    users.span[u] = Math.min(shape.timeEnd - 1 - start, typical * Math.exp(SPAN_SIGMA * rng.normal()));
    const o = u * dim;
    drawTaste(users.tasteStart, o);
    // The end taste: the start taste pulled towards a second, independently drawn taste.
    drawTaste(users.tasteEnd, o);
    for (let j = 0; j < dim; j++) {
      users.tasteEnd[o + j] = (1 - shape.drift) * users.tasteStart[o + j] + shape.drift * users.tasteEnd[o + j];
    }
    normalizeRow(users.tasteEnd, o, dim);
    users.ratingBias[u] = RATING_BIAS_SD * rng.normal();
    users.halfStars[u] = rng.next() < HALF_STAR_USERS ? 1 : 0;
    users.streamSeed[u] = rng.nextUint32();
  }
  return users;
}
