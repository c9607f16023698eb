import { AliasTable } from '../../sampling/alias.js';
import type { Rng } from '../../util/rng.js';
import { drawGenres } from './genres.js';
import { blendedDirection } from './latent.js';

/**
 * Kinds of film: groups of items that share a genre set and lie near one centroid in taste
 * space ("space-opera action", "romantic comedy"). Users are fans of a few kinds, which is the
 * structure a collaborative model can find and popularity cannot.
 */
export interface SynthClusters {
  readonly count: number;
  readonly genres: number[][];
  /** count × dim unit vectors. */
  readonly centroids: Float32Array;
  /** Draws a cluster in proportion to its expected share of the catalogue. */
  readonly sizes: AliasTable;
}

/** Weight of the genre mix over the cluster's own direction in a centroid. */
const GENRE_WEIGHT = 0.6;
/** Log-normal sigma of cluster sizes. */
const SIZE_SIGMA = 0.5;

export function makeClusters(rng: Rng, count: number, dim: number, vocabulary: number, genreDirections: Float32Array): SynthClusters {
  const genres: number[][] = [];
  const centroids = new Float32Array(count * dim);
  const sizes = new Float64Array(count);
  for (let c = 0; c < count; c++) {
    const g = drawGenres(rng, vocabulary);
    genres.push(g);
    blendedDirection(rng, g, genreDirections, GENRE_WEIGHT, centroids, c * dim, dim);
    sizes[c] = Math.exp(SIZE_SIGMA * rng.normal());
  }
  return { count, genres, centroids, sizes: new AliasTable(sizes) };
}
