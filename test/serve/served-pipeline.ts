import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPipeline } from '../../src/pipeline/load.js';
import { runPipeline } from '../../src/pipeline/runner.js';
import { ML_SMALL } from '../helpers.js';

/**
 * The artifacts the serving tests answer from, built once per test run and shared by the test
 * files (each runs in its own worker): ml-latest-small on a temporal-user split, ALS, the
 * two-tower model with a FAISS index, the ranker over ALS, popularity and co-occurrence, and the
 * batch export (`recommend`, k = 100) of each of the three. The first worker to ask builds it
 * under a lock directory; the others wait for its `done` (or `failed`) marker.
 */
export const servedPipelineYaml = (dir: string): string => `
name: served
artifacts: ${dir}/artifacts
seed: 42
k: [10]
data: {format: movielens, in: ${ML_SMALL}, out: ${dir}/data}
splits:
  temporal-user: {strategy: temporal-user, frac: 0.8}
steps:
  - {kind: import}
  - {kind: split}
  - {kind: train, model: als}
  - {kind: train, model: two-tower, params: {epochs: 1, val_frac: 0}}
  - {kind: index, model: two-tower, factory: Flat}
  - {kind: train, model: ranker, params: {channels: "als,popularity,cooc", candidates: 100, trees: 30}}
  - {kind: recommend, model: ranker, k: 100}
  - {kind: recommend, model: als, k: 100}
  - {kind: recommend, model: two-tower, k: 100}
`;

export interface ServedPipeline {
  readonly dir: string;
  readonly file: string;
  readonly artifacts: string;
}

const WAIT_MS = 600_000;

export async function servedPipeline(): Promise<ServedPipeline> {
  const dir = join(tmpdir(), 'served-pipeline');
  const fx = { dir, file: join(dir, 'served.yaml'), artifacts: join(dir, 'artifacts') };
  const done = join(dir, 'done');
  const failed = join(dir, 'failed');
  let builder = false;
  try {
    mkdirSync(dir);
    builder = true;
  } catch {
    // Another worker builds it.
  }
  if (builder) {
    writeFileSync(fx.file, servedPipelineYaml(dir));
    try {
      await runPipeline(loadPipeline(fx.file), {});
      writeFileSync(done, '');
    } catch (err) {
      writeFileSync(failed, (err as Error).message);
      throw err;
    }
    return fx;
  }
  const deadline = Date.now() + WAIT_MS;
  while (!existsSync(done)) {
    if (existsSync(failed)) throw new Error(`the served pipeline failed: ${readFileSync(failed, 'utf8')}`);
    if (Date.now() > deadline) throw new Error(`the served pipeline was not built within ${WAIT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return fx;
}
