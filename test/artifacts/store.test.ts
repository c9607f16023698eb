import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpy, readNpy, writeNpy } from '../../src/artifacts/npy.js';
import { createArtifact, listArtifacts, readManifest, recordMetrics, resolveArtifactDir } from '../../src/artifacts/store.js';
import { sha256 } from '../../src/util/hash.js';
import { SYSTEM_PYTHON, tempDir } from '../helpers.js';

describe('versioned artifacts', () => {
  it('writes files, a manifest with sizes and sha256, and moves latest to the new version', async () => {
    const root = tempDir();
    const a = await createArtifact(root, 'demo', { kind: 'demo', config: { x: 1 }, seed: 7 }, async (dir) => {
      writeFileSync(join(dir, 'a.txt'), 'hello');
    });
    expect(readlinkSync(join(root, 'demo', 'latest'))).toBe(a.manifest.version);
    expect(a.manifest.files).toEqual([{ path: 'a.txt', bytes: 5, sha256: sha256('hello') }]);
    expect(a.manifest.seed).toBe(7);
    expect(readManifest(resolveArtifactDir(join(root, 'demo'))).version).toBe(a.manifest.version);
    recordMetrics(a.dir, 'p', { 'ndcg@10': 0.5 });
    expect(JSON.parse(readFileSync(join(a.dir, 'metrics.json'), 'utf8'))).toEqual({ p: { 'ndcg@10': 0.5 } });
    expect(listArtifacts(root).map((r) => [r.name, r.latest, r.manifest.metrics])).toEqual([['demo', true, { p: { 'ndcg@10': 0.5 } }]]);
  });

  it('a failing build leaves no version behind and latest on the previous good one', async () => {
    const root = tempDir();
    const good = await createArtifact(root, 'm', { kind: 'm', config: {} }, async (dir) => writeFileSync(join(dir, 'f'), '1'));
    await expect(
      createArtifact(root, 'm', { kind: 'm', config: {} }, async (dir) => {
        writeFileSync(join(dir, 'f'), 'partial');
        throw new Error('crashed mid-way');
      }),
    ).rejects.toThrow('crashed mid-way');
    expect(readdirSync(join(root, 'm')).sort()).toEqual([good.manifest.version, 'latest'].sort());
    expect(readlinkSync(join(root, 'm', 'latest'))).toBe(good.manifest.version);
  });

  it('cleans up temporary versions left by a killed process on the next run', async () => {
    const root = tempDir();
    const stale = join(root, 'm', '.20200101T000000000Z-1.tmp-999999-abc');
    mkdirSync(stale, { recursive: true });
    await createArtifact(root, 'm', { kind: 'm', config: {} }, async () => {});
    expect(existsSync(stale)).toBe(false);
  });
});

describe('.npy files', () => {
  it('are read by numpy with the right dtype, shape and values, and read back here', () => {
    const dir = tempDir();
    writeNpy(join(dir, 'f.npy'), Float32Array.from([1.5, -2, 3.25, 4, 5, 6]), [2, 3]);
    writeNpy(join(dir, 'i.npy'), Int32Array.from([7, 8, 9]));
    const out = execFileSync(SYSTEM_PYTHON, [
      '-c',
      `import numpy as np; f = np.load('${dir}/f.npy'); i = np.load('${dir}/i.npy'); print(f.dtype, f.shape, f[0, 2], f[1].sum(), i.dtype, i.shape, i.sum())`,
    ]).toString();
    expect(out.trim()).toBe('float32 (2, 3) 3.25 15.0 int32 (3,) 24');
    const back = readNpy(join(dir, 'f.npy'));
    expect(back.shape).toEqual([2, 3]);
    expect(Array.from(back.data as Float32Array)).toEqual([1.5, -2, 3.25, 4, 5, 6]);
    // header padded so the data starts at a multiple of 64 bytes
    expect((encodeNpy(Int32Array.from([1]), [1]).length - 4) % 64).toBe(0);
  });
});
