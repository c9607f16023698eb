import { createHash } from 'node:crypto';
import { cpSync, existsSync, readFileSync, readlinkSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readManifest } from '../../src/artifacts/store.js';
import { errorLines, oneErrorLine, runCli } from '../cli-runner.js';
import { tempDir } from '../helpers.js';
import { PIPELINE_ARTIFACTS, writeMovieLensCsv, writePipeline } from './pipeline-fixture.js';

/**
 * Artifacts and inputs are checked against the hashes recorded for them: on every load
 * (eval, index, recommend, promote), by `recsys artifacts verify`, and when a split or a model
 * is built from a dataset or split. Real pipeline runs, real files changed on disk, the built
 * CLI in a child process: exit codes and the one line that names the file.
 */
const work = tempDir();
const root = join(work, 'artifacts');
const file = writePipeline(work);

/** `text` as a literal inside a RegExp. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** A copy of the pipeline's artifact root (symlinks kept) to damage without touching the original. */
function copyRoot(): string {
  const copy = join(tempDir(), 'artifacts');
  cpSync(root, copy, { recursive: true, verbatimSymlinks: true });
  return copy;
}

function latestDir(r: string, name: string): string {
  return join(r, name, readlinkSync(join(r, name, 'latest')));
}

/** Flips one byte in the middle of a file: same size, other content. */
function flipByte(path: string): void {
  const bytes = readFileSync(path);
  bytes[bytes.length >> 1] ^= 0xff;
  writeFileSync(path, bytes);
}

beforeAll(async () => {
  writeMovieLensCsv(join(work, 'ml'), 11);
  const r = await runCli(['train', '--pipeline', file]);
  expect(r.code, r.stderr).toBe(0);
});

