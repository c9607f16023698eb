import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { MANIFEST_FILE, newVersionName, readManifest, type ArtifactRef } from '../artifacts/store.js';
import { parquetColumns, quoteString, readNumericParquet, readRowsParquet } from '../data/parquet.js';
import { verifyArtifact } from '../artifacts/verify.js';
import { InputError } from '../util/errors.js';
import { writeJsonAtomic } from '../util/fs.js';
import { sha256File } from '../util/hash.js';

/**
 * A batch export of recommendations (`recs.parquet`: user_id, item_id, rank, score, channel)
 * and the version it is published under. Inside an artifact version (the pipeline's
 * `recommend` step) the artifact's manifest.json names the version and the file's sha256; a
 * file written by `recsys recommend --all-users --out F` has a sidecar `F.manifest.json`
 * with the same two facts. Either way the file is hashed and compared before it is published,
 * so a cache never carries a version label over content it did not come from.
 */
export const RECS_SIDECAR_SUFFIX = '.manifest.json';
const SIDECAR_KIND = 'recommendations';

export interface RecsSidecar {
  readonly kind: typeof SIDECAR_KIND;
  readonly version: string;
  readonly sha256: string;
  readonly created_at: string;
  /** The model artifact the recommendations came from. */
  readonly model: ArtifactRef;
  readonly k: number;
  readonly users: number;
  readonly rows: number;
}

/** Records the version of a freshly written recs file beside it (after the file is in place). */
export async function writeRecsSidecar(
  path: string,
  fields: Omit<RecsSidecar, 'kind' | 'version' | 'sha256' | 'created_at'>,
): Promise<RecsSidecar> {
  const sidecar: RecsSidecar = {
    kind: SIDECAR_KIND,
    version: newVersionName(),
    sha256: await sha256File(path),
    created_at: new Date().toISOString(),
    ...fields,
  };
  writeJsonAtomic(`${path}${RECS_SIDECAR_SUFFIX}`, sidecar);
  return sidecar;
}

export interface VerifiedRecsFile {
  readonly path: string;
  /** The artifact version (or the sidecar's export version). */
  readonly version: string;
  /** The artifact name (`recs-ranker-temporal-user`), or null for a stand-alone file. */
  readonly artifact: string | null;
  readonly sha256: string;
  /** The model artifact version that computed the recommendations, or null when none is recorded. */
  readonly model: ArtifactRef | null;
}

/** The version a sidecar `F.manifest.json` records for the stand-alone file F, and its sha256. */
function sidecarOf(path: string): { version: string; sha256: string; model: ArtifactRef | null; sidecarPath: string } {
  const sidecarPath = `${path}${RECS_SIDECAR_SUFFIX}`;
  if (!existsSync(sidecarPath)) {
    throw new InputError(
      `${path}: no version recorded (neither a ${MANIFEST_FILE} beside it listing the file nor ${basename(sidecarPath)}); ` +
        'write it with `recsys recommend --all-users` or the pipeline`s recommend step',
    );
  }
  let sidecar: Partial<RecsSidecar>;
  try {
    sidecar = JSON.parse(readFileSync(sidecarPath, 'utf8')) as Partial<RecsSidecar>;
  } catch (err) {
    throw new InputError(`${sidecarPath}: ${(err as Error).message}`);
  }
  if (sidecar.kind !== SIDECAR_KIND || typeof sidecar.version !== 'string' || typeof sidecar.sha256 !== 'string')
    throw new InputError(`${sidecarPath}: not a recommendations sidecar (expected kind, version and sha256)`);
  return { version: sidecar.version, sha256: sidecar.sha256, model: artifactRef(sidecar.model), sidecarPath };
}

function artifactRef(value: unknown): ArtifactRef | null {
  const ref = value as Partial<ArtifactRef> | null | undefined;
  return typeof ref?.name === 'string' && typeof ref.version === 'string' ? { name: ref.name, version: ref.version } : null;
}

/**
 * The recs file's version, after checking that the file is the one its manifest or sidecar
 * describes. Inside an artifact version the whole version is verified against its manifest
 * (artifacts/verify.ts), hashes included, as every load of an artifact is.
 */
