import type { Redis } from 'ioredis';
import { InputError, RecsysError } from '../../util/errors.js';
import { log } from '../../util/log.js';
import { Progress } from '../../util/progress.js';
import { readRecsLists, verifyRecsFile, type VerifiedRecsFile } from '../recs-file.js';
import {
  CACHE_FORMAT,
  type CacheMeta,
  type CacheNamespace,
  checkKeyPart,
  DEFAULT_PREFIX,
  DEFAULT_TTL_SECONDS,
  encodeList,
  isKeyPart,
  MIN_TTL_SECONDS,
  metaKey,
  parseMeta,
  pointerKey,
  userKey,
} from './protocol.js';
import { connectRedis, parseRedisUrl, redactUrl } from './redis-client.js';

/** The name a stand-alone recs file (no artifact) is cached under unless `name` says otherwise. */
export const DEFAULT_CACHE_NAME = 'recs';
/** Users per pipelined round trip: about 2.5 MB of commands at k = 100. */
export const DEFAULT_BATCH_USERS = 1000;

export interface PublishRequest {
  /** A recs.parquet whose version its artifact manifest or sidecar records. */
  readonly recs: string;
  /** redis://HOST:PORT[/DB] */
  readonly redis: string;
  readonly ttlSeconds?: number;
  readonly prefix?: string;
  /** Default: the recs artifact's name, or "recs" for a stand-alone file. */
  readonly name?: string;
  readonly batchUsers?: number;
  /** Aborted (SIGTERM): stop before the next batch; the pointer is never switched after it. */
  readonly signal?: AbortSignal;
}

export interface PublishReport {
  readonly redis: string;
  readonly prefix: string;
  readonly name: string;
  readonly version: string;
  /** The version the pointer held before (null: none). */
  readonly previous: string | null;
  readonly users: number;
  readonly rows: number;
  readonly expires_at: string;
  readonly seconds: number;
}

/**
 * Switches the pointer to a complete version, atomically (a Lua script runs alone on the
 * server): only if the pointer still holds the version this publish started from (another
 * publish in between is a conflict, not a silent overwrite) and the new version's meta key,
 * written after every user's list, exists. The pointer expires with the version it names.
 */
