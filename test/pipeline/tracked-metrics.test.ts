import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesizeDataset } from '../../src/data/synth.js';
import { runCli } from '../cli-runner.js';
import { tempDir } from '../helpers.js';
import { MlflowTestServer } from '../tracking/mlflow-test-server.js';

process.env.RECSYS_QUIET = '1';

/**
 * The ranker's GBDT reports its own validation ndcg@10 every boosting round; tracked under
 * `ndcg_at_10` it was the value MLflow showed for the run (0.616 at step 100) instead of the
 * evaluated 0.1468. Training curves now have names of their own.
 */
describe('MLflow metrics of a ranker run', () => {
  const server = new MlflowTestServer();
  const work = tempDir();

  beforeAll(async () => {
    await server.start();
    await synthesizeDataset(join(work, 'data'), { users: 300, items: 400, interactions: 20_000, seed: 5 });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('records the evaluated ndcg@10 under ndcg_at_10 and the GBDT curve under gbdt_valid_ndcg_at_10', async () => {
    const file = join(work, 'p.yaml');
    writeFileSync(
      file,
      [
        'name: ranker-metrics',
        `artifacts: ${work}/a`,
        `data: {out: ${work}/data}`,
        'splits: {tu: {strategy: temporal-user}}',
        'steps:',
        '  - kind: split',
        '  - kind: train',
        '    model: ranker',
        '    params: {trees: 12}',
        '',
      ].join('\n'),
    );
    const r = await runCli(['train', '--pipeline', file], { env: { MLFLOW_TRACKING_URI: server.uri } });
    expect(r.code, r.stderr).toBe(0);
    const dir = realpathSync(join(work, 'a/ranker-tu/latest'));
    const evaluated = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as Record<string, Record<string, number>>;
    const [ndcg] = Object.values(evaluated).map((m) => m['ndcg@10']);
    expect(ndcg).toBeTypeOf('number');

    const run = [...server.runs.values()].find((r) => r.info.run_name === 'train ranker-tu');
    expect(run).toBeDefined();
    const byKey = (key: string) => (run?.metrics ?? []).filter((m) => m.key === key);
    // Every value under ndcg_at_10 is the evaluated one, whatever step MLflow shows.
    expect(byKey('ndcg_at_10').length).toBeGreaterThan(0);
    for (const m of byKey('ndcg_at_10')) expect(m.value).toBeCloseTo(ndcg, 12);
    const curve = byKey('gbdt_valid_ndcg_at_10');
    expect(curve.map((m) => m.step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(curve.every((m) => m.value > 0 && m.value <= 1)).toBe(true);
  });
});
