import { appendFileSync, cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { codeIdentity } from '../../src/util/code-identity.js';
import { runCli } from '../cli-runner.js';
import { ML_SMALL, tempDir } from '../helpers.js';

const REPO = new URL('../..', import.meta.url).pathname;

/** A copy of `files` under a fresh directory; returns the identity of its `entry`. */
function identityOfTree(files: Record<string, string>, entry: string): string {
  const dir = tempDir();
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return codeIdentity(pathToFileURL(join(dir, entry)).href);
}

describe('code identity', () => {
  const tree = {
    'steps/a.js': "import { b } from '../lib/b.js';\nexport const a = () => import('./lazy.js');\n",
    'steps/lazy.js': 'export const lazy = 1;\n',
    'lib/b.js': "export const b = new URL('../kernels/k.wasm', import.meta.url);\n",
    'kernels/k.wasm': '\u0000asm-1',
    'lib/unused.js': 'export const unused = 1;\n',
  };
  const base = identityOfTree(tree, 'steps/a.js');

  it('is the same for the same code anywhere, and changes with any file the module reaches', () => {
    expect(identityOfTree(tree, 'steps/a.js')).toBe(base);
    expect(identityOfTree({ ...tree, 'lib/b.js': `${tree['lib/b.js']}// changed\n` }, 'steps/a.js')).not.toBe(base);
    expect(identityOfTree({ ...tree, 'steps/lazy.js': 'export const lazy = 2;\n' }, 'steps/a.js')).not.toBe(base);
    expect(identityOfTree({ ...tree, 'kernels/k.wasm': '\u0000asm-2' }, 'steps/a.js')).not.toBe(base);
  });

  it('ignores files the module does not reach', () => {
    expect(identityOfTree({ ...tree, 'lib/unused.js': 'export const unused = 2;\n' }, 'steps/a.js')).toBe(base);
  });

  it('follows .js specifiers to .ts sources, as under vite-node', () => {
    const ts = { 'a.ts': "import type { B } from './b.js';\nexport type A = B;\n", 'b.ts': 'export type B = number;\n' };
    expect(identityOfTree({ ...ts, 'b.ts': 'export type B = string;\n' }, 'a.ts')).not.toBe(identityOfTree(ts, 'a.ts'));
  });
});

describe('a pipeline step whose code changed', () => {
  it('re-runs without --force; steps whose code did not change stay skipped', async () => {
    // A copy of the built program, so that changing its code leaves the repository alone.
    const install = tempDir();
    cpSync(join(REPO, 'dist'), join(install, 'dist'), { recursive: true });
    cpSync(join(REPO, 'wasm'), join(install, 'wasm'), { recursive: true });
    cpSync(join(REPO, 'package.json'), join(install, 'package.json'));
    symlinkSync(join(REPO, 'node_modules'), join(install, 'node_modules'));
    const work = tempDir();
    const file = join(work, 'p.yaml');
    writeFileSync(
      file,
      `name: code\nartifacts: ${work}/a\ndata: {in: ${ML_SMALL}, out: ${work}/data}\nsplits: {tu: {strategy: temporal-user}}\n` +
        'steps:\n  - kind: import\n  - kind: split\n  - kind: train\n    model: als\n    params: {factors: 4, iterations: 1, threads: 1}\n',
    );
    // Asynchronous, so the test worker keeps answering the runner while the CLI works.
    const run = async (): Promise<string[]> => {
      const { code, stdout, stderr } = await runCli(['train', '--pipeline', file], {
        bin: join(install, 'dist/cli/bin.js'),
        cwd: work,
        env: { RECSYS_QUIET: '1' },
      });
      expect(code, stderr).toBe(0);
      // The first block of the output: a header, then one line per unit with its status.
      return stdout
        .split('\n\n')[0]
        .split('\n')
        .slice(1)
        .map((line) => (line.includes('skipped (unchanged)') ? 'skipped' : / ran /.test(line) ? 'ran' : line));
    };
    expect(await run()).toEqual(['ran', 'ran', 'ran']);
    expect(await run()).toEqual(['skipped', 'skipped', 'skipped']);
    // Code no step reaches: the CLI's own commands.
    appendFileSync(join(install, 'dist/cli/commands/data.js'), '\n// changed\n');
    expect(await run()).toEqual(['skipped', 'skipped', 'skipped']);
    // ALS's code: the train step reaches it, import and split do not.
    appendFileSync(join(install, 'dist/models/als/model.js'), '\n// changed\n');
    expect(await run()).toEqual(['skipped', 'skipped', 'ran']);
    expect(await run()).toEqual(['skipped', 'skipped', 'skipped']);
    // The ALS WebAssembly kernels are ALS's code too (appended: a valid custom section named "x").
    appendFileSync(join(install, 'wasm/als.wasm'), Buffer.of(0, 3, 1, 0x78, 0));
    expect(await run()).toEqual(['skipped', 'skipped', 'ran']);
  });
});
