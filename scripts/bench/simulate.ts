/**
 * The click simulator at benchmark scale (docs/simulator.md): over many seeds, how often an A/A
 * test rejects, how often the A/B report's lift interval covers the true lift, how IPS, SNIPS,
 * DR and PBM estimate a model's CTR from ε-greedy logs (bias, standard deviation, RMSE, interval
 * coverage), how well the position curve is recovered, what nightly retraining and exploration
 * do. Writes the "Click simulator" section of docs/benchmarks.md.
 *   flock /tmp/bench.lock npx vite-node scripts/bench/simulate.ts [--users 20000] [--seeds 100] [--ope-seeds 40] [--nights 7]
 */
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { loadDataset } from '../../src/data/dataset.js';
import { synthesizeDataset } from '../../src/data/synth.js';
import { buildTrainingData } from '../../src/data/training-data.js';
import { seenMatrix } from '../../src/eval/evaluate.js';
import { attributeEvents } from '../../src/events/attribution.js';
import { parseExperiment } from '../../src/experiments/experiment.js';
import { abReport } from '../../src/experiments/report.js';
import { parsePolicy } from '../../src/explore/parse.js';
import { greedyPolicy, type Policy } from '../../src/explore/policy.js';
import { buildItemPools } from '../../src/explore/pools.js';
import { swapPolicy } from '../../src/explore/swap.js';
import { alsFactory } from '../../src/models/als/model.js';
import { alsParamsSchema } from '../../src/models/als/params.js';
import type { Recommender } from '../../src/models/model.js';
import { popularityFactory } from '../../src/models/popularity/popularity.js';
import { ESTIMATORS, estimateOffPolicy } from '../../src/ope/estimate.js';
import { estimatePositionBias } from '../../src/ope/position-bias.js';
import { binomialBand } from '../../src/simulate/coverage.js';
import { importNight } from '../../src/simulate/nightly.js';
import { RankedLists, simulateInMemory } from '../../src/simulate/precomputed.js';
import { clickModel, Truth } from '../../src/simulate/truth.js';
import { gitShort, machineLine, writeSection } from './lib.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const USERS = arg('users', 20_000);
const SEEDS = arg('seeds', 100);
const OPE_SEEDS = arg('ope-seeds', 40);
const NIGHTS = arg('nights', 7);
const K = 10;
const SYNTH = { users: USERS, items: Math.round(USERS / 4), interactions: USERS * 50, seed: 11 };
const ALS = { factors: 32, iterations: 10, threads: 2, loss: false };
const AB = { days: 14, usersPerDay: 1000 };

// Progress lines of every simulated seed would drown the benchmark's own.
process.env.RECSYS_QUIET = '1';
const started = performance.now();
const load = [loadavg()[0]];
const work = join(new URL('../..', import.meta.url).pathname, '.tmp', `bench-simulate-${process.pid}`);
const base = join(work, 'data');
await synthesizeDataset(base, SYNTH);
const data = buildTrainingData((await loadDataset(base)).interactions, { seed: 1 });
const popularity = await popularityFactory.fit(data, popularityFactory.params.parse({}));
const als = await alsFactory.fit(data, alsParamsSchema.parse(ALS));
const truth = Truth.ofDataset(base, clickModel(K));
const listsOf = (model: Recommender, depth = K): RankedLists => RankedLists.of(model, data.matrix, depth, { name: model.kind });
const popLists = listsOf(popularity, 100);
const alsLists = listsOf(als);
const served = (name: string, lists: RankedLists, policy: Policy = greedyPolicy) => ({ name, lists, policy });
const experimentOf = (seed: number, names: string[]) =>
  parseExperiment(
    {
      id: 'bench',
      salt: `seed-${seed}`,
      start: '2030-01-01T00:00:00Z',
      variants: names.map((name) => ({ name, share: 1 / names.length })),
    },
    'bench',
  );
const elapsed = (): string => `${((performance.now() - started) / 60_000).toFixed(1)} min`;
const note = (what: string): void => {
  load.push(loadavg()[0]);
  process.stderr.write(`simulate bench: ${what} (${elapsed()})\n`);
};
note('data and models ready');

// A/A and A/B over seeds: each seed a new salt (split), new arrivals and clicks.
let aaRejected = 0;
let abCovered = 0;
let abSignificant = 0;
let trueLift = Number.NaN;
const liftEstimates: number[] = [];
/** One seed of an experiment between the given arms: its truth and the report's CTR comparison. */
const experimentRun = async (seed: number, arms: [string, RankedLists][]) => {
  const experiment = experimentOf(
    seed,
    arms.map(([name]) => name),
  );
  const variants = arms.map(([name, lists]) => served(name, lists));
  const { ground, logs } = await simulateInMemory({ truth, variants, experiment, k: K, seed, ...AB });
  return { ground, ctr: abReport(experiment, logs, { metrics: ['ctr'] }).comparisons[0] };
};
for (let seed = 1; seed <= SEEDS; seed++) {
  const aa = await experimentRun(seed, [
    ['a', alsLists],
    ['b', alsLists],
  ]);
  if (aa.ctr.p_value < 0.05) aaRejected++;
  const { ground, ctr } = await experimentRun(seed, [
    ['popularity', popLists],
    ['als', alsLists],
  ]);
  trueLift = ground.lift.als.population as number;
  const [lo, hi] = ctr.lift_ci as [number, number];
  if (lo <= trueLift && trueLift <= hi) abCovered++;
  if (ctr.p_value < 0.05) abSignificant++;
  liftEstimates.push(ctr.lift as number);
}
note('A/A and A/B done');

