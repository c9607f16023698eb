import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MODELS_DOC, modelParamsMarkdown, replaceGenerated } from '../../src/pipeline/params-doc.js';
import { modelKinds } from '../../src/pipeline/model-registry.js';

const REPO = new URL('../../', import.meta.url).pathname;

describe(`${MODELS_DOC}`, () => {
  const committed = readFileSync(join(REPO, MODELS_DOC), 'utf8');

  it('holds the hyper-parameter tables the schemas generate (run `npx vite-node scripts/docs-params.ts` after changing a schema)', () => {
    expect(replaceGenerated(committed, modelParamsMarkdown())).toBe(committed);
  });

  it('has a section per registered model kind, and a row with key, flag, range and default', () => {
    for (const kind of modelKinds()) expect(committed).toContain(`### \`${kind}\``);
    expect(committed).toContain('| `cg_steps` | `--cg-steps` | an integer in [1, 1024] | `3` |');
    expect(committed).toContain('| `val_frac` | `--val-frac` | a number in [0, 1) | `0.1` |');
  });

  it('a changed default would show as drift', () => {
    const drifted = committed.replace(
      '| `factors` | `--factors` | an integer in [1, 1024] | `64` |',
      '| `factors` | `--factors` | an integer in [1, 1024] | `32` |',
    );
    expect(drifted).not.toBe(committed);
    expect(replaceGenerated(drifted, modelParamsMarkdown())).not.toBe(drifted);
  });
});
