import { excerpt } from '../util/errors.js';

/** Most items one answer may ask for (docs/serving.md). */
export const MAX_K = 1000;
export const DEFAULT_K = 10;
/** Most items a history or an exclusion list may hold. */
export const MAX_LIST = 500;

/** A request the server refuses with 400: `field` names what was wrong. */
export class BadRequest extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** Raw ids are non-negative 32-bit integers (the Parquet columns are INTEGER). */
const MAX_ID = 2 ** 31 - 1;
const DIGITS = /^\d{1,10}$/;

/** An id from a path or query string: digits only (no sign, no exponent, no spaces). */
export function parseId(field: string, raw: string): number {
  const value = DIGITS.test(raw) ? Number(raw) : Number.NaN;
  if (!(value <= MAX_ID)) throw new BadRequest(field, `expected a non-negative integer id, got ${excerpt(raw)}`);
  return value;
}

export function checkK(k: number): number {
  if (!Number.isInteger(k) || k < 1 || k > MAX_K) throw new BadRequest('k', `expected an integer from 1 to ${MAX_K}, got ${k}`);
  return k;
}

/** `k` from a query string; absent = the default. */
export function parseK(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_K;
  if (!DIGITS.test(raw)) throw new BadRequest('k', `expected an integer from 1 to ${MAX_K}, got ${excerpt(raw)}`);
  return checkK(Number(raw));
}

/** `exclude=ID,ID,...` (absent or empty: none). */
export function parseExclude(raw: string | undefined): number[] {
  if (raw === undefined || raw === '') return [];
  const parts = raw.split(',');
  if (parts.length > MAX_LIST) throw new BadRequest('exclude', `at most ${MAX_LIST} ids, got ${parts.length}`);
  return parts.map((p) => parseId('exclude', p.trim()));
}

/** A list of ids from a JSON body: 1 to MAX_LIST non-negative integers. */
export function checkIdList(field: string, value: unknown): number[] {
  if (!Array.isArray(value)) throw new BadRequest(field, `expected a list of item ids, got ${value === null ? 'null' : typeof value}`);
  if (value.length === 0) throw new BadRequest(field, 'expected at least one item id, got an empty list');
  if (value.length > MAX_LIST) throw new BadRequest(field, `at most ${MAX_LIST} item ids, got ${value.length}`);
  return value.map((v, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_ID)
      throw new BadRequest(
        `${field}[${i}]`,
        `expected a non-negative integer id, got ${typeof v === 'string' ? excerpt(v) : excerpt(JSON.stringify(v) ?? String(v)).slice(1, -1)}`,
      );
    return v;
  });
}

/** The body of `POST /recommend`: `{"history": [ids...], "k": 10}`. */
export function parseHistoryBody(body: unknown): { history: number[]; k: number } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new BadRequest('body', 'expected a JSON object {"history": [item ids], "k": 10}');
  const { history, k, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new BadRequest(unknown[0], 'unknown field (expected history and k)');
  if (history === undefined) throw new BadRequest('history', 'missing');
  if (k !== undefined && typeof k !== 'number') throw new BadRequest('k', `expected an integer from 1 to ${MAX_K}, got ${typeof k}`);
  return { history: checkIdList('history', history), k: k === undefined ? DEFAULT_K : checkK(k) };
}
