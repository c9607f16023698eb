import { MAX_PARAM_VALUE_LENGTH, MAX_TAG_VALUE_LENGTH, clipChars, validKey } from './limits.js';

/**
 * Run data in the JSON shapes of the MLflow REST API 2.0 (Metric, Param, RunTag), already
 * valid for MLflow (see limits.ts). The file store writes the same entities to disk.
 */

/** Proto3 JSON spells non-finite doubles as these strings; plain JSON has no NaN. */
export type JsonDouble = number | 'NaN' | 'Infinity' | '-Infinity';

export interface MetricJson {
  key: string;
  value: JsonDouble;
  /** Unix milliseconds. */
  timestamp: number;
  step: number;
}

export interface ParamJson {
  key: string;
  value: string;
}

export interface TagJson {
  key: string;
  value: string;
}

export interface LogBatchBody {
  metrics: MetricJson[];
  params: ParamJson[];
  tags: TagJson[];
}

export function emptyBatch(): LogBatchBody {
  return { metrics: [], params: [], tags: [] };
}

export function toJsonDouble(value: number): JsonDouble {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return value;
}

export function fromJsonDouble(value: JsonDouble): number {
  return typeof value === 'number' ? value : Number(value);
}

export function metricJson(key: string, value: number, step: number, timestamp: number): MetricJson {
  return { key: validKey(key), value: toJsonDouble(value), timestamp: Math.trunc(timestamp), step: Math.trunc(step) };
}

export function tagJson(key: string, value: string): TagJson {
  return { key: validKey(key), value: clipChars(value, MAX_TAG_VALUE_LENGTH) };
}

export function paramJson(key: string, value: string): ParamJson {
  return { key: validKey(key), value: clipChars(value, MAX_PARAM_VALUE_LENGTH) };
}

/**
 * Params as MLflow stores them: one string per key. Nested plain objects are flattened with
 * dotted keys (`{als: {factors: 64}}` → `als.factors = "64"`), arrays are written as JSON,
 * and null/undefined values are left out. Keys and values are not yet made valid (paramJson).
 */
export function flattenParams(params: Record<string, unknown>, prefix = ''): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(params)) {
    const key = prefix === '' ? name : `${prefix}.${name}`;
    if (value === null || value === undefined) continue;
    if (isPlainObject(value)) out.push(...flattenParams(value, key));
    else out.push([key, paramString(value)]);
  }
  return out;
}

function paramString(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value) ?? String(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
