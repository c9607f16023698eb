import type { ArtifactRef } from '../../artifacts/store.js';
import { InputError } from '../../util/errors.js';

/**
 * The Redis cache of batch recommendations (docs/serving.md, "Cache protocol"):
 *
 *   <prefix>:<name>:current                 → "<version>"   the pointer readers start from
 *   <prefix>:<name>:v:<version>:meta        → JSON CacheMeta, written after every user's list
 *   <prefix>:<name>:v:<version>:u:<user_id> → JSON [[item_id, score, channel_index], ...] by rank
 *
 * Every key of a version, and the pointer when it points there, expires at the same instant
 * (PXAT), so a version lives or vanishes whole. Prefix, name and version use [A-Za-z0-9._-]
 * only: no ':' inside a part, so a key splits back into its parts unambiguously.
 */
export const CACHE_FORMAT = 'recsys-recs-cache/1';
export const DEFAULT_PREFIX = 'recsys';
/** Two days: a nightly publish may fail once before the cache empties (and serve falls back to live). */
export const DEFAULT_TTL_SECONDS = 172_800;
/** Shorter than the longest publish would be a version that expires while it is written. */
export const MIN_TTL_SECONDS = 60;

const KEY_PART = /^[A-Za-z0-9._-]{1,200}$/;

export interface CacheNamespace {
  readonly prefix: string;
  /** What is cached, e.g. the recs artifact's name `recs-ranker-temporal-user`. */
  readonly name: string;
}

export interface CacheMeta {
  readonly format: typeof CACHE_FORMAT;
  readonly version: string;
  readonly name: string;
  /** Channel names; a list entry's third element indexes it. */
  readonly channels: string[];
  readonly k: number;
  readonly users: number;
  readonly rows: number;
  /** sha256 of the recs file published. */
  readonly sha256: string;
  /** The artifact the file belongs to, or null for a stand-alone export. */
  readonly artifact: string | null;
  /**
   * The model artifact version that computed the lists (null: not recorded). A server answers
   * from the cache only when it serves this very version; a list of another model is stale.
   */
  readonly model: ArtifactRef | null;
  readonly created_at: string;
  /** When every key of the version expires (ISO time). */
  readonly expires_at: string;
}

/** Throws an InputError naming `what` unless `value` may be a part of a key. */
export function checkKeyPart(what: string, value: string): string {
  if (!KEY_PART.test(value)) throw new InputError(`${what} "${value}": use 1 to 200 of the characters A-Z a-z 0-9 . _ -`);
  return value;
}

export function isKeyPart(value: string): boolean {
  return KEY_PART.test(value);
}

export function pointerKey(ns: CacheNamespace): string {
  return `${ns.prefix}:${ns.name}:current`;
}

export function versionKeyPattern(ns: CacheNamespace, version: string): string {
  return `${ns.prefix}:${ns.name}:v:${version}:*`;
}

export function metaKey(ns: CacheNamespace, version: string): string {
  return `${ns.prefix}:${ns.name}:v:${version}:meta`;
}

export function userKey(ns: CacheNamespace, version: string, userId: number): string {
  return `${ns.prefix}:${ns.name}:v:${version}:u:${userId}`;
}

/** A cached list entry: [item_id, score, channel index]. */
export type CachedEntry = [number, number, number];

/**
 * JSON of one user's list. Scores are float32 in the file: 9 significant digits give the same
 * float32 back, in 11 bytes rather than the double's 18 (0.930000007 for 0.9300000071525574);
 * toPrecision's own output is valid JSON for finite numbers (the reader checked them), and
 * shortening it further (Number(...)) measured 6× slower for 2M scores.
 */
export function encodeList(item: Int32Array, score: Float32Array, channel: Int32Array, from: number, to: number): string {
  const parts: string[] = [];
  for (let r = from; r < to; r++) parts.push(`[${item[r]},${score[r].toPrecision(9)},${channel[r]}]`);
  return `[${parts.join(',')}]`;
}

/** Parses a meta value; null when it is not one of ours (another program's key under the same name). */
export function parseMeta(value: string | null): CacheMeta | null {
  if (value === null) return null;
  try {
    const meta = JSON.parse(value) as Partial<CacheMeta>;
    return meta.format === CACHE_FORMAT && Array.isArray(meta.channels) && typeof meta.version === 'string' ? (meta as CacheMeta) : null;
  } catch {
    return null;
  }
}
