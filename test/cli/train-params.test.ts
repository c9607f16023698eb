import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alsParamsSchema } from '../../src/models/als/params.js';
import { paramSpecs } from '../../src/models/params.js';
import { runCli } from '../cli-runner.js';
import { ML_SMALL, tempDir } from '../helpers.js';

/** Model hyper-parameters at the command line and in pipeline files, through the built binary. */

describe('recsys train <model> options from the params schema', () => {
  it('`recsys train als --help` lists every schema key as a kebab-case flag with its range and default', async () => {
    const help = await runCli(['train', 'als', '--help']);
    expect(help.code).toBe(0);
    // Commander wraps long lines: compare with the whitespace folded.
    const text = help.stdout.replace(/\s+/g, ' ');
    expect(text).toContain('--cg-steps <n> conjugate-gradient steps per row and sweep');
    expect(text).toContain('--factors <n> latent factors; an integer in [1, 1024] (default: 64)');
    expect(text).toContain(
      '--regularization <n> L2 regularization λ, added to the diagonal of every normal equation; a number ≥ 0 (default: 30)',
    );
    expect(text).toContain('(choices: "one", "count", "rating", default: "one")');
    for (const spec of paramSpecs(alsParamsSchema)) {
      expect(text).toContain(`--${spec.flag} `);
      expect(text).toContain(`default: ${JSON.stringify(spec.default)})`);
    }
  });

  it('a value out of range is a usage error naming the flag and the range (exit 2), before any data is read', async () => {
    const r = await runCli(['train', 'als', '--data', '/nonexistent', '--factors', '-4']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: option '--factors <n>' argument '-4' is invalid. expected an integer in [1, 1024]");
    const lr = await runCli(['train', 'two-tower', '--data', '/nonexistent', '--lr', '0']);
    expect(lr.code).toBe(2);
    expect(lr.stderr).toContain("option '--lr <n>' argument '0' is invalid. expected a number in (0, 1]");
    const camel = await runCli(['train', 'als', '--data', '/nonexistent', '--cgSteps', '3']);
    expect(camel.code).toBe(2);
    expect(camel.stderr).toContain("unknown option '--cgSteps'");
  });
});

describe('recsys train --pipeline with a bad model parameter', () => {
  it('fails at load time (exit 2) with the file, line and key, before the first step runs', async () => {
    const cwd = tempDir();
    const file = join(cwd, 'p.yaml');
    writeFileSync(
      file,
      `data:
  format: movielens
  in: ${ML_SMALL}
  out: data/ml
splits:
  tu: {strategy: temporal-user}
steps:
  - kind: import
  - kind: split
  - kind: train
    model: popularity
  - kind: train
    model: als
    params: {factors: -4}
`,
    );
    const r = await runCli(['train', '--pipeline', file], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:14:14: steps[3].params.factors: als: expected an integer in [1, 1024], got -4`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // Nothing ran: no dataset, no artifact root.
    expect(existsSync(join(cwd, 'data'))).toBe(false);
    expect(existsSync(join(cwd, 'artifacts'))).toBe(false);
  });
});
