import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeDataset } from '../../src/data/dataset.js';
import { importDataset } from '../../src/data/import.js';
import { buildTrainingData } from '../../src/data/training-data.js';
import { alsFactory } from '../../src/models/als/model.js';
import { popularityFactory } from '../../src/models/popularity/popularity.js';
import { evaluateRun } from '../../src/pipeline/evaluate.js';
import { trainModel } from '../../src/pipeline/train.js';
import { channelModel } from '../../src/rank/channels/channel.js';
import { rankerFactory, rankerParamsSchema, type RankerModel, type RankerParams } from '../../src/rank/ranker.js';
import { evaluateFunnel, stageReport } from '../../src/rank/evaluate-funnel.js';
import { splitInteractions } from '../../src/split/split.js';
import { ML_SMALL, tempDir } from '../helpers.js';
import { synthLog } from './ranker-data.js';

const FAST: Partial<RankerParams> = {
  channels: 'popularity,cooc',
  candidates: 20,
  popularity_window_days: 0,
  trees: 10,
  negatives: 5,
  gbdt_engine: 'xgboost',
};

describe('ranker on a synthetic log', () => {
  const { log, catalog } = synthLog({ users: 60, items: 40, eventsPerUser: 15, seed: 3 });
  const split = splitInteractions(log, { strategy: 'temporal-user', frac: 0.8 });
  const ranker = rankerFactory({});
  const fit = (): Promise<RankerModel> =>
    ranker.fit(buildTrainingData(split.train, { catalog, seed: 7 }), ranker.params.parse(FAST)) as Promise<RankerModel>;
  let model: RankerModel;
  beforeAll(async () => {
    model = await fit();
  });

  it('no test row reaches features, labels or the model', async () => {
    // Two datasets that differ only in their test rows: in the second, every test event is
    // moved to item 40, which is rare in train. Were test rows read by the fit, item 40's
    // counts, the candidates, the labels and so the trees would differ.
    const root = tempDir();
    const leaked = { ...log, itemId: log.itemId.slice() };
    for (const r of split.testRows) leaked.itemId[r] = 40;
    const runs = [];
    for (const [name, interactions] of [
      ['clean', log],
      ['leaked', leaked],
    ] as const) {
      const dir = join(root, name);
      await writeDataset(dir, { interactions, catalog, source: { kind: 'test' } });
      runs.push(
        await trainModel({
          kind: 'ranker',
          datasetDir: dir,
          split: { strategy: 'temporal-user', frac: 0.8 },
          params: FAST,
          seed: 7,
          out: join(root, `${name}-ranker`),
          ks: [5],
        }),
      );
    }
    const [clean, dirty] = runs.map((r) => r.model as RankerModel);
    expect(runs[1].experiment.test.itemId.every((i) => i === 40)).toBe(true);
    expect(dirty.gbdt.text).toBe(clean.gbdt.text);
    expect(dirty.info.examples).toEqual(clean.info.examples);
    expect(dirty.info.innerValidation).toEqual(clean.info.innerValidation);
    // item 40's serving features count training events only
    const rows = { ...dirty.funnel.candidates(Int32Array.of(0), null).set };
    const only40 = {
      ...rows,
      offsets: Int32Array.of(0, 1),
      items: Int32Array.of(dirty.items.indexOf(40)),
      fused: new Float32Array(1),
      channelScores: new Float32Array(2).fill(NaN),
      channelRanks: new Float32Array(2).fill(NaN),
    };
    const x = dirty.funnel.features(only40);
    expect(x[dirty.funnel.featureNames.indexOf('item_events')]).toBe(split.train.itemId.filter((i) => i === 40).length);
    // the same seed gives the same model
    expect(model.gbdt.text).toBe(clean.gbdt.text);
  });

  it('reports candidate recall@N as computed by hand', () => {
    const report = evaluateFunnel(model, split.train, split.test, { ks: [5], catalog });
    const n = 20;
    // Independent: all-time popularity by raw id (ties: lower id), top n unseen per user.
    const counts = new Map<number, number>();
    for (const i of split.train.itemId) counts.set(i, (counts.get(i) ?? 0) + 1);
    const byPopularity = [...counts.keys()].sort((a, b) => (counts.get(b) ?? 0) - (counts.get(a) ?? 0) || a - b);
    let sum = 0;
    let users = 0;
    for (const u of new Set(split.test.userId)) {
      const seen = new Set(split.train.itemId.filter((_, r) => split.train.userId[r] === u));
      if (seen.size === 0) continue;
      const rel = new Set(split.test.itemId.filter((i, r) => split.test.userId[r] === u && !seen.has(i)));
      if (rel.size === 0) continue;
      const candidates = byPopularity.filter((i) => !seen.has(i)).slice(0, n);
      sum += candidates.filter((i) => rel.has(i)).length / rel.size;
      users++;
    }
    expect(report.users).toBe(users);
    expect(report.candidateRecall.popularity).toBeCloseTo(sum / users, 10);
    expect(report.stages.map((s) => s.stage)).toEqual(['channel:popularity', 'channel:cooc', 'merged', 'ranked', 'reranked']);
  });

  it('per-stage metrics are refused for a model without a funnel', async () => {
    const popularity = await popularityFactory.fit(buildTrainingData(split.train), {});
    expect(() => stageReport(popularity, split.train, split.test, { ks: [5] })).toThrow(/ranker/);
  });

  it('records its params, and the GBDT engine and the inner validation in its training summary', () => {
    const summary = model.trainingSummary();
    expect((summary.gbdt as { engine: string }).engine).toBe('xgboost');
    expect(summary.innerValidation).not.toBeNull();
    expect(model.params().channels).toBe('popularity,cooc');
  });
});

