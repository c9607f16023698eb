import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { InputError } from './errors.js';

/** sha256 of a file's bytes, streamed so large files never sit in memory. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

/** sha256 of a string or bytes. */
export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Stable hash of a JSON-able value: keys are sorted so key order does not matter. */
export function hashJson(value: unknown): string {
  return sha256(stableStringify(value));
}

export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
}

/** The environment variable that chooses how much of an input is checked against its recorded hashes. */
export const VERIFY_ENV = 'RECSYS_VERIFY';

/**
 * Whether recorded sha256s are checked when an artifact or dataset is loaded: yes by default;
 * `RECSYS_VERIFY=size` checks sizes only, for files too large to hash on every load.
 */
export function verifyHashes(): boolean {
  const mode = process.env[VERIFY_ENV];
  if (mode === undefined || mode === '' || mode === 'full') return true;
  if (mode === 'size') return false;
  throw new InputError(`${VERIFY_ENV}=${mode}: expected "full" (the default: sizes and sha256) or "size" (sizes only)`);
}
