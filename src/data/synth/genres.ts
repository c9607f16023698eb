import type { Rng } from '../../util/rng.js';

/**
 * The MovieLens genre vocabulary with how many movies carry each genre, most frequent first
 * (counted in ml-latest-small's movies.csv, 9,742 movies, 2018).
 */
export const MOVIELENS_GENRES: readonly { readonly name: string; readonly movies: number }[] = [
  { name: 'Drama', movies: 4361 },
  { name: 'Comedy', movies: 3756 },
  { name: 'Thriller', movies: 1894 },
  { name: 'Action', movies: 1828 },
  { name: 'Romance', movies: 1596 },
  { name: 'Adventure', movies: 1263 },
  { name: 'Crime', movies: 1199 },
  { name: 'Sci-Fi', movies: 980 },
  { name: 'Horror', movies: 978 },
  { name: 'Fantasy', movies: 779 },
  { name: 'Children', movies: 664 },
  { name: 'Animation', movies: 611 },
  { name: 'Mystery', movies: 573 },
  { name: 'Documentary', movies: 440 },
  { name: 'War', movies: 382 },
  { name: 'Musical', movies: 334 },
  { name: 'Western', movies: 167 },
  { name: 'IMAX', movies: 158 },
  { name: 'Film-Noir', movies: 87 },
];

/** MovieLens's label for a movie without genres (34 of the 9,742). */
export const NO_GENRES = '(no genres listed)';
const NO_GENRES_SHARE = 34 / 9742;

/** Movies with 1, 2, ... 7 or more genres in the same file. */
const GENRE_COUNT_MOVIES = [2851, 3218, 2338, 987, 271, 63, 14];

/**
 * Draws a MovieLens-like genre set from the first `vocabulary` genres: how many genres follows
 * the file's distribution, which ones its genre frequencies (without repeats). Returns indices
 * into MOVIELENS_GENRES, or an empty list for a movie without genres.
 */
export function drawGenres(rng: Rng, vocabulary: number): number[] {
  if (rng.next() < NO_GENRES_SHARE) return [];
  const k = Math.min(vocabulary, 1 + drawIndex(rng, GENRE_COUNT_MOVIES, GENRE_COUNT_MOVIES.length));
  const chosen: number[] = [];
  const weights = MOVIELENS_GENRES.slice(0, vocabulary).map((g) => g.movies);
  while (chosen.length < k) {
    const g = drawIndex(rng, weights, vocabulary);
    chosen.push(g);
    weights[g] = 0;
  }
  return chosen.sort((a, b) => a - b);
}

/** Index i of `weights[0 .. n)` with probability proportional to weights[i] (a linear scan: n is small). */
function drawIndex(rng: Rng, weights: readonly number[], n: number): number {
  let total = 0;
  for (let i = 0; i < n; i++) total += weights[i];
  let target = rng.next() * total;
  for (let i = 0; i < n; i++) {
    target -= weights[i];
    if (target < 0 && weights[i] > 0) return i;
  }
  // Rounding left the target at the very end: the last item with weight.
  for (let i = n - 1; i > 0; i--) if (weights[i] > 0) return i;
  return 0;
}
