import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { InputError } from '../util/errors.js';
import { cleanStaleTemps, isTempName, makeDirs, tempPathFor, writeJsonAtomic } from '../util/fs.js';
import type { OutputKind } from '../util/output.js';
import { sha256File } from '../util/hash.js';
import { log } from '../util/log.js';
import { recsysVersion } from '../util/version.js';

/**
 * Versioned artifact directories: `<root>/<name>/<version>/` holding a model's files and a
 * manifest.json. A version is built under a temporary name and renamed when complete;
 * `<root>/<name>/latest` (a symlink) moves only after that, so a crash or kill never leaves
 * a half-written version or a `latest` pointing at one.
 */
export const MANIFEST_FILE = 'manifest.json';
export const METRICS_FILE = 'metrics.json';
export const LATEST = 'latest';

export interface ArtifactFile {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface ArtifactRef {
  readonly name: string;
  readonly version: string;
}

export interface ArtifactManifest {
  readonly name: string;
  readonly version: string;
  /** What the artifact holds: a model kind ("popularity", "als", ...), "index", "ranker", ... */
  readonly kind: string;
  readonly created_at: string;
  readonly git_commit: string | null;
  readonly command: string[];
  readonly config: Record<string, unknown>;
  readonly seed?: number;
  readonly dataset?: { readonly dir: string; readonly interactions_sha256: string };
  readonly split?: Record<string, unknown>;
  /** Artifacts this one was built from. */
  readonly lineage: ArtifactRef[];
  readonly libraries: Record<string, string>;
  /** Evaluation results keyed by protocol label, e.g. "temporal-user frac=0.8". */
  metrics: Record<string, Record<string, number>>;
  files: ArtifactFile[];
  /** Step-specific facts worth keeping (training log, index build report, backend, ...). */
  readonly details?: Record<string, unknown>;
}

/** What the caller of `createArtifact` provides; the rest is filled in. */
export interface ManifestFields {
  readonly kind: string;
  readonly config: Record<string, unknown>;
  readonly seed?: number;
  readonly dataset?: ArtifactManifest['dataset'];
  readonly split?: Record<string, unknown>;
  readonly lineage?: ArtifactRef[];
  readonly command?: string[];
  readonly metrics?: ArtifactManifest['metrics'];
  readonly details?: Record<string, unknown>;
}

let gitCommitCache: string | null | undefined;

export function gitCommit(): string | null {
  if (gitCommitCache === undefined) {
    try {
      gitCommitCache = execFileSync('git', ['rev-parse', 'HEAD'], {
        cwd: dirname(new URL(import.meta.url).pathname),
        stdio: ['ignore', 'pipe', 'ignore'],
      })
        .toString()
        .trim();
    } catch {
      gitCommitCache = null;
    }
  }
  return gitCommitCache;
}

function libraryVersions(): Record<string, string> {
  return { node: process.version, recsys: recsysVersion() };
}

/** Sortable, unique version names: UTC time to the millisecond plus the process id. */
export function newVersionName(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('.', '');
  return `${stamp}-${process.pid}`;
}

/** Every file under `dir` (relative paths, sorted) with size and sha256. */
export async function describeFiles(dir: string): Promise<ArtifactFile[]> {
  const out: ArtifactFile[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) await walk(p);
      else if (name !== MANIFEST_FILE) out.push({ path: relative(dir, p), bytes: st.size, sha256: await sha256File(p) });
    }
  };
  await walk(dir);
  return out;
}

export interface CreatedArtifact {
  readonly dir: string;
  readonly manifest: ArtifactManifest;
}

/**
 * Builds a new version of artifact `name` under `root`: `build` writes files into a
 * temporary directory; then the manifest is written, the directory renamed into place and
 * `latest` moved to it. On error nothing is left behind and `latest` is untouched.
 */