export async function verifyRecsFile(path: string): Promise<VerifiedRecsFile> {
  if (!existsSync(path)) throw new InputError(`${path}: file not found`);
  const dir = dirname(path);
  if (existsSync(join(dir, MANIFEST_FILE))) {
    const listed = readManifest(dir).files?.find((f) => f.path === basename(path));
    if (listed) {
      const manifest = await verifyArtifact(dir, { hash: true });
      // A recommend step's artifact has one parent, the model artifact it ran (steps/recommend.ts).
      const model = manifest.lineage.length === 1 ? artifactRef(manifest.lineage[0]) : null;
      return { path, version: manifest.version, artifact: manifest.name, sha256: listed.sha256, model };
    }
  }
  const recorded = sidecarOf(path);
  const sha256 = await sha256File(path);
  if (sha256 !== recorded.sha256)
    throw new InputError(
      `${path}: sha256 ${sha256} differs from ${recorded.sha256} recorded in ${recorded.sidecarPath} (changed after it was written?)`,
    );
  return { path, version: recorded.version, artifact: null, sha256, model: recorded.model };
}

/** Every user's ranked list, as columns sorted by (user, rank); `channel` indexes `channels`. */
export interface RecsLists {
  readonly channels: string[];
  readonly user: Int32Array;
  readonly item: Int32Array;
  readonly score: Float32Array;
  readonly channel: Int32Array;
  /** Row offsets of each user's list: user u's rows are [starts[u], starts[u + 1]). */
  readonly starts: Int32Array;
  /** The longest list (the export's k). */
  readonly k: number;
}

const RECS_COLUMNS = ['user_id', 'item_id', 'rank', 'score', 'channel'];

/**
 * Reads a recs file into typed arrays (about 20 bytes a row: 16M rows for 162k users × 100
 * items is 320 MB), checking what a reader of the cache relies on: ranks 1, 2, ... without
 * gaps within each user, finite scores, no nulls.
 */
export async function readRecsLists(path: string): Promise<RecsLists> {
  const columns = await parquetColumns(path);
  const missing = RECS_COLUMNS.filter((c) => !columns.includes(c));
  if (missing.length > 0) throw new InputError(`${path}: not a recommendations file (no column ${missing.join(', ')})`);
  const channels = (await readRowsParquet(path, 'SELECT DISTINCT CAST(channel AS VARCHAR) AS c FROM src ORDER BY c')).map((r) =>
    String(r.c),
  );
  const channelList = `[${channels.map(quoteString).join(', ')}]`;
  const cols = await readNumericParquet(
    path,
    [
      { name: 'user_id', as: 'int32' },
      { name: 'item_id', as: 'int32' },
      { name: 'rank', as: 'int32' },
      { name: 'score', as: 'float32' },
      { name: 'channel', as: 'int32', expr: `list_position(${channelList}, CAST(channel AS VARCHAR)) - 1` },
    ],
    'ORDER BY user_id, rank',
  );
  const user = cols.user_id as Int32Array;
  // An empty export would publish an empty version: every user would fall back to the live path.
  if (user.length === 0) throw new InputError(`${path}: no recommendations`);
  const rank = cols.rank as Int32Array;
  const score = cols.score as Float32Array;
  const starts: number[] = [];
  let k = 0;
  for (let r = 0; r < user.length; r++) {
    const first = r === 0 || user[r] !== user[r - 1];
    if (first) starts.push(r);
    const expected = first ? 1 : rank[r - 1] + 1;
    if (rank[r] !== expected) throw new InputError(`${path}: user ${user[r]} has rank ${rank[r]} where ${expected} was expected`);
    if (!Number.isFinite(score[r])) throw new InputError(`${path}: user ${user[r]} has the score ${score[r]} at rank ${rank[r]}`);
    k = Math.max(k, rank[r]);
  }
  starts.push(user.length);
  return {
    channels,
    user,
    item: cols.item_id as Int32Array,
    score,
    channel: cols.channel as Int32Array,
    starts: Int32Array.from(starts),
    k,
  };
}
