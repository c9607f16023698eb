import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../src/util/rng.js';

/**
 * A demo-like pipeline, cut down to run in a few seconds: a small MovieLens-format CSV
 * directory (written here, with planted popularity so the metrics are not noise), and a
 * pipeline file with every step kind: import, split, train (popularity, ALS), index, eval,
 * recommend. Used by the integrity and kill-at-each-phase tests.
 */

/** ratings.csv and movies.csv of `users` users over `items` movies. */
export function writeMovieLensCsv(dir: string, seed: number, users = 200, items = 150, perUser = 25): void {
  mkdirSync(dir, { recursive: true });
  const rng = new Rng(seed);
  const ratings = ['userId,movieId,rating,timestamp'];
  for (let u = 1; u <= users; u++) {
    const seen = new Set<number>();
    for (let j = 0; j < perUser; j++) {
      // Skewed towards low ids: a popularity the models can learn.
      const item = 1 + Math.floor(items * rng.next() ** 2);
      if (seen.has(item)) continue;
      seen.add(item);
      ratings.push(`${u},${item},${1 + rng.int(5)},${1_500_000_000 + u * 1000 + j * 37 + rng.int(30)}`);
    }
  }
  writeFileSync(join(dir, 'ratings.csv'), `${ratings.join('\n')}\n`);
  const movies = ['movieId,title,genres'];
  for (let i = 1; i <= items; i++) movies.push(`${i},Movie ${i} (${1990 + (i % 30)}),${i % 2 ? 'Drama' : 'Comedy|Drama'}`);
  writeFileSync(join(dir, 'movies.csv'), `${movies.join('\n')}\n`);
}

/** The pipeline file (written to `<work>/p.yaml`) over `<work>/ml`, its root `<work>/artifacts`. */
export function writePipeline(work: string): string {
  const file = join(work, 'p.yaml');
  writeFileSync(
    file,
    `name: small
artifacts: ${work}/artifacts
seed: 3
k: [10]
data:
  format: movielens
  in: ${work}/ml
  out: ${work}/data
splits:
  tu: {strategy: temporal-user, frac: 0.8}
steps:
  - kind: import
  - kind: split
  - kind: train
    model: popularity
  - kind: train
    model: als
    params: {factors: 8, iterations: 3, threads: 1}
  - kind: index
    model: als
  - kind: eval
  - kind: recommend
    model: als
    k: 10
`,
  );
  return file;
}

/** The artifact names the pipeline writes under its root. */
export const PIPELINE_ARTIFACTS = ['als-tu', 'eval-tu', 'index-als-tu', 'popularity-tu', 'recs-als-tu', 'split-tu'];
