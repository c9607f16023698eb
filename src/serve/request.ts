import type { UserEventRecord } from '../events/records.js';
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
/** A JSON value as quoted in a message. */
function shown(v: unknown): string {
  return typeof v === 'string' ? excerpt(v) : excerpt(JSON.stringify(v) ?? String(v)).slice(1, -1);
}

/** A raw id from a JSON body: a non-negative 32-bit integer. */
function checkId(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_ID)
    throw new BadRequest(field, `expected a non-negative integer id, got ${shown(v)}`);
  return v;
}

export function checkIdList(field: string, value: unknown): number[] {
  if (!Array.isArray(value)) throw new BadRequest(field, `expected a list of item ids, got ${value === null ? 'null' : typeof value}`);
  if (value.length === 0) throw new BadRequest(field, 'expected at least one item id, got an empty list');
  if (value.length > MAX_LIST) throw new BadRequest(field, `at most ${MAX_LIST} item ids, got ${value.length}`);
  return value.map((v, i) => checkId(`${field}[${i}]`, v));
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

/** A request id given by a client (the `X-Request-Id` header, an event's `request_id`): a token of at most 100 characters. */
export const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;
/** Event types: a lower-case word (docs/serving.md, "Events"). */
const EVENT_TYPE = /^[a-z][a-z_]{0,31}$/;
/** How far an event's own time may lie from the server's clock. */
export const EVENT_MAX_AGE_MS = 30 * 24 * 3600 * 1000;
export const EVENT_MAX_AHEAD_MS = 24 * 3600 * 1000;

/** What a client sends for one event (POST /events). */
export interface EventInput {
  readonly user: number;
  readonly item: number;
  readonly type: string;
  readonly request_id?: string | null;
  /** When it happened, ms since the epoch; absent = when the server receives it. */
  readonly time?: number;
}

const EVENT_FIELDS = new Set(['user', 'item', 'type', 'request_id', 'time']);

/** One event, checked field by field (`where` prefixes the field names, e.g. `events[3].`), stamped `now` unless it has a time. */
export function checkEvent(value: unknown, now: number, where = ''): UserEventRecord {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new BadRequest(where === '' ? 'body' : where.slice(0, -1), 'expected an event {"user", "item", "type", "request_id"?, "time"?}');
  const e = value as Record<string, unknown>;
  const unknown = Object.keys(e).find((key) => !EVENT_FIELDS.has(key));
  if (unknown !== undefined) throw new BadRequest(`${where}${unknown}`, 'unknown field (expected user, item, type, request_id, time)');
  for (const field of ['user', 'item', 'type']) if (e[field] === undefined) throw new BadRequest(`${where}${field}`, 'missing');
  const user = checkId(`${where}user`, e.user);
  const item = checkId(`${where}item`, e.item);
  if (typeof e.type !== 'string' || !EVENT_TYPE.test(e.type))
    throw new BadRequest(`${where}type`, `expected a lower-case word (view, click, purchase, ...), got ${shown(e.type)}`);
  const requestId = e.request_id ?? null;
  if (requestId !== null && (typeof requestId !== 'string' || !REQUEST_ID.test(requestId)))
    throw new BadRequest(`${where}request_id`, `expected a token of letters, digits and . _ : - (1 to 100), got ${shown(requestId)}`);
  let time = now;
  if (e.time !== undefined) {
    if (typeof e.time !== 'number' || !Number.isInteger(e.time))
      throw new BadRequest(`${where}time`, `expected milliseconds since the epoch, got ${shown(e.time)}`);
    if (e.time < now - EVENT_MAX_AGE_MS || e.time > now + EVENT_MAX_AHEAD_MS)
      throw new BadRequest(`${where}time`, `${e.time} is more than 30 days before or 1 day after the server's clock (${now})`);
    time = e.time;
  }
  return { kind: 'event', user_id: user, item_id: item, type: e.type, request_id: requestId as string | null, time };
}

/** The body of `POST /events`: one event, or `{"events": [...]}` with 1 to MAX_LIST of them; every one is checked before any is kept. */
export function parseEventsBody(body: unknown, now: number): UserEventRecord[] {
  if (typeof body === 'object' && body !== null && !Array.isArray(body) && 'events' in body) {
    const { events, ...rest } = body as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length > 0) throw new BadRequest(unknown[0], 'unknown field (a batch is {"events": [...]} alone)');
    if (!Array.isArray(events))
      throw new BadRequest('events', `expected a list of events, got ${events === null ? 'null' : typeof events}`);
    if (events.length === 0) throw new BadRequest('events', 'expected at least one event, got an empty list');
    if (events.length > MAX_LIST) throw new BadRequest('events', `at most ${MAX_LIST} events, got ${events.length}`);
    return events.map((e, i) => checkEvent(e, now, `events[${i}].`));
  }
  return [checkEvent(body, now)];
}