// OPE: ALS's CTR from ε-greedy logs of popularity, over seeds.
const logging = parsePolicy('epsilon-greedy:0.5:candidates', null);
const target = (u: number): number[] => alsLists.ranked(u).map((r) => r.item_id);
const ope = new Map(ESTIMATORS.map((e) => [e, { errors: [] as number[], covered: 0, ess: [] as number[] }]));
const unsupported: number[] = [];
for (let seed = 1; seed <= OPE_SEEDS; seed++) {
  const { logs } = await simulateInMemory({
    truth,
    variants: [served('all', popLists, logging)],
    experiment: null,
    k: K,
    seed,
    days: 7,
    usersPerDay: 1000,
  });
  let clicks = 0;
  for (const e of logs.exposures) clicks += truth.listClicks(e.user_id as number, target(e.user_id as number));
  const trueCtr = clicks / logs.exposures.length / K;
  const report = estimateOffPolicy(attributeEvents(logs.exposures, logs.events).exposures, target, { k: K, bootstrap: 200, seed });
  unsupported.push(report.unsupportedShare);
  for (const e of report.estimates) {
    const s = ope.get(e.estimator);
    if (!s) continue;
    s.errors.push(e.ctr - trueCtr);
    s.ess.push(e.effectiveSampleSize);
    if (e.ctrInterval[0] <= trueCtr && trueCtr <= e.ctrInterval[1]) s.covered++;
  }
}
note('OPE done');

// The position curve from swap logs.
const swapRun = await simulateInMemory({
  truth,
  variants: [served('all', alsLists, swapPolicy(0.9))],
  experiment: null,
  k: K,
  seed: 1,
  days: 10,
  usersPerDay: 5000,
});
const swapAttributed = attributeEvents(swapRun.logs.exposures, swapRun.logs.events).exposures;
const positions = (['swap', 'em'] as const).map((method) => estimatePositionBias(swapAttributed, { method, bootstrap: 100, seed: 1 }));
note('position bias done');

// Exploration: ε-greedy slots from the cold pool against greedy.
const pools = buildItemPools(data);
const cold = new Set(pools.cold);
const exploreRun = async (policy: Policy) => {
  const run = await simulateInMemory({
    truth,
    variants: [served('all', alsLists, policy)],
    experiment: null,
    k: K,
    seed: 1,
    days: 7,
    usersPerDay: 2000,
  });
  const shown = [...run.result.shownItems.all].filter((i) => cold.has(i)).length / cold.size;
  return { shown, ctr: run.ground.variants.all.population?.ctr as number };
};
const exploration = [
  ['greedy', await exploreRun(greedyPolicy)],
  ['epsilon-greedy:0.05:cold', await exploreRun(parsePolicy('epsilon-greedy:0.05:cold', pools))],
  ['epsilon-greedy:0.1:cold', await exploreRun(parsePolicy('epsilon-greedy:0.1:cold', pools))],
] as const;
note('exploration done');

// Nightly retraining against the frozen model, same arrivals.
const nightly = { truth, experiment: null, k: K, seed: 1, days: NIGHTS + 1, usersPerDay: 2000 };
const frozen = await simulateInMemory({ ...nightly, variants: [served('all', alsLists)] });
const retrained = await simulateInMemory({
  ...nightly,
  variants: [served('all', alsLists)],
  onDayEnd: async (day, logs, answerer) => {
    if (day === NIGHTS) return;
    const night = await importNight(logs, base, join(work, `night-${day}`), { click: 5 });
    const model = await alsFactory.fit(night, alsParamsSchema.parse(ALS));
    answerer.replaceLists('all', RankedLists.of(model, seenMatrix(model, data.train), K));
  },
});
note('retraining done');

