import { existsSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectGarbage, planGc, promote } from '../../src/artifacts/gc.js';
import { createArtifact, type ArtifactRef } from '../../src/artifacts/store.js';
import { tempDir } from '../helpers.js';

process.env.RECSYS_QUIET = '1';

/** A version of `name` built from `lineage`, recording the version latest pointed at before (as the pipeline does). */
async function version(root: string, name: string, lineage: ArtifactRef[], previous: string | null = null): Promise<string> {
  await new Promise((r) => setTimeout(r, 3)); // version names are millisecond timestamps
  const { manifest } = await createArtifact(
    root,
    name,
    { kind: 'test', config: {}, lineage, details: { pipeline: { previous_latest: previous } } },
    async (dir) => writeFileSync(join(dir, 'f'), name),
  );
  return manifest.version;
}

const names = (refs: Array<{ name: string; version: string }>): string[] => refs.map((r) => `${r.name}/${r.version}`).sort();

describe('artifacts gc and promote', () => {
  it('keeps the N newest, latest, its regression baseline and everything they were built from', async () => {
    const root = tempDir();
    const s1 = await version(root, 's', []);
    const s2 = await version(root, 's', []);
    const m1 = await version(root, 'm', [{ name: 's', version: s1 }]);
    const m2 = await version(root, 'm', [{ name: 's', version: s1 }], m1);
    const m3 = await version(root, 'm', [{ name: 's', version: s2 }], m2);
    const m4 = await version(root, 'm', [{ name: 's', version: s2 }], m3);
    const s3 = await version(root, 's', []);
    await promote(root, `m/${m3}`); // roll back: latest is m3, whose baseline is m2 (built from s1)
    expect(readlinkSync(join(root, 'm', 'latest'))).toBe(m3);

    const plan = planGc(root, 1);
    expect(names(plan.keep)).toEqual(
      names([
        { name: 'm', version: m2 }, // baseline of latest
        { name: 'm', version: m3 }, // latest
        { name: 'm', version: m4 }, // newest
        { name: 's', version: s1 }, // built m2
        { name: 's', version: s2 }, // built m3 and m4
        { name: 's', version: s3 }, // newest, latest
      ]),
    );
    expect(names(plan.remove)).toEqual([`m/${m1}`]);
    collectGarbage(root, 1);
    expect(existsSync(join(root, 'm', m1))).toBe(false);
    expect(existsSync(join(root, 'm', m2, 'f'))).toBe(true);

    // keep 0: only latest of each, its baseline, and their lineage
    expect(names(collectGarbage(root, 0).keep)).toEqual(
      names([
        { name: 'm', version: m2 },
        { name: 'm', version: m3 },
        { name: 's', version: s1 },
        { name: 's', version: s2 },
        { name: 's', version: s3 },
      ]),
    );
    expect(existsSync(join(root, 'm', m4))).toBe(false);
    expect(readlinkSync(join(root, 'm', 'latest'))).toBe(m3);
    expect(readlinkSync(join(root, 's', 'latest'))).toBe(s3);
  });

  it('promote takes NAME/VERSION, a version directory or a unique version name; anything else is bad input', async () => {
    const root = tempDir();
    const a1 = await version(root, 'a', []);
    const a2 = await version(root, 'a', []);
    expect(await promote(root, a1)).toMatchObject({ name: 'a', from: a2, to: a1 });
    expect(await promote(root, join(root, 'a', a2))).toMatchObject({ from: a1, to: a2 });
    await expect(promote(root, 'a/20200101T000000000Z-1')).rejects.toThrow('no such complete artifact version');
    expect(() => planGc(root, -1)).toThrow('--keep must be an integer ≥ 0');
  });
});
