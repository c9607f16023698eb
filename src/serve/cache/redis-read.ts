import type { Redis } from 'ioredis';
import type { ArtifactRef } from '../../artifacts/store.js';
import type { AnsweredItem } from '../types.js';
import { type CachedEntry, type CacheMeta, DEFAULT_PREFIX, metaKey, parseMeta, pointerKey, userKey } from './protocol.js';

export interface CachedRecommendations {
  readonly user_id: number;
  /** The version every item came from. */
  readonly version: string;
  /** The model artifact version that computed the list (the version's meta), or null when not recorded. */
  readonly model: ArtifactRef | null;
  readonly items: AnsweredItem[];
}

/**
 * One user's list from the cache, all of it from one version, or null when the cache has none
 * (no pointer, the user is not in the current version, or it expired). The pointer is read
 * first, then the user's list and the version's meta in one MGET: keys of one version only, so
 * a publish switching the pointer in between cannot mix two versions. If the meta is gone, the
 * version expired after the pointer was read (the pointer moved on long before): the pointer is
 * read once more. Two round trips, no script, so it works the same against a replica.
 */
export async function readCachedRecommendations(
  client: Redis,
  name: string,
  userId: number,
  prefix = DEFAULT_PREFIX,
): Promise<CachedRecommendations | null> {
  const ns = { prefix, name };
  for (let attempt = 0; attempt < 2; attempt++) {
    const version = await client.get(pointerKey(ns));
    if (version === null) return null;
    const [list, metaValue] = await client.mget(userKey(ns, version, userId), metaKey(ns, version));
    const meta = cachedMeta(version, metaValue);
    if (meta === null) continue;
    if (list === null) return null;
    const entries = JSON.parse(list) as CachedEntry[];
    return {
      user_id: userId,
      version,
      model: meta.model ?? null,
      items: entries.map(([item_id, score, channel], i) => ({ item_id, rank: i + 1, score, channel: meta.channels[channel] })),
    };
  }
  return null;
}

/** Meta of recent versions: immutable once written, so parsed once per version. */
const metaCache = new Map<string, CacheMeta>();
const META_CACHE_SIZE = 16;

function cachedMeta(version: string, value: string | null): CacheMeta | null {
  if (value === null) return null;
  const known = metaCache.get(value);
  if (known) return known;
  const meta = parseMeta(value);
  if (meta === null || meta.version !== version) return null;
  if (metaCache.size >= META_CACHE_SIZE) metaCache.delete(metaCache.keys().next().value as string);
  metaCache.set(value, meta);
  return meta;
}
