import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readManifest } from '../../src/artifacts/store.js';
import { readDatasetMeta } from '../../src/data/dataset.js';
import { loadPipeline } from '../../src/pipeline/load.js';
import { runPipeline, type PipelineOutcome } from '../../src/pipeline/runner.js';
import { ML_SMALL, SYSTEM_PYTHON, tempDir } from '../helpers.js';

process.env.RECSYS_QUIET = '1';

const READ_MLRUNS = new URL('../tracking/read_mlruns.py', import.meta.url).pathname;

/** ndcg@10 of the popularity baseline on ml-latest-small, temporal-user 0.8 (test/cli: checked by hand before). */
const POPULARITY_NDCG10 = 0.0853456;

function pipelineText(work: string, als: string, gates = ''): string {
  return `name: small
artifacts: ${work}/artifacts
k: [10, 20]
data:
  format: movielens
  in: ${work}/ml
  out: ${work}/data/ml
splits:
  tu: {strategy: temporal-user, frac: 0.8}
  t: {strategy: temporal, frac: 0.8}
steps:
  - kind: import
  - kind: split
  - kind: train
    model: popularity
  - kind: train
    model: als
    params: {${als}, threads: 1}
  - kind: index
    model: als
    split: tu
  - kind: eval
${gates}`;
}

function statuses(o: PipelineOutcome): Record<string, string> {
  return Object.fromEntries(o.units.map((u) => [u.label, u.status]));
}

function versions(root: string, name: string): string[] {
  return readdirSync(join(root, name)).filter((v) => v !== 'latest' && !v.startsWith('.'));
}

