import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeDataset } from '../../src/data/dataset.js';
import { importDataset } from '../../src/data/import.js';
import { withDuckDb } from '../../src/data/parquet.js';
import { seenMatrix } from '../../src/eval/evaluate.js';
import { recommendAllUsers, recommendForHistory } from '../../src/pipeline/recommend.js';
import { trainModel } from '../../src/pipeline/train.js';
import { RECS_SIDECAR_SUFFIX, type RecsSidecar, verifyRecsFile } from '../../src/serve/recs-file.js';
import { sha256File } from '../../src/util/hash.js';
import { InputError } from '../../src/util/errors.js';
import { interactionsOf, ML_SMALL, tempDir } from '../helpers.js';

describe('recsys recommend', () => {
  const work = tempDir();
  const data = join(work, 'ml');
  const split = { strategy: 'temporal-user', frac: 0.8 } as const;
  beforeAll(async () => {
    await importDataset({ format: 'movielens', input: ML_SMALL, out: data });
  });
  const trainPopularity = (name: string) =>
    trainModel({ kind: 'popularity', datasetDir: data, split, params: {}, seed: 1, out: join(work, 'artifacts', name), ks: [10] });

  it('--all-users writes every training user’s top-k to Parquet: ranks 1..k, no seen item, the producing channel', async () => {
    const trained = await trainPopularity('popularity');
    const out = join(work, 'recs.parquet');
    const report = await recommendAllUsers({ model: trained.dir, k: 20, out, batchSize: 128, sidecar: true });
    expect(report.users).toBe(610);
    // The sidecar records the export's version and the file's sha256, for `recsys publish`.
    const sidecar = JSON.parse(readFileSync(`${out}${RECS_SIDECAR_SUFFIX}`, 'utf8')) as RecsSidecar;
    expect(sidecar).toMatchObject({
      kind: 'recommendations',
      k: 20,
      users: 610,
      rows: 610 * 20,
      model: { version: trained.manifest.version },
    });
    expect(await verifyRecsFile(out)).toEqual({
      path: out,
      version: sidecar.version,
      artifact: null,
      sha256: await sha256File(out),
      model: { name: trained.manifest.name, version: trained.manifest.version },
      k: 20,
    });
    expect(report.rows).toBe(610 * 20);
    const train = trained.experiment.train;
    const checks = await withDuckDb(async (con) => {
      await con.run(
        `CREATE TABLE seen AS SELECT * FROM (VALUES ${Array.from(train.userId, (u, i) => `(${u}, ${train.itemId[i]})`).join(',')}) v(user_id, item_id)`,
      );
      const q = async (sql: string) => (await con.runAndReadAll(sql)).getRows()[0].map(Number);
      return {
        shape: await q(
          `SELECT count(DISTINCT user_id), min(rank), max(rank), count(*) FILTER (WHERE channel = 'popularity') FROM read_parquet('${out}')`,
        ),
        leaked: await q(`SELECT count(*) FROM read_parquet('${out}') r JOIN seen s USING (user_id, item_id)`),
        perUser: await q(`SELECT max(c) FROM (SELECT user_id, count(DISTINCT item_id) c FROM read_parquet('${out}') GROUP BY 1)`),
      };
    });
    expect(checks.shape).toEqual([610, 1, 20, 610 * 20]);
    expect(checks.leaked).toEqual([0]);
    expect(checks.perUser).toEqual([20]);
    // The first rows of user 1 are what the model itself recommends.
    const top = trained.model.recommend(Int32Array.of(trained.model.users.indexOf(1)), 3, seenMatrix(trained.model, train));
    const first = await withDuckDb(async (con) =>
      (await con.runAndReadAll(`SELECT item_id FROM read_parquet('${out}') WHERE user_id = 1 ORDER BY rank LIMIT 3`))
        .getRows()
        .map((r) => Number(r[0])),
    );
    expect(first).toEqual(Array.from(top.items, (i) => trained.model.items.rawId(i)));
  });

  it('--all-users --policy writes the placed lists with their exact propensities, the same for the same seed', async () => {
    const trained = await trainPopularity('pop-policy');
    const train = trained.experiment.train;
    const export_ = async (name: string, policy: string, seed: number) => {
      const out = join(work, `${name}.parquet`);
      await recommendAllUsers({ model: trained.dir, k: 10, out, policy, seed });
      return out;
    };
    const eps = await export_('eps-a', 'epsilon-greedy:0.2:candidates', 7);
    const again = await export_('eps-b', 'epsilon-greedy:0.2:candidates', 7);
    const other = await export_('eps-c', 'epsilon-greedy:0.2:candidates', 8);
    const thompson = await export_('thompson', 'thompson:2:cold', 7);
    const checks = await withDuckDb(async (con) => {
      await con.run(
        `CREATE TABLE seen AS SELECT * FROM (VALUES ${Array.from(train.userId, (u, i) => `(${u}, ${train.itemId[i]})`).join(',')}) v(user_id, item_id)`,
      );
      const q = async (sql: string) =>
        (await con.runAndReadAll(sql)).getRows().map((r) => r.map((v) => (typeof v === 'bigint' ? Number(v) : v)));
      const rows = (file: string) =>
        `SELECT user_id, item_id, rank, channel, propensity FROM read_parquet('${file}') ORDER BY user_id, rank`;
      return {
        byChannel: await q(`SELECT channel, count(*), min(propensity), max(propensity) FROM read_parquet('${eps}') GROUP BY 1 ORDER BY 1`),
        shape: await q(
          `SELECT count(DISTINCT user_id), count(*), count(DISTINCT (user_id, item_id)), max(rank) FROM read_parquet('${eps}')`,
        ),
        leaked: await q(`SELECT count(*) FROM read_parquet('${eps}') r JOIN seen s USING (user_id, item_id)`),
        same: await q(`SELECT count(*) FROM ((${rows(eps)}) EXCEPT (${rows(again)}))`),
        differs: await q(`SELECT count(*) FROM ((${rows(eps)}) EXCEPT (${rows(other)}))`),
        thompson: await q(`SELECT channel, rank, count(*) FROM read_parquet('${thompson}') WHERE channel <> 'popularity' GROUP BY 1, 2`),
        thompsonLeaked: await q(`SELECT count(*) FROM read_parquet('${thompson}') r JOIN seen s USING (user_id, item_id)`),
      };
    });
    // Greedy rows keep their place with 1 − ε; an explored row is one of the 90 candidates beyond the top 10, ε / 90.
    const [explored, greedy] = checks.byChannel;
    expect(explored.slice(0, 1)).toEqual(['explore:candidates']);
    expect(explored[2]).toBeCloseTo(0.2 / 90, 12);
    expect(explored[3]).toBeCloseTo(0.2 / 90, 12);
    expect(greedy[0]).toBe('popularity');
    expect(greedy[2]).toBeCloseTo(0.8, 12);
    // 6100 rows, each explored with probability 0.2: within 4 sigma of 1220.
    expect(Math.abs((explored[1] as number) - 1220)).toBeLessThan(4 * Math.sqrt(6100 * 0.2 * 0.8));
    // Every user has 10 distinct items: an explored item never duplicates a greedy one.
    expect(checks.shape).toEqual([[610, 6100, 6100, 10]]);
    expect(checks.leaked).toEqual([[0]]);
    expect(checks.same).toEqual([[0]]);
    expect((checks.differs[0][0] as number) > 0).toBe(true);
    // Thompson sampling puts one cold item at position 2 of every list, none of them seen.
    expect(checks.thompson).toEqual([['explore:cold', 2, 610]]);
    expect(checks.thompsonLeaked).toEqual([[0]]);
  });

  it('--history folds a new user in: a training user’s own history gives (nearly) their trained top-10', async () => {
    const trained = await trainModel({
      kind: 'als',
      datasetDir: data,
      split,
      params: {},
      seed: 3,
      out: join(work, 'artifacts/als'),
      ks: [10],
    });
    const { model, experiment } = trained;
    const user = 414; // the heaviest rater of ml-latest-small: a well-determined fold-in
    const history = Array.from(experiment.train.itemId).filter((_, i) => experiment.train.userId[i] === user);
    const recs = await recommendForHistory(trained.dir, history, 10);
    expect(recs.map((r) => r.rank)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const trainedTop = model.recommend(Int32Array.of(model.users.indexOf(user)), 10, seenMatrix(model, experiment.train));
    const trainedItems = new Set(Array.from(trainedTop.items, (i) => model.items.rawId(i)));
    const overlap = recs.filter((r) => trainedItems.has(r.item_id)).length;
    expect(overlap).toBeGreaterThanOrEqual(9);
    expect(recs.some((r) => history.includes(r.item_id))).toBe(false);
    await expect(recommendForHistory(trained.dir, [999999999], 10)).rejects.toThrow(InputError);
  });

  it('--all-users refuses a model whose dataset changed since training (seen items would be wrong)', async () => {
    const dir = join(work, 'changing');
    const rows: Array<[number, number, number, number]> = [];
    for (let u = 1; u <= 20; u++) for (let i = 1; i <= 10; i++) rows.push([u, ((u * i) % 30) + 1, 4, 1_000_000 + u * 100 + i]);
    await writeDataset(dir, { interactions: interactionsOf(rows), source: { kind: 'test' } });
    const trained = await trainModel({
      kind: 'popularity',
      datasetDir: dir,
      split,
      params: {},
      seed: 1,
      out: join(work, 'artifacts/changing'),
      ks: [10],
    });
    rows[0] = [1, 30, 4, 1_000_101];
    await writeDataset(dir, { interactions: interactionsOf(rows), source: { kind: 'test' } });
    await expect(recommendAllUsers({ model: trained.dir, k: 5, out: join(work, 'changed.parquet') })).rejects.toThrow(
      /was trained on different data than .*changing \(interactions sha256 differs\)/,
    );
  });
});
