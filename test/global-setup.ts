import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Runs once before the test files: the CLI tests spawn `dist/cli/bin.js`, so the build is
 * brought up to date with `src/` here (not only by `make test`); and every test's temporary
 * directory (anything under `os.tmpdir()`) goes into one folder that is removed at the end.
 */
const ROOT = new URL('..', import.meta.url).pathname;

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function buildStamp(): number {
  try {
    return statSync(join(ROOT, 'dist/.built')).mtimeMs;
  } catch {
    return 0;
  }
}

export default function setup(): () => void {
  if (newestMtime(join(ROOT, 'src')) > buildStamp()) {
    execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', join(ROOT, 'tsconfig.json')], { stdio: 'inherit' });
    const stamp = join(ROOT, 'dist/.built');
    rmSync(stamp, { force: true });
    execFileSync('touch', [stamp]);
  }
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  const tmp = mkdtempSync(join(ROOT, '.tmp/test-'));
  // Inherited by the forked test workers and their child processes; os.tmpdir() reads it.
  process.env.TMPDIR = tmp;
  return () => rmSync(tmp, { recursive: true, force: true });
}
