import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256 } from './hash.js';

/** Relative module specifiers: `from './x.js'`, `import './x.js'`, `import('./x.js')`, `export * from './x.js'`. */
const IMPORT = /(?:\bfrom|\bimport)\s*\(?\s*(['"`])(\.{1,2}\/[^'"`\n]+)\1/g;
/** Files a module reads beside itself: `new URL('../../wasm/als.wasm', import.meta.url)`. */
const BESIDE = /\bnew URL\(\s*(['"`])(\.{1,2}\/[^'"`\n]+)\1\s*,\s*import\.meta\.url\s*\)/g;
const SOURCE = /\.(?:[cm]?js|ts)$/;

const identities = new Map<string, string>();

/**
 * The file a specifier names: as written, or its .ts source when the code runs from src/
 * (vite-node), where specifiers still say .js.
 */
function resolveSpecifier(from: string, specifier: string): string | null {
  const path = resolve(dirname(from), specifier);
  if (existsSync(path)) return path;
  const ts = path.replace(/\.js$/, '.ts');
  return ts !== path && existsSync(ts) ? ts : null;
}

/**
 * sha256 over the code a module runs: its own file and every file it reaches through relative
 * imports (static, dynamic, re-exports) or reads beside itself (`new URL('…', import.meta.url)`:
 * the ALS WebAssembly kernels, package.json), transitively, with their paths relative to the
 * module's folder (so a copy of the program elsewhere has the same identity). Text that only looks like an import (in a string) adds a file, never hides one.
 * Computed once per module and process.
 */
export function codeIdentity(moduleUrl: string): string {
  const known = identities.get(moduleUrl);
  if (known !== undefined) return known;
  const entry = fileURLToPath(moduleUrl);
  const base = dirname(entry);
  const files = new Map<string, string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (files.has(file)) continue;
    const bytes = readFileSync(file);
    files.set(file, sha256(bytes));
    if (!SOURCE.test(file)) continue;
    const text = bytes.toString('utf8');
    for (const pattern of [IMPORT, BESIDE]) {
      for (const m of text.matchAll(pattern)) {
        const target = resolveSpecifier(file, m[2]);
        if (target !== null) pending.push(target);
      }
    }
  }
  const lines = [...files].map(([file, hash]) => `${hash}  ${relative(base, file)}`);
  const identity = sha256(lines.sort().join('\n'));
  identities.set(moduleUrl, identity);
  return identity;
}
