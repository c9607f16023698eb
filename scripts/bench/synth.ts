/**
 * Time and peak RSS of `recsys data synth` at MovieLens 25M size (162,541 users, 59,047 items,
 * 25,000,095 interactions, the defaults), and the shape of what it wrote. The last run leaves
 * the dataset at data/synth-25m for the other benchmarks. Writes the "Synthetic data" section
 * of docs/benchmarks.md. Needs a built dist/ (`make setup` or `npx tsc -p .`).
 *   flock /tmp/recsys-bench.lock npx vite-node scripts/bench/synth.ts [--runs 3]
 */
import { join } from 'node:path';
import { loadDataset } from '../../src/data/dataset.js';
import { SYNTH_DEFAULTS } from '../../src/data/synth.js';
import { INTERACTIONS_FILE } from '../../src/data/dataset.js';
import { quoteString, withDuckDb } from '../../src/data/parquet.js';
import { fmt, gitShort, machineLine, RECSYS, timeCommand, writeSection } from './lib.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const OUT = join(ROOT, 'data/synth-25m');
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg >= 0 ? Number(process.argv[runsArg + 1]) : 3;

const command = ['node', RECSYS, 'data', 'synth', '--out', OUT];
const timing = timeCommand(command, RUNS);
const { meta } = await loadDataset(OUT, { catalog: false });

/** Quantiles of per-user and per-item counts and the rating histogram, by DuckDB over the file. */
const shape = await withDuckDb(async (con) => {
  const src = `read_parquet(${quoteString(join(OUT, INTERACTIONS_FILE))})`;
  const quantiles = async (key: string): Promise<number[]> => {
    const r = await con.runAndReadAll(
      `SELECT min(n), quantile_disc(n, 0.25), median(n), quantile_disc(n, 0.75), quantile_disc(n, 0.99), max(n), avg(n)
       FROM (SELECT count(*) AS n FROM ${src} GROUP BY ${key})`,
    );
    return r.getRows()[0].map(Number);
  };
  const users = await quantiles('user_id');
  const items = await quantiles('item_id');
  const top = await con.runAndReadAll(
    `SELECT sum(n) FILTER (WHERE rk <= (SELECT count(DISTINCT item_id) FROM ${src}) / 100) / sum(n)
     FROM (SELECT count(*) AS n, row_number() OVER (ORDER BY count(*) DESC) AS rk FROM ${src} GROUP BY item_id)`,
  );
  const ratings = await con.runAndReadAll(`SELECT rating, count(*) FROM ${src} GROUP BY rating ORDER BY rating`);
  const moments = await con.runAndReadAll(`SELECT avg(rating), stddev_pop(rating) FROM ${src}`);
  return {
    users,
    items,
    top1PercentShare: Number(top.getRows()[0][0]),
    ratings: ratings.getRows().map(([r, n]) => [Number(r), Number(n)] as const),
    ratingMean: Number(moments.getRows()[0][0]),
    ratingSd: Number(moments.getRows()[0][1]),
  };
});

const row = (name: string, q: number[]): string =>
  `| ${name} | ${q
    .slice(0, 6)
    .map((v) => v.toLocaleString('en-US'))
    .join(' | ')} | ${q[6].toFixed(1)} |`;
const total = meta.counts.interactions;
const body = `
\`recsys data synth\` at MovieLens 25M size (the defaults: ${SYNTH_DEFAULTS.users.toLocaleString('en-US')} users,
${SYNTH_DEFAULTS.items.toLocaleString('en-US')} items, ${SYNTH_DEFAULTS.interactions.toLocaleString('en-US')} interactions, seed ${SYNTH_DEFAULTS.seed}),
whole process (generation, Parquet writing, checksum, dataset.json).
Machine: ${machineLine()}; commit ${gitShort()}.
Command: \`flock /tmp/recsys-bench.lock npx vite-node scripts/bench/synth.ts --runs ${RUNS}\`, which times
\`${['node', 'dist/cli/bin.js', ...command.slice(2, -1), 'data/synth-25m'].join(' ')}\` under \`/usr/bin/time -v\`.

| runs | median wall s | all runs (s) | peak RSS |
| --- | --- | --- | --- |
| ${RUNS} | ${fmt(timing.medianSeconds)} | ${timing.seconds.map(fmt).join(', ')} | ${(timing.peakRssMiB / 1024).toFixed(2)} GiB |

The result stays at \`data/synth-25m\` (git-ignored) for the other benchmarks; same seed, same bytes
of interactions.parquet (sha256 \`${meta.interactions_sha256.slice(0, 16)}…\`).

Shape of what it wrote (DuckDB over interactions.parquet): ${meta.counts.users.toLocaleString('en-US')} users and
${meta.counts.items.toLocaleString('en-US')} items with at least one interaction, ${meta.time_range?.min_iso.slice(0, 10)} to ${meta.time_range?.max_iso.slice(0, 10)}.

| interactions per | min | 25% | median | 75% | 99% | max | mean |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${row('user', shape.users)}
${row('item', shape.items)}

The most popular 1% of items hold ${(shape.top1PercentShare * 100).toFixed(1)}% of the interactions.
Ratings: mean ${shape.ratingMean.toFixed(2)}, standard deviation ${shape.ratingSd.toFixed(2)};
${shape.ratings.map(([r, n]) => `${r}: ${((n / total) * 100).toFixed(1)}%`).join(', ')}.
For comparison, MovieLens 25M (its README): 162,541 users with 20 ratings or more, 59,047 rated movies,
ratings from 1995-01-09 to 2019-11-21, half stars from 2003.
`;
writeSection('Synthetic data', body);
console.log(body);
