import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** The version of recsys itself (package.json), recorded in manifests and pipeline fingerprints. */
export function recsysVersion(): string {
  if (cached === undefined) {
    try {
      // Two levels up from both src/util (vite-node) and dist/util (the built CLI).
      cached = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      cached = 'unknown';
    }
  }
  return cached;
}
