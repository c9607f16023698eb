import { cpSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newVersionName, pointLatest } from '../../src/artifacts/store.js';
import { servingSource } from '../../src/pipeline/serving.js';
import { RecommendationService } from '../../src/serve/service.js';
import type { Answer } from '../../src/serve/types.js';
import { runCli, type Started } from '../cli-runner.js';
import { ML_SMALL, tempDir } from '../helpers.js';
import { readyVersion, startServe, until } from './serve-process.js';

/**
 * Hot reload under load: `recsys serve --pipeline` answers a steady stream of requests while
 * `recsys train --pipeline --force` moves `latest`; a version that fails verification is not
 * served; the old version is released; `kill -9` and a restart serve the latest version.
 */
const work = tempDir();
const file = join(work, 'small.yaml');
const modelFolder = join(work, 'artifacts', 'als-temporal-user');

beforeAll(async () => {
  writeFileSync(
    file,
    `name: small
artifacts: artifacts
seed: 7
k: [10]
data: {format: movielens, in: ${ML_SMALL}, out: data}
splits:
  temporal-user: {strategy: temporal-user, frac: 0.8}
steps:
  - {kind: import}
  - {kind: split}
  - {kind: train, model: als, params: {iterations: 5}}
  - {kind: recommend, model: als, k: 20}
`,
  );
  const r = await runCli(['train', '--pipeline', file], { cwd: work, env: { RECSYS_QUIET: '1' } });
  expect(r.code, r.stderr).toBe(0);
}, 120_000);

const latestVersion = (): string => readlinkSync(join(modelFolder, 'latest'));

function startServer(): Promise<{ base: string; server: Started }> {
  return startServe(['--pipeline', file, '--reload-interval-ms', '200'], { cwd: work });
}

interface LoadResult {
  statuses: Map<number, number>;
  failures: string[];
  versions: string[];
}

/** `workers` loops of requests (known users, unknown users, histories) until `stop` is set. */
function load(base: string, workers: number, stop: { done: boolean }): Promise<LoadResult> {
  const result: LoadResult = { statuses: new Map(), failures: [], versions: [] };
  const one = async (w: number): Promise<void> => {
    for (let i = 0; !stop.done; i++) {
      const kind = (w + i) % 3;
      try {
        const res =
          kind === 2
            ? await fetch(`${base}/recommend`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify({ history: [1, 50, 260 + (i % 40)], k: 10 }),
              })
            : await fetch(`${base}/recommend/${kind === 0 ? 1 + ((i * 7 + w) % 610) : 100_000 + i}?k=10`);
        result.statuses.set(res.status, (result.statuses.get(res.status) ?? 0) + 1);
        const answer = (await res.json()) as Answer;
        if (result.versions.at(-1) !== answer.version) result.versions.push(answer.version);
      } catch (err) {
        result.failures.push((err as Error).message);
      }
    }
  };
  return Promise.all(Array.from({ length: workers }, (_, w) => one(w))).then(() => result);
}

describe('recsys serve while a pipeline run moves latest', () => {
  let first: { base: string; server: Started };

  afterAll(() => {
    first?.server.child.kill('SIGKILL');
  });

  it('answers every request, switches to the new version, and a restart after kill -9 serves it', async () => {
    first = await startServer();
    const before = latestVersion();
    expect(await readyVersion(first.base)).toBe(before);
    const stop = { done: false };
    const running = load(first.base, 8, stop);
    const rerun = await runCli(['train', '--pipeline', file, '--force'], { cwd: work, env: { RECSYS_QUIET: '1' } });
    expect(rerun.code, rerun.stderr).toBe(0);
    const after = latestVersion();
    expect(after).not.toBe(before);
    await until('the server to switch', async () => (await readyVersion(first.base)) === after);
    await new Promise((resolve) => setTimeout(resolve, 500));
    stop.done = true;
    const result = await running;
    expect(result.failures).toEqual([]);
    expect([...result.statuses.keys()]).toEqual([200]);
    expect(result.statuses.get(200)).toBeGreaterThan(100);
    // Answers moved from the old version to the new one, once (every worker after the switch).
    expect(result.versions[0]).toBe(before);
    expect(result.versions.at(-1)).toBe(after);
    const metrics = await (await fetch(`${first.base}/metrics`)).text();
    expect(metrics).toContain('recsys_model_reloads_total{result="ok"} 1');
    expect(metrics).toContain(`recsys_model_info{model="als-temporal-user",version="${after}",kind="als"} 1`);
    expect(metrics).not.toContain(`version="${before}"`);

    first.server.child.kill('SIGKILL');
    await first.server.exited;
    const second = await startServer();
    try {
      expect(await readyVersion(second.base)).toBe(after);
    } finally {
      second.server.child.kill('SIGTERM');
      const ended = await second.server.exited;
      expect(ended.code).toBe(0);
    }
  }, 180_000);
});

describe('the library service', () => {
  // From the test's working directory, not the pipeline's: the artifacts record their data
  // folder relative to the pipeline's (\`data\`), found from the artifact's parent folders.
  it('keeps serving when a new version fails to load, and releases an old version once it is replaced', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const service = RecommendationService.create(servingSource({ model: modelFolder }), { reloadIntervalMs: 0 });
    try {
      // Only the version's name and folder are kept here: a reference would keep it alive.
      let onRelease = (): void => {};
      const released = new Promise<void>((resolve) => {
        onRelease = resolve;
      });
      const registry = new FinalizationRegistry<string>(() => onRelease());
      const served = await service.start().then((m) => {
        registry.register(m, m.version);
        return { version: m.version, dir: m.dir };
      });

      // A copy of the served version with one byte of its item factors changed: verification refuses it.
      const broken = newVersionName();
      cpSync(served.dir, join(modelFolder, broken), { recursive: true });
      const factors = join(modelFolder, broken, 'item_factors.npy');
      const bytes = readFileSync(factors);
      bytes[bytes.length - 1] ^= 0xff;
      writeFileSync(factors, bytes);
      pointLatest(modelFolder, broken);
      await service.reload();
      expect(service.serving?.version).toBe(served.version);
      const metrics = await service.metrics.registry.metrics();
      expect(metrics).toContain('recsys_model_reloads_total{result="failed"} 1');

      // A good version (a copy of the served one's files under a new name) replaces it.
      const good = newVersionName();
      cpSync(served.dir, join(modelFolder, good), { recursive: true });
      pointLatest(modelFolder, good);
      await service.reload();
      expect(service.serving?.dir).toBe(join(modelFolder, good));
      expect((await service.recommendUser(1, 5)).items).toHaveLength(5);
      await until(
        'the old version to be collected',
        async () => {
          gc();
          return Promise.race([released.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 50))]);
        },
        20_000,
      );
    } finally {
      await service.close();
    }
  }, 120_000);
});