const mean = (v: number[]): number => v.reduce((s, x) => s + x, 0) / v.length;
const sd = (v: number[]): number => Math.sqrt(v.reduce((s, x) => s + (x - mean(v)) ** 2, 0) / (v.length - 1));
const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
const [aaLo, aaHi] = binomialBand(SEEDS, 0.05);
const [abLo, abHi] = binomialBand(SEEDS, 0.95);
const [opeLo, opeHi] = binomialBand(OPE_SEEDS, 0.95);
const ctrFrozen = frozen.ground.days.map((d) => d.ctr_true);
const ctrRetrained = retrained.ground.days.map((d) => d.ctr_true);
const body = `
\`npx vite-node scripts/bench/simulate.ts --users ${USERS} --seeds ${SEEDS} --ope-seeds ${OPE_SEEDS} --nights ${NIGHTS}\` at ${gitShort()};
${machineLine()}; ${elapsed()} in all; load average (1 min) ${Math.min(...load).toFixed(1)} to ${Math.max(...load).toFixed(1)} over the run.
Data: \`recsys data synth\` with ${SYNTH.users.toLocaleString('en-US')} users, ${SYNTH.items.toLocaleString('en-US')} items,
${SYNTH.interactions.toLocaleString('en-US')} interactions (seed ${SYNTH.seed}); popularity and ALS (${ALS.factors} factors, ${ALS.iterations} iterations)
fitted on all of it; k = ${K}, the default click model (rel = σ(−5.5 + 6 taste·item), θ_p = p^−0.7; docs/simulator.md).
Each seed draws new arrivals, clicks and (for experiments) a new salt, so a new split.

| check | seeds | result | expected (binomial 95 % band) |
| --- | ---: | --- | --- |
| A/A (ALS vs ALS), CTR p < 0.05 | ${SEEDS} | ${aaRejected} rejections | ${aaLo}–${aaHi} |
| A/B popularity vs ALS, true lift ${pct(trueLift)} inside the 95 % lift interval | ${SEEDS} | ${abCovered} covered (significant in ${abSignificant}; mean estimate ${pct(mean(liftEstimates))}) | ${abLo}–${abHi} |

A/A and A/B: ${AB.days} days × ${AB.usersPerDay} arrivals per seed (about ${Math.round((AB.days * AB.usersPerDay) / 2).toLocaleString('en-US')} requests a variant).

Off-policy estimates of ALS's CTR from ε-greedy (ε = 0.5, candidates pool: popularity's top 100) logs of popularity,
7 days × 1,000 requests per seed, ${OPE_SEEDS} seeds; the truth is ALS's exact expected CTR on the logged users
(mean share of ALS's slots the report counts unsupported ${pct(mean(unsupported))}):

| estimator | bias | standard deviation | RMSE | 95 % interval covers | mean ESS |
| --- | ---: | ---: | ---: | --- | ---: |
${[...ope.entries()]
  .map(
    ([name, s]) =>
      `| ${name} | ${mean(s.errors).toFixed(5)} | ${sd(s.errors).toFixed(5)} | ${Math.sqrt(mean(s.errors.map((e) => e * e))).toFixed(5)} | ${s.covered} of ${OPE_SEEDS} (band ${opeLo}–${opeHi}) | ${mean(s.ess).toFixed(0)} |`,
  )
  .join('\n')}

Position curve from swap logs (swap:0.9 on ALS, 10 days × 5,000 requests), θ_p estimated against planted:

| position | planted | swap [95 % interval] | EM (relevance per item) |
| ---: | ---: | --- | ---: |
${truth.model.positions
  .map((planted, j) => {
    const [s, e] = positions.map((r) => r.positions[j]);
    if (!s || !e) return `| ${j + 1} | ${planted.toFixed(3)} | - | - |`;
    return `| ${j + 1} | ${planted.toFixed(3)} | ${s.theta?.toFixed(3)} [${s.low?.toFixed(3)}, ${s.high?.toFixed(3)}] | ${e.theta?.toFixed(3)} |`;
  })
  .join('\n')}

Exploration (ALS, 7 days × 2,000 requests; the cold pool is the ${cold.size} least-known training items; CTR is the
population truth, Monte Carlo over 20 placements per user for the ε-greedy policies):

| policy | cold items ever shown | true CTR | cost |
| --- | ---: | ---: | ---: |
${exploration.map(([name, r]) => `| ${name} | ${pct(r.shown)} | ${r.ctr.toFixed(5)} | ${pct(1 - r.ctr / exploration[0][1].ctr)} |`).join('\n')}

Nightly retraining (ALS refitted each night on the base data plus the logged clicks, weight 5, through
\`data import --format events\`; same arrivals as the frozen model; 2,000 requests a day), true CTR by day:

| day | ${ctrFrozen.map((_, d) => d).join(' | ')} |
| --- | ${ctrFrozen.map(() => '---:').join(' | ')} |
| frozen | ${ctrFrozen.map((c) => c.toFixed(5)).join(' | ')} |
| retrained | ${ctrRetrained.map((c) => c.toFixed(5)).join(' | ')} |
| gain | ${ctrRetrained.map((c, d) => pct(c / ctrFrozen[d] - 1)).join(' | ')} |
`;
writeSection('Click simulator', body);
process.stderr.write(body);
rmSync(work, { recursive: true, force: true });