describe('a ranker assembled with its channel models', () => {
  const { log, catalog } = synthLog({ users: 60, items: 40, eventsPerUser: 15, seed: 3 });
  const data = buildTrainingData(splitInteractions(log, { strategy: 'temporal-user', frac: 0.8 }).train, { catalog, seed: 7 });
  const tunedAls = { factors: 4, iterations: 2, regularization: 0.5, threads: 1 };
  const ranker = rankerFactory({ als: channelModel(alsFactory, tunedAls) });
  const params = ranker.params.parse({ ...FAST, channels: 'als,popularity' });
  const dir = tempDir();
  let model: RankerModel;
  beforeAll(async () => {
    model = (await ranker.fit(data, params)) as RankerModel;
    await model.save(dir);
  });

  it('fits its ALS channel with the parameters it was given, records them, and loads it back', async () => {
    const als = model.funnel.channels.find((c) => c.name === 'als');
    expect(als?.model.params()).toMatchObject(tunedAls);
    expect(model.trainingSummary().channelParams).toMatchObject({ als: tunedAls, popularity: {} });
    const users = Int32Array.from({ length: 20 }, (_, u) => u);
    const loaded = await ranker.load(dir);
    expect(loaded.recommend(users, 5, null).items).toEqual(model.recommend(users, 5, null).items);
    expect((loaded as RankerModel).trainingSummary().channelParams).toEqual(model.trainingSummary().channelParams);
  });

  it('knows only the channels it was given: fitting or loading another names the ones it knows', async () => {
    const bare = rankerFactory({});
    await expect(bare.fit(data, params)).rejects.toThrow('unknown channel "als" (known: popularity, cooc)');
    await expect(bare.load(dir)).rejects.toThrow('unknown channel "als" (known: popularity, cooc)');
    expect(() => rankerFactory({ cooc: channelModel(alsFactory) })).toThrow('ranker channel "cooc" would hide the built-in channel');
  });
});

describe('ranker on ml-latest-small (xgboost CLI)', () => {
  const root = tempDir();
  const data = join(root, 'ml-small');
  beforeAll(async () => {
    await importDataset({ format: 'movielens', input: ML_SMALL, out: data });
  });

  it('the ranked list beats the best single channel on ndcg@10, and the saved artifact reloads', async () => {
    const result = await trainModel({
      kind: 'ranker',
      datasetDir: data,
      split: { strategy: 'temporal-user', frac: 0.8 },
      params: { channels: 'popularity,cooc', trees: 60, learning_rate: 0.1, gbdt_engine: 'xgboost' },
      seed: 42,
      out: join(root, 'artifacts', 'ranker'),
      ks: [10],
    });
    const ranker = result.model as RankerModel;
    // The manifest: the hyper-parameters as the schema declares them, what fitting learned apart.
    expect(result.manifest.config.params).toEqual({
      ...rankerParamsSchema.parse({}),
      channels: 'popularity,cooc',
      trees: 60,
      learning_rate: 0.1,
      gbdt_engine: 'xgboost',
    });
    expect(result.manifest.details?.training).toMatchObject({ gbdt: { engine: 'xgboost' } });
    const report = evaluateFunnel(ranker, result.experiment.train, result.experiment.test, {
      ks: [10],
      catalog: result.experiment.dataset.catalog,
    });
    const ndcg = (stage: string): number => report.stages.find((s) => s.stage === stage)?.metrics['ndcg@10'] ?? NaN;
    expect(report.users).toBe(610);
    expect(ndcg('ranked')).toBeGreaterThan(ndcg(report.bestChannel) + 0.02);
    // the popularity baseline's reference number on this split is 0.0853
    expect(ndcg('ranked')).toBeGreaterThan(0.12);
    expect(report.candidateRecall.merged).toBeGreaterThan(report.candidateRecall.popularity);
    // trainModel's metrics are the re-ranked stage's
    expect(result.metrics['ndcg@10']).toBeCloseTo(ndcg('reranked'), 12);
    // the reloaded artifact gives the same lists at every stage
    const reloaded = await evaluateRun({ model: join(root, 'artifacts', 'ranker', 'latest'), ks: [10], stages: true });
    expect(reloaded.metrics).toEqual(result.metrics);
    expect(reloaded.funnel?.stages).toEqual(report.stages);
    expect(reloaded.funnel?.candidateRecall).toEqual(report.candidateRecall);
  });
});
