import type { Rng } from '../../util/rng.js';
import type { SynthClusters } from './clusters.js';
import { drawGenres } from './genres.js';
import { blendedDirection } from './latent.js';

/** The planted catalogue: what each item is, how popular, and where it sits in taste space. */
export interface SynthItems {
  readonly count: number;
  /** Cluster (kind of film) of each item. */
  readonly cluster: Int32Array;
  /** Genre indices (into MOVIELENS_GENRES) of each item. */
  readonly genres: number[][];
  readonly releaseYear: Int32Array;
  /** Seconds since the epoch at which the item can first be rated: 1 January of its release year. */
  readonly releaseTime: Float64Array;
  /** count × dim unit vectors. */
  readonly vectors: Float32Array;
  /** Relative popularity (log-normal): the base rate at which users come across the item. */
  readonly popularity: Float64Array;
  /** The item's offset on ratings (some films are better than others). */
  readonly quality: Float32Array;
}

export interface ItemShape {
  readonly count: number;
  readonly dim: number;
  readonly vocabulary: number;
  readonly popularitySigma: number;
  /** Last calendar year of the data: no item is released after it. */
  readonly endYear: number;
}

/** Weight of the cluster centroid over the item's own direction in its vector. */
const CLUSTER_WEIGHT = 0.7;
/** Share of items whose genres are drawn afresh rather than taken from their cluster. */
const OWN_GENRES_SHARE = 0.2;
/**
 * Release ages (years before the end of the data) are log-normal with median 20 and sigma 0.75,
 * which matches the release-year quantiles of ml-latest-small (10%: 1967, median 1999, 90%: 2013
 * for data ending in 2018). Better-known films are rated a little higher.
 */
const MEDIAN_RELEASE_AGE = 20;
const RELEASE_AGE_SIGMA = 0.75;
const EARLIEST_RELEASE_YEAR = 1902;
const QUALITY_SD = 0.3;
const QUALITY_PER_POPULARITY_SD = 0.1;

export function makeItems(rng: Rng, shape: ItemShape, clusters: SynthClusters): SynthItems {
  const { count, dim } = shape;
  const items: SynthItems = {
    count,
    cluster: new Int32Array(count),
    genres: [],
    releaseYear: new Int32Array(count),
    releaseTime: new Float64Array(count),
    vectors: new Float32Array(count * dim),
    popularity: new Float64Array(count),
    quality: new Float32Array(count),
  };
  for (let i = 0; i < count; i++) {
    const c = clusters.sizes.sample(rng);
    items.cluster[i] = c;
    items.genres.push(rng.next() < OWN_GENRES_SHARE ? drawGenres(rng, shape.vocabulary) : clusters.genres[c]);
    blendedDirection(rng, [c], clusters.centroids, CLUSTER_WEIGHT, items.vectors, i * dim, dim);
    const age = Math.floor(MEDIAN_RELEASE_AGE * Math.exp(RELEASE_AGE_SIGMA * rng.normal()));
    const year = Math.max(EARLIEST_RELEASE_YEAR, shape.endYear - age);
    items.releaseYear[i] = year;
    items.releaseTime[i] = Date.UTC(year, 0, 1) / 1000;
    const z = rng.normal();
    items.popularity[i] = Math.exp(shape.popularitySigma * z);
    items.quality[i] = QUALITY_SD * rng.normal() + QUALITY_PER_POPULARITY_SD * z;
  }
  return items;
}

/** Total popularity of each cluster's items: how often users come across the cluster at all. */
export function clusterMass(items: SynthItems, clusterCount: number): Float64Array {
  const mass = new Float64Array(clusterCount);
  for (let i = 0; i < items.count; i++) mass[items.cluster[i]] += items.popularity[i];
  return mass;
}