describe('pipeline runner (ml-latest-small)', () => {
  const work = tempDir();
  const root = join(work, 'artifacts');
  const file = join(work, 'p.yaml');
  let first: PipelineOutcome;

  beforeAll(async () => {
    cpSync(ML_SMALL, join(work, 'ml'), { recursive: true });
    writeFileSync(
      file,
      pipelineText(work, 'factors: 16, iterations: 5', 'gates:\n  - fail_under: {ndcg@10: 0.01}\n    max_drop: {ndcg@10: 0.02}\n'),
    );
    first = await runPipeline(loadPipeline(file));
  });

  it('runs every step in order; each writes a versioned artifact with its lineage and log', () => {
    expect(first.units.map((u) => `${u.label}: ${u.status}`)).toEqual([
      'import: ran',
      'split tu: ran',
      'split t: ran',
      'train popularity-tu: ran',
      'train popularity-t: ran',
      'train als-tu: ran',
      'train als-t: ran',
      'index als-tu: ran',
      'eval tu: ran',
      'eval t: ran',
    ]);
    const datasetSha = readDatasetMeta(join(work, 'data/ml')).interactions_sha256;
    const split = readManifest(join(root, 'split-tu/latest'));
    expect(split.dataset?.interactions_sha256).toBe(datasetSha);
    const als = readManifest(join(root, 'als-tu/latest'));
    expect(als.lineage).toEqual([{ name: 'split-tu', version: split.version }]);
    expect((als.split as { sha256: string }).sha256).toBe((split.split as { sha256: string }).sha256);
    expect(als.config).toMatchObject({ model: 'als', params: { factors: 16, iterations: 5 } });
    expect(als.details?.pipeline).toMatchObject({ pipeline: 'small', unit: 'train als-tu', previous_latest: null });
    expect(readManifest(join(root, 'index-als-tu/latest')).lineage).toEqual([{ name: 'als-tu', version: als.version }]);
    expect(readManifest(join(root, 'eval-t/latest')).lineage.map((r) => r.name)).toEqual(['popularity-t', 'als-t']);
    // the run's structured log lives in the artifact, as JSON lines
    const events = readFileSync(join(root, 'als-tu/latest/run.log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event?: string });
    expect(events[0].event).toBe('unit.start');
    expect(events.map((e) => e.event)).toContain('train.fit');
    expect(existsSync(first.logFile)).toBe(true);
    expect(readdirSync(root).filter((n) => n.startsWith('.'))).toEqual([]); // no temporary names, lock released
  });

  it('reports the metrics of every model and stage; reloaded models reproduce their training-time metrics', () => {
    const row = (split: string, name: string) => first.rows.find((r) => r.split === split && r.name === name)?.metrics ?? {};
    expect(row('tu', 'popularity')['ndcg@10']).toBeCloseTo(POPULARITY_NDCG10, 7);
    expect(first.rows.map((r) => `${r.split} ${r.name}`).sort()).toEqual([
      't als',
      't popularity',
      'tu als',
      'tu als via Flat',
      'tu popularity',
    ]);
    // the eval step loads each artifact from disk: same numbers as right after training
    const trained = readManifest(join(root, 'als-tu/latest')).metrics['temporal-user frac=0.8'];
    expect(row('tu', 'als')).toEqual(trained);
    // a Flat index is exact: the serving stage through FAISS ranks as the model does
    expect(row('tu', 'als via Flat')['ndcg@10']).toBeCloseTo(trained['ndcg@10'], 6);
    expect(first.gates.filter((g) => !g.passed)).toEqual([]);
    expect(first.gates.filter((g) => g.gate === 'max_drop').every((g) => g.bound === null)).toBe(true);
  });

  it('records each step as an MLflow run in the file store, with params, per-iteration metrics and tags', () => {
    const store = JSON.parse(execFileSync(SYSTEM_PYTHON, [READ_MLRUNS, join(root, 'mlruns')]).toString()) as {
      experiments: Record<
        string,
        {
          meta: { name: string };
          runs: Record<
            string,
            { meta: { status: number }; metrics: Record<string, number[][]>; params: Record<string, string>; tags: Record<string, string> }
          >;
        }
      >;
    };
    const experiment = Object.values(store.experiments).find((e) => e.meta.name === 'small');
    const runs = Object.values(experiment?.runs ?? {});
    expect(runs.map((r) => r.tags['mlflow.runName']).sort()).toEqual(first.units.map((u) => u.label).sort());
    const als = runs.find((r) => r.tags['mlflow.runName'] === 'train als-tu');
    expect(als?.meta.status).toBe(3); // FINISHED
    expect(als?.params['params.factors']).toBe('16');
    expect(als?.metrics.seconds.map((m) => m[2])).toEqual([1, 2, 3, 4, 5]); // one value per iteration
    expect(als?.metrics.ndcg_at_10[0][1]).toBeCloseTo(row0(first, 'tu', 'als'), 10);
    expect(als?.tags['recsys.artifact.path']).toBe(join(root, 'als-tu', readlinkSync(join(root, 'als-tu/latest'))));
    expect(als?.tags['recsys.dataset.sha256']).toBe(readDatasetMeta(join(work, 'data/ml')).interactions_sha256);
    expect(als?.tags['mlflow.source.git.commit']).toMatch(/^[0-9a-f]{40}$/);
  });

  it('skips every unchanged step on a second run, and re-runs only what a change reaches', async () => {
    const second = await runPipeline(loadPipeline(file));
    expect(Object.values(statuses(second))).toEqual(Array(10).fill('skipped'));
    expect(second.rows).toEqual(first.rows);
    expect(versions(root, 'als-tu')).toHaveLength(1);

    // a weaker ALS: its steps and the evals re-run; the rest is unchanged
    writeFileSync(
      file,
      pipelineText(work, 'factors: 2, iterations: 1', 'gates:\n  - fail_under: {ndcg@10: 0.01}\n    max_drop: {ndcg@10: 0.02}\n'),
    );
    const third = await runPipeline(loadPipeline(file));
    expect(statuses(third)).toEqual({
      import: 'skipped',
      'split tu': 'skipped',
      'split t': 'skipped',
      'train popularity-tu': 'skipped',
      'train popularity-t': 'skipped',
      'train als-tu': 'ran',
      'train als-t': 'ran',
      'index als-tu': 'ran',
      'eval tu': 'ran',
      'eval t': 'ran',
    });
    // the regression gate compares with the version latest pointed at before
    const before = row0(first, 'tu', 'als');
    const now = row0(third, 'tu', 'als');
    const gate = third.gates.find((g) => g.split === 'tu' && g.model === 'als' && g.gate === 'max_drop');
    expect(gate).toMatchObject({ previous: before, value: now, passed: now >= before * 0.98 });
    expect(gate?.bound).toBeCloseTo(before * 0.98, 12);
    expect(now).toBeLessThan(before * 0.98); // 2 factors, 1 iteration: clearly worse
    expect(readManifest(join(root, 'als-tu/latest')).details?.pipeline).toMatchObject({
      previous_latest: versions(root, 'als-tu').sort()[0],
    });
  });

  it('--force re-runs the selected steps; index-only and split selections run nothing else', async () => {
    const indexOnly = await runPipeline(loadPipeline(file), { kinds: ['index'], force: true });
    expect(statuses(indexOnly)).toEqual({ 'index als-tu': 'ran' });
    const evalT = await runPipeline(loadPipeline(file), { kinds: ['eval'], split: 't' });
    expect(statuses(evalT)).toEqual({ 'eval t': 'skipped' });
    expect(evalT.gates.map((g) => g.split)).toEqual(['t', 't', 't', 't']);
  });
});

function row0(o: PipelineOutcome, split: string, name: string): number {
  return o.rows.find((r) => r.split === split && r.name === name)?.metrics['ndcg@10'] ?? NaN;
}

describe('import fingerprints', () => {
  it('re-imports when an input file changes content, not when only its time changes', async () => {
    const work = tempDir();
    cpSync(ML_SMALL, join(work, 'ml'), { recursive: true });
    const file = join(work, 'p.yaml');
    writeFileSync(
      file,
      `data: {in: ${work}/ml, out: ${work}/data}\nartifacts: ${work}/a\nsplits: {tu: {strategy: temporal-user}}\nsteps:\n  - kind: import\n  - kind: split\n`,
    );
    const p = loadPipeline(file);
    expect(statuses(await runPipeline(p))).toEqual({ import: 'ran', 'split tu': 'ran' });
    const ratings = join(work, 'ml/ratings.csv');
    writeFileSync(ratings, readFileSync(ratings)); // same bytes, new modification time
    expect(statuses(await runPipeline(p))).toEqual({ import: 'skipped', 'split tu': 'skipped' });
    const lines = readFileSync(ratings, 'utf8').split('\r\n');
    writeFileSync(ratings, [...lines.slice(0, -2), lines[lines.length - 1]].join('\r\n')); // one rating fewer
    expect(statuses(await runPipeline(p))).toEqual({ import: 'ran', 'split tu': 'ran' });
    expect(readDatasetMeta(join(work, 'data')).counts.interactions).toBe(100835);
  });
});

describe('a step that fails', () => {
  it('stops the run with its error, keeps its log, marks its MLflow run FAILED, and leaves latest alone', async () => {
    const work = tempDir();
    const file = join(work, 'p.yaml');
    // Parameters and channel names are checked when the file is loaded; a GBDT program that is
    // not there is found only when the ranker trains it, so the second file fails in its train step.
    const text = (model: string): string =>
      `name: failing\nartifacts: ${work}/a\ndata: {in: ${ML_SMALL}, out: ${work}/data}\nsplits: {tu: {strategy: temporal-user}}\nsteps:\n  - kind: import\n  - kind: split\n  - kind: train\n    name: m\n${model}`;
    writeFileSync(file, text('    model: als\n    params: {factors: 4, iterations: 1, threads: 1}\n'));
    await runPipeline(loadPipeline(file));
    const good = readlinkSync(join(work, 'a/m-tu/latest'));
    writeFileSync(file, text('    model: ranker\n    params: {channels: popularity, gbdt_engine: lightgbm}\n'));
    const missing = join(work, 'no-such-lightgbm');
    process.env.LIGHTGBM_BIN = missing;
    try {
      await expect(runPipeline(loadPipeline(file))).rejects.toThrow(`LIGHTGBM_BIN=${missing} does not name an executable program`);
    } finally {
      delete process.env.LIGHTGBM_BIN;
    }
    expect(readlinkSync(join(work, 'a/m-tu/latest'))).toBe(good);
    expect(versions(join(work, 'a'), 'm-tu')).toEqual([good]);
    const failedLogs = readdirSync(join(work, 'a/logs')).filter((f) => f.endsWith('.failed.jsonl'));
    expect(failedLogs).toHaveLength(1);
    expect(readFileSync(join(work, 'a/logs', failedLogs[0]), 'utf8')).toContain('train m-tu failed: LIGHTGBM_BIN=');
    expect(existsSync(join(work, 'a/.lock'))).toBe(false);
    const store = JSON.parse(execFileSync(SYSTEM_PYTHON, [READ_MLRUNS, join(work, 'a/mlruns')]).toString()) as {
      experiments: Record<
        string,
        { meta: { name: string }; runs: Record<string, { meta: { status: number }; tags: Record<string, string> }> }
      >;
    };
    const runs = Object.values(Object.values(store.experiments).find((e) => e.meta.name === 'failing')?.runs ?? {});
    expect(
      runs
        .filter((r) => r.tags['mlflow.runName'] === 'train m-tu')
        .map((r) => r.meta.status)
        .sort(),
    ).toEqual([3, 4]); // FINISHED, then FAILED
  });
});