describe('a clean pipeline run', () => {
  it('writes manifests that all verify, one line per version', async () => {
    const r = await runCli(['artifacts', 'verify', root]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, -1).map((l) => l.replace(/\/\d{8}T.*/, ''))).toEqual(PIPELINE_ARTIFACTS.map((n) => `ok  * ${n}`));
    expect(lines.at(-1)).toBe(`${PIPELINE_ARTIFACTS.length} version(s) checked, 0 bad`);
  });

  it("the index version lists its own run.log.jsonl (not the model's), and holds its serving-stage metrics", async () => {
    const index = latestDir(root, 'index-als-tu');
    const model = latestDir(root, 'als-tu');
    const entry = readManifest(index).files.find((f) => f.path === 'run.log.jsonl');
    expect(entry?.sha256).toBe(sha256(join(index, 'run.log.jsonl')));
    expect(entry?.sha256).not.toBe(sha256(join(model, 'run.log.jsonl')));
    expect(readFileSync(join(index, 'run.log.jsonl'), 'utf8')).toContain('"unit":"index als-tu"');
    const metrics = JSON.parse(readFileSync(join(index, 'metrics.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(metrics)).toEqual(['temporal-user frac=0.8', 'temporal-user frac=0.8 via-index']);
    expect(readManifest(index).metrics).toEqual(metrics);
    // every version of every step holds its log, listed with its real hash
    for (const name of PIPELINE_ARTIFACTS) {
      const dir = latestDir(root, name);
      expect(readManifest(dir).files.find((f) => f.path === 'run.log.jsonl')?.sha256, name).toBe(sha256(join(dir, 'run.log.jsonl')));
    }
  });
});

describe('a damaged artifact is refused on load with exit 2 naming the file', () => {
  it('flipped bytes in item_factors.npy: eval, index, recommend and promote refuse; RECSYS_VERIFY=size skips the hash only', async () => {
    const r = copyRoot();
    const model = latestDir(r, 'als-tu');
    const npy = join(model, 'item_factors.npy');
    flipByte(npy);
    const expected = `error: ${npy}: sha256 differs from the manifest's (the file was changed or corrupted)`;
    for (const args of [
      ['eval', '--model', model],
      ['index', '--model', model, '--out', join(r, 'ix')],
      ['recommend', '--model', model, '--k', '5', '--history', '1,2'],
      ['artifacts', 'promote', model, '--root', r],
    ]) {
      const out = await runCli(args);
      expect(out.code, `${args[0]}: ${out.stderr}`).toBe(2);
      expect(oneErrorLine(out)).toBe(expected);
    }
    expect(existsSync(join(r, 'ix'))).toBe(false);
    // sizes only: the same-size change passes, a truncation does not
    expect((await runCli(['eval', '--model', model], { env: { RECSYS_VERIFY: 'size' } })).code).toBe(0);
    const size = readManifest(model).files.find((f) => f.path === 'item_factors.npy')?.bytes ?? 0;
    truncateSync(npy, size - 4);
    const truncated = await runCli(['eval', '--model', model], { env: { RECSYS_VERIFY: 'size' } });
    expect(truncated.code).toBe(2);
    expect(oneErrorLine(truncated)).toBe(`error: ${npy}: ${size - 4} bytes, the manifest records ${size}`);
    const badMode = await runCli(['eval', '--model', model], { env: { RECSYS_VERIFY: 'fast' } });
    expect(badMode.code).toBe(2);
    expect(oneErrorLine(badMode)).toContain('RECSYS_VERIFY=fast: expected "full"');
  });

  it('zeroed or garbled hashes in a manifest are refused, not compared', async () => {
    const r = copyRoot();
    const model = latestDir(r, 'popularity-tu');
    const manifestPath = join(model, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    manifest.files[0].sha256 = '0'.repeat(64);
    writeFileSync(manifestPath, JSON.stringify(manifest));
    const zeroed = await runCli(['eval', '--model', model], { env: { RECSYS_VERIFY: 'size' } });
    expect(zeroed.code).toBe(2);
    expect(oneErrorLine(zeroed)).toBe(`error: ${manifestPath}: files[0].sha256 is zeroed`);
    manifest.files[0].sha256 = 'not a hash';
    writeFileSync(manifestPath, JSON.stringify(manifest));
    const garbled = await runCli(['eval', '--model', model]);
    expect(garbled.code).toBe(2);
    expect(oneErrorLine(garbled)).toBe(`error: ${manifestPath}: files[0].sha256 is not a sha256 (64 hexadecimal digits)`);
  });

  it('promote refuses a version missing a file; latest stays where it was', async () => {
    const r = copyRoot();
    const older = latestDir(r, 'popularity-tu');
    // a second version to promote away from
    cpSync(older, join(r, 'popularity-tu', '20300101T000000000Z-1'), { recursive: true });
    const before = readlinkSync(join(r, 'popularity-tu', 'latest'));
    const victim = join(r, 'popularity-tu', '20300101T000000000Z-1');
    const missing = readManifest(victim).files[0].path;
    rmSync(join(victim, missing));
    const out = await runCli(['artifacts', 'promote', 'popularity-tu/20300101T000000000Z-1', '--root', r]);
    expect(out.code).toBe(2);
    expect(oneErrorLine(out)).toBe(`error: ${join(victim, missing)}: missing (the manifest lists it)`);
    expect(readlinkSync(join(r, 'popularity-tu', 'latest'))).toBe(before);
  });

  it('artifacts verify: a line per version, BAD naming the file, exit 2; a version folder or one version alone', async () => {
    const r = copyRoot();
    const model = latestDir(r, 'als-tu');
    writeFileSync(join(model, 'extra.bin'), 'x');
    const out = await runCli(['artifacts', 'verify', r]);
    expect(out.code).toBe(2);
    const lines = out.stdout.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('BAD'))).toEqual([
      `BAD * als-tu/${readlinkSync(join(r, 'als-tu', 'latest'))}  ${join(model, 'extra.bin')}: not in the manifest`,
    ]);
    expect(lines.filter((l) => l.startsWith('ok '))).toHaveLength(PIPELINE_ARTIFACTS.length - 1);
    expect(lines.at(-1)).toBe(`${PIPELINE_ARTIFACTS.length} version(s) checked, 1 bad`);
    expect(oneErrorLine(out)).toBe(`error: ${r}: 1 version(s) do not match their manifest`);
    expect((await runCli(['artifacts', 'verify', join(r, 'als-tu')])).code).toBe(2);
    const single = await runCli(['artifacts', 'verify', join(r, 'split-tu', 'latest')]);
    expect(single.code, single.stderr).toBe(0);
    expect(single.stdout).toMatch(/^ok {2}\* split-tu\/\d{8}T\d{9}Z-\d+\n1 version\(s\) checked, 0 bad\n$/);
  });
});

describe('a changed input is refused when a split or model is built from it', () => {
  it('interactions.parquet replaced by another valid dataset: split (pipeline and standalone) and train exit 2 naming it', async () => {
    const w = tempDir();
    cpSync(join(work, 'data'), join(w, 'data'), { recursive: true });
    writeMovieLensCsv(join(w, 'other-csv'), 99);
    expect((await runCli(['data', 'import', '--in', join(w, 'other-csv'), '--out', join(w, 'other')])).code).toBe(0);
    cpSync(join(w, 'other', 'interactions.parquet'), join(w, 'data', 'interactions.parquet'));
    const parquet = join(w, 'data', 'interactions.parquet');
    const expected = `error: ${parquet}: sha256 differs from the one dataset.json records (the file was replaced or changed after import); import the dataset again`;
    for (const args of [
      ['split', '--data', join(w, 'data'), '--out', join(w, 'split')],
      ['train', 'popularity', '--data', join(w, 'data'), '--out', join(w, 'a', 'pop')],
    ]) {
      const out = await runCli(args);
      expect(out.code, out.stderr).toBe(2);
      expect(oneErrorLine(out)).toBe(expected);
    }
    expect(existsSync(join(w, 'split'))).toBe(false);
    expect(existsSync(join(w, 'a'))).toBe(false);
    // the pipeline's split step, on a copy of its dataset changed the same way
    const p = tempDir();
    cpSync(work, p, { recursive: true, verbatimSymlinks: true });
    const pipelineFile = join(p, 'p.yaml');
    writeFileSync(pipelineFile, readFileSync(file, 'utf8').replaceAll(work, p).replace('  - kind: import\n', ''));
    cpSync(join(w, 'other', 'interactions.parquet'), join(p, 'data', 'interactions.parquet'));
    const run = await runCli(['train', '--pipeline', pipelineFile, '--force']);
    expect(run.code).toBe(2);
    expect(errorLines(run.stderr).at(-1)).toBe(expected.replace(parquet, join(p, 'data', 'interactions.parquet')));
  });

  it('an edited split.json: a `recsys split` directory and a pipeline split artifact are refused naming it', async () => {
    const w = tempDir();
    const data = join(work, 'data');
    expect((await runCli(['split', '--data', data, '--out', join(w, 'split')])).code).toBe(0);
    const splitJson = join(w, 'split', 'split.json');
    const trainArgs = ['train', 'popularity', '--data', data, '--split', join(w, 'split'), '--out', join(w, 'a', 'pop')];
    expect((await runCli(trainArgs)).code).toBe(0);
    const edited = JSON.parse(readFileSync(splitJson, 'utf8'));
    edited.counts.test_rows += 1;
    writeFileSync(splitJson, JSON.stringify(edited, null, 2));
    const out = await runCli(trainArgs);
    expect(out.code).toBe(2);
    expect(oneErrorLine(out)).toBe(
      `error: ${splitJson}: differs from the split it describes, recomputed from ${data} (edited?); make it again with \`recsys split\``,
    );
    // rows changed, split.json as written
    const copy = tempDir();
    expect((await runCli(['split', '--data', data, '--out', join(copy, 's')])).code).toBe(0);
    cpSync(join(copy, 's', 'split.json'), splitJson);
    cpSync(join(copy, 's', 'train.parquet'), join(w, 'split', 'test.parquet'));
    const rows = await runCli(trainArgs);
    expect(rows.code).toBe(2);
    expect(oneErrorLine(rows)).toBe(
      `error: ${join(w, 'split', 'test.parquet')}: rows differ from the split split.json describes (edited?); make it again with \`recsys split\``,
    );

    // the pipeline's split artifact: its manifest's hash of split.json (ALS retrained on it: its parameters changed)
    const p = tempDir();
    cpSync(work, p, { recursive: true, verbatimSymlinks: true });
    const pipelineFile = join(p, 'p.yaml');
    writeFileSync(pipelineFile, readFileSync(file, 'utf8').replaceAll(work, p).replace('iterations: 3', 'iterations: 4'));
    const artifactJson = join(latestDir(join(p, 'artifacts'), 'split-tu'), 'split.json');
    writeFileSync(artifactJson, readFileSync(artifactJson, 'utf8').replace('"frac": 0.8', '"frac": 0.7'));
    const run = await runCli(['train', '--pipeline', pipelineFile]);
    expect(run.code).toBe(2);
    expect(run.stdout + run.stderr).toMatch(/split tu: skipped \(unchanged\)/);
    expect(errorLines(run.stderr).at(-1)).toBe(
      `error: ${artifactJson}: sha256 differs from the manifest's (the file was changed or corrupted)`,
    );
  });
});

describe('a truncated manifest under a root', () => {
  it('list, gc and promote report the broken version and carry on with the others; gc leaves it; verify flags it', async () => {
    const r = copyRoot();
    const broken = latestDir(r, 'recs-als-tu');
    const manifestPath = join(broken, 'manifest.json');
    writeFileSync(manifestPath, readFileSync(manifestPath, 'utf8').slice(0, 100));
    const warning = new RegExp(`^warning: ${literal(manifestPath)}: .*; version recs-als-tu/\\S+ `, 'm');

    const list = await runCli(['artifacts', 'list', '--root', r]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stderr).toMatch(warning);
    expect(
      list.stdout
        .trim()
        .split('\n')
        .map((l) => l.slice(2).split('/')[0]),
    ).toEqual(PIPELINE_ARTIFACTS.filter((n) => n !== 'recs-als-tu'));

    const other = latestDir(r, 'popularity-tu');
    cpSync(other, join(r, 'popularity-tu', '20300101T000000000Z-1'), { recursive: true });
    cpSync(other, join(r, 'popularity-tu', '20200101T000000000Z-1'), { recursive: true }); // nothing refers to it
    const promote = await runCli(['artifacts', 'promote', 'popularity-tu/20300101T000000000Z-1', '--root', r]);
    expect(promote.code, promote.stderr).toBe(0);
    const promoteBroken = await runCli(['artifacts', 'promote', broken, '--root', r]);
    expect(promoteBroken.code).toBe(2);
    expect(oneErrorLine(promoteBroken)).toMatch(new RegExp(`^error: ${literal(manifestPath)}: `));

    const gc = await runCli(['artifacts', 'gc', '--keep', '0', '--root', r]);
    expect(gc.code, gc.stderr).toBe(0);
    expect(gc.stderr).toMatch(/left as it is \(gc never removes a version it cannot read\)/);
    expect(gc.stdout).toBe('removed popularity-tu/20200101T000000000Z-1\n1 version(s) removed, 6 kept\n');
    expect(existsSync(manifestPath)).toBe(true);

    const verify = await runCli(['artifacts', 'verify', r]);
    expect(verify.code).toBe(2);
    expect(verify.stdout).toMatch(new RegExp(`^BAD \\* recs-als-tu/\\S+ {2}${literal(manifestPath)}: `, 'm'));
  });

  it("a pipeline whose output's latest manifest is broken warns and makes that step again, leaving the broken version", async () => {
    const p = tempDir();
    cpSync(work, p, { recursive: true, verbatimSymlinks: true });
    const pipelineFile = join(p, 'p.yaml');
    writeFileSync(pipelineFile, readFileSync(file, 'utf8').replaceAll(work, p));
    const broken = latestDir(join(p, 'artifacts'), 'eval-tu');
    writeFileSync(join(broken, 'manifest.json'), '{"name": "eval-tu", "fil');
    const run = await runCli(['train', '--pipeline', pipelineFile]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`warning: ${join(broken, 'manifest.json')}: `);
    expect(run.stdout).toMatch(/eval tu\s+ran/);
    expect(run.stdout).toMatch(/train als-tu\s+skipped \(unchanged\)/);
    expect(latestDir(join(p, 'artifacts'), 'eval-tu')).not.toBe(broken);
    expect(existsSync(join(broken, 'manifest.json'))).toBe(true);
  });
});