export async function createArtifact(
  root: string,
  name: string,
  fields: ManifestFields,
  build: (dir: string) => Promise<void>,
): Promise<CreatedArtifact> {
  const parent = join(root, name);
  makeDirs(parent);
  for (const removed of cleanStaleTemps(parent))
    log.info(`removed unfinished artifact ${join(parent, removed)} (left by a process that died)`);
  const version = newVersionName();
  const finalDir = join(parent, version);
  const tmp = tempPathFor(finalDir);
  mkdirSync(tmp);
  try {
    await build(tmp);
    const manifest: ArtifactManifest = {
      name,
      version,
      created_at: new Date().toISOString(),
      git_commit: gitCommit(),
      command: fields.command ?? process.argv.slice(1),
      lineage: fields.lineage ?? [],
      libraries: libraryVersions(),
      ...fields,
      metrics: fields.metrics ?? {},
      files: await describeFiles(tmp),
    };
    writeJsonAtomic(join(tmp, MANIFEST_FILE), manifest);
    renameSync(tmp, finalDir);
    pointLatest(parent, version);
    log.event('artifact.created', { name, version, dir: finalDir });
    return { dir: finalDir, manifest };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/**
 * An artifact folder (`<root>/<name>`) as an output (util/output.ts): versions are added to
 * it, so it may hold only versions, `latest` and unfinished versions.
 */
export const ARTIFACT_FOLDER_OUTPUT: OutputKind = {
  what: 'artifact folder',
  type: 'directory',
  notOurs(path) {
    const foreign = readdirSync(path).find((n) => n !== LATEST && !isTempName(n) && !existsSync(join(path, n, MANIFEST_FILE)));
    return foreign === undefined ? null : `it holds ${foreign}, which is not an artifact version`;
  },
};

/** An artifact root as an output: artifact folders, logs and the lock are added to any directory. */
export const ARTIFACT_ROOT_OUTPUT: OutputKind = { what: 'artifact root', type: 'directory', notOurs: () => null };

/** Atomically points `<parent>/latest` at `version` (a new symlink renamed over the old). */
export function pointLatest(parent: string, version: string): void {
  if (!existsSync(join(parent, version, MANIFEST_FILE))) throw new InputError(`${join(parent, version)}: not a complete artifact version`);
  const tmpLink = tempPathFor(join(parent, LATEST));
  symlinkSync(version, tmpLink);
  renameSync(tmpLink, join(parent, LATEST));
}

/**
 * Resolves what a user typed (`artifacts/als/latest`, `artifacts/als`, a version directory)
 * to a complete version directory.
 */
export function resolveArtifactDir(path: string): string {
  let dir = path;
  if (existsSync(join(dir, LATEST)) && !existsSync(join(dir, MANIFEST_FILE))) dir = join(dir, LATEST);
  if (!existsSync(join(dir, MANIFEST_FILE))) {
    throw new InputError(`${path}: not an artifact (no ${MANIFEST_FILE}); train one with \`recsys train\``);
  }
  return realpathSync(dir);
}

export function readManifest(dir: string): ArtifactManifest {
  const path = join(dir, MANIFEST_FILE);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ArtifactManifest;
  } catch (err) {
    throw new InputError(`${path}: ${(err as Error).message}`);
  }
}

/**
 * Records evaluation results in a version: metrics.json (all protocols evaluated so far)
 * and the manifest's `metrics`, each replaced atomically.
 */
export function recordMetrics(dir: string, protocol: string, metrics: Record<string, number>): void {
  const manifest = readManifest(dir);
  manifest.metrics = { ...manifest.metrics, [protocol]: metrics };
  writeJsonAtomic(join(dir, METRICS_FILE), manifest.metrics);
  writeJsonAtomic(join(dir, MANIFEST_FILE), manifest);
}

export interface ArtifactListing {
  readonly name: string;
  readonly version: string;
  readonly dir: string;
  readonly latest: boolean;
  readonly manifest: ArtifactManifest;
}

/** All complete versions under `root`, by name then version (oldest first). */
export function listArtifacts(root: string): ArtifactListing[] {
  if (!existsSync(root)) return [];
  const out: ArtifactListing[] = [];
  for (const name of readdirSync(root).sort()) {
    const parent = join(root, name);
    if (!lstatSync(parent).isDirectory() || name.startsWith('.')) continue;
    const latestLink = join(parent, LATEST);
    const latest = existsSync(latestLink) && lstatSync(latestLink).isSymbolicLink() ? basename(readlinkSync(latestLink)) : null;
    for (const version of readdirSync(parent).sort()) {
      const dir = join(parent, version);
      if (version === LATEST || version.startsWith('.') || !existsSync(join(dir, MANIFEST_FILE))) continue;
      out.push({ name, version, dir, latest: version === latest, manifest: readManifest(dir) });
    }
  }
  return out;
}