const SWITCH_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current == false then current = '' end
if current ~= ARGV[1] then return redis.error_reply('RECSYS_CONFLICT ' .. current) end
if redis.call('EXISTS', KEYS[2]) == 0 then return redis.error_reply('RECSYS_INCOMPLETE') end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
return current
`;

/**
 * `recsys publish`: loads every user's list of a recs file into Redis under a new version's
 * keys, in pipelined batches, checks that every key is there, writes the version's meta key,
 * then switches the pointer (docs/serving.md, "Cache protocol"). Until the switch readers see
 * the previous version only; a failure or kill before it leaves the pointer where it was, and
 * the half-written keys expire with their TTL. Only keys of its own format are read or
 * written: a pointer it did not write is refused, and nothing is ever deleted.
 */
export async function publishRecommendations(req: PublishRequest): Promise<PublishReport> {
  const url = redactUrl(parseRedisUrl(req.redis));
  const ttlSeconds = req.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < MIN_TTL_SECONDS)
    throw new InputError(`--ttl ${ttlSeconds}: expected an integer number of seconds ≥ ${MIN_TTL_SECONDS}`);
  const batchUsers = req.batchUsers ?? DEFAULT_BATCH_USERS;
  if (!Number.isInteger(batchUsers) || batchUsers < 1) throw new InputError(`--batch ${batchUsers}: expected an integer ≥ 1`);
  const file = await verifyRecsFile(req.recs);
  const ns: CacheNamespace = {
    prefix: checkKeyPart('--prefix', req.prefix ?? DEFAULT_PREFIX),
    name: checkKeyPart('--name', req.name ?? file.artifact ?? DEFAULT_CACHE_NAME),
  };
  checkKeyPart(`${file.path}: version`, file.version);
  // Connected before the file is read (seconds at 16M rows): a server that is not there fails fast.
  const client = await connectRedis(req.redis);
  try {
    return await publishLists(client, { url, ns, file, ttlSeconds, batchUsers, signal: req.signal });
  } catch (err) {
    if (err instanceof RecsysError) throw err;
    throw new RecsysError(`${url}: publish failed, the pointer ${pointerKey(ns)} was not switched (${(err as Error).message})`);
  } finally {
    client.disconnect();
  }
}

interface PublishPlan {
  readonly url: string;
  readonly ns: CacheNamespace;
  readonly file: VerifiedRecsFile;
  readonly ttlSeconds: number;
  readonly batchUsers: number;
  readonly signal?: AbortSignal;
}

async function publishLists(client: Redis, p: PublishPlan): Promise<PublishReport> {
  const { ns, file } = p;
  const started = performance.now();
  const previous = await currentVersion(client, ns);
  const stopIfInterrupted = (): void => {
    if (p.signal?.aborted)
      throw new RecsysError(`publish interrupted; the pointer ${pointerKey(ns)} still names ${previous ?? 'no version'}`);
  };
  await checkVersionSlot(client, ns, file);
  const lists = await readRecsLists(file.path);
  const users = lists.starts.length - 1;
  // One instant for every key of the version (and the pointer to it): it lives or vanishes whole.
  const expiresAt = Date.now() + p.ttlSeconds * 1000;
  log.event('publish.start', { redis: p.url, ...ns, version: file.version, previous, users, rows: lists.user.length, ttl: p.ttlSeconds });
  const progress = new Progress('publish', users, 'users');
  let present = 0;
  for (let first = 0; first < users; first += p.batchUsers) {
    stopIfInterrupted();
    const last = Math.min(first + p.batchUsers, users);
    const keys: string[] = [];
    const batch = client.pipeline();
    for (let u = first; u < last; u++) {
      const key = userKey(ns, file.version, lists.user[lists.starts[u]]);
      keys.push(key);
      batch.set(key, encodeList(lists.item, lists.score, lists.channel, lists.starts[u], lists.starts[u + 1]), 'PXAT', expiresAt);
    }
    // Counted after the writes of the batch, on the same connection (replies come in order).
    batch.exists(...keys);
    const replies = (await batch.exec()) ?? [];
    const failed = replies.find(([err]) => err !== null);
    if (failed) throw failed[0] as Error;
    present += Number(replies[replies.length - 1][1]);
    progress.tick(last - first);
  }
  if (present !== users) throw new RecsysError(`${p.url}: only ${present} of ${users} user keys are present after writing; not switching`);
  const meta: CacheMeta = {
    format: CACHE_FORMAT,
    version: file.version,
    name: ns.name,
    channels: lists.channels,
    k: lists.k,
    users,
    rows: lists.user.length,
    sha256: file.sha256,
    artifact: file.artifact,
    model: file.model,
    created_at: new Date().toISOString(),
    expires_at: new Date(expiresAt).toISOString(),
  };
  await client.set(metaKey(ns, file.version), JSON.stringify(meta), 'PXAT', expiresAt);
  stopIfInterrupted();
  try {
    await client.eval(SWITCH_SCRIPT, 2, pointerKey(ns), metaKey(ns, file.version), previous ?? '', file.version, expiresAt);
  } catch (err) {
    const message = (err as Error).message;
    if (message.includes('RECSYS_CONFLICT'))
      throw new RecsysError(
        `${p.url}: ${pointerKey(ns)} changed from ${previous ?? 'no version'} to ${message.split('RECSYS_CONFLICT ')[1] || 'no version'} while publishing (another publish?); not switching`,
      );
    throw err;
  }
  progress.finish({ users });
  const seconds = (performance.now() - started) / 1000;
  const report: PublishReport = {
    redis: p.url,
    ...ns,
    version: file.version,
    previous,
    users,
    rows: lists.user.length,
    expires_at: meta.expires_at,
    seconds,
  };
  log.event('publish.switched', { ...report });
  return report;
}

/** Refuses a namespace another program uses, naming the key and what is odd about it. */
function foreignKey(key: string, why: string): InputError {
  return new InputError(`redis key ${key} ${why}, not written by recsys publish; refusing to touch it (choose another --prefix or --name)`);
}

/** The version the pointer names; an InputError when the pointer or its version's meta is not in our format. */
async function currentVersion(client: Redis, ns: CacheNamespace): Promise<string | null> {
  const key = pointerKey(ns);
  const type = await client.type(key);
  if (type === 'none') return null;
  if (type !== 'string') throw foreignKey(key, `is a ${type}`);
  const version = await client.get(key);
  if (version === null) return null;
  if (!isKeyPart(version)) throw foreignKey(key, 'holds something that is not a version name');
  const metaType = await client.type(metaKey(ns, version));
  // The pointer and its version expire at the same instant: both may just have gone.
  if (metaType === 'none' && (await client.exists(key)) === 0) return null;
  const meta = metaType === 'string' ? parseMeta(await client.get(metaKey(ns, version))) : null;
  if (meta === null || meta.version !== version)
    throw foreignKey(key, `points at "${version}", whose ${metaKey(ns, version)} is not a cache meta`);
  return version;
}

/**
 * The new version's meta key is absent (a first publish, or one that stopped before its meta)
 * or describes the same file (a re-publish, which rewrites the same lists and extends the TTL).
 */
async function checkVersionSlot(client: Redis, ns: CacheNamespace, file: VerifiedRecsFile): Promise<void> {
  const key = metaKey(ns, file.version);
  const type = await client.type(key);
  if (type === 'none') return;
  const meta = type === 'string' ? parseMeta(await client.get(key)) : null;
  if (meta === null) throw foreignKey(key, 'exists');
  if (meta.sha256 !== file.sha256)
    throw new InputError(
      `${file.path}: version ${file.version} is already cached from a different file (sha256 ${meta.sha256}); not overwriting it`,
    );
}
