import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Interactions } from '../src/data/interactions.js';

/** A fresh temporary directory for one test. */
export function tempDir(prefix = 'recsys-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The real MovieLens latest-small data shipped beside the repo (read-only). */
export const ML_SMALL = new URL('../../shared/data/ml-latest-small', import.meta.url).pathname;

/** Interactions from [user, item, rating, timestamp] rows. */
export function interactionsOf(rows: Array<[number, number, number, number]>): Interactions {
  return {
    userId: Int32Array.from(rows, (r) => r[0]),
    itemId: Int32Array.from(rows, (r) => r[1]),
    rating: Float32Array.from(rows, (r) => r[2]),
    timestamp: Float64Array.from(rows, (r) => r[3]),
  };
}

/** /usr/bin/python3 has Debian's numpy, faiss and onnx; the python3 first on PATH may not. */
export const SYSTEM_PYTHON = '/usr/bin/python3';
