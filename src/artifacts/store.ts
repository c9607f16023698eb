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
import { reachPhase } from '../util/phase.js';
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
/** The structured log of the pipeline step that made a version. */
export const RUN_LOG_FILE = 'run.log.jsonl';

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

/** What `newVersionName` makes, e.g. 20261201T163320016Z-11302. */
export const VERSION_NAME = /^\d{8}T\d{9}Z-\d+$/;

/** Sortable, unique version names: UTC time to the millisecond plus the process id. */
export function newVersionName(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('.', '');
  return `${stamp}-${process.pid}`;
}

/**
 * Files of a version the manifest does not list: the manifest itself, and metrics.json, which
 * evaluating the version later rewrites (its content is the manifest's `metrics`).
 */
export const UNLISTED_FILES: ReadonlySet<string> = new Set([MANIFEST_FILE, METRICS_FILE]);

/** The relative paths of the files under `dir` a manifest lists, sorted. */
export function listedPaths(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (!(d === dir && UNLISTED_FILES.has(name))) out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out;
}

/** Every file under `dir` a manifest lists (relative paths, sorted) with size and sha256, except those in `except`. */
export async function describeFiles(dir: string, except: ReadonlySet<string> = new Set()): Promise<ArtifactFile[]> {
  const out: ArtifactFile[] = [];
  for (const path of listedPaths(dir)) {
    if (except.has(path)) continue;
    const p = join(dir, path);
    out.push({ path, bytes: statSync(p).size, sha256: await sha256File(p) });
  }
  return out;
}

export interface CreatedArtifact {
  readonly dir: string;
  readonly manifest: ArtifactManifest;
}

export interface CreateOptions {
  /**
   * Runs on the version once its files, metrics.json and manifest are written, before it is
   * renamed into place and `latest` moves (e.g. evaluate it, move the step's log into it).
   * Files it adds are described into the manifest; metrics it records are kept.
   */
  readonly finish?: (dir: string) => Promise<void>;
}

/**
 * Builds a new version of artifact `name` under `root`: `build` writes files into a
 * temporary directory; then metrics.json and the manifest are written, `finish` runs, the
 * directory is renamed into place and, last, `latest` moved to it. On error nothing is left
 * behind and `latest` is untouched; a kill at any point leaves `latest` on a complete version.
 */
export async function createArtifact(
  root: string,
  name: string,
  fields: ManifestFields,
  build: (dir: string) => Promise<void>,
  options: CreateOptions = {},
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
    if (fields.metrics && Object.keys(fields.metrics).length > 0) writeJsonAtomic(join(tmp, METRICS_FILE), fields.metrics);
    await reachPhase('artifact.built', name);
    let manifest: ArtifactManifest = {
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
    if (options.finish) {
      await options.finish(tmp);
      // Re-read: `finish` may have recorded metrics; files it added are hashed, the others were.
      const finished = readManifest(tmp);
      const described = new Set(finished.files.map((f) => f.path));
      manifest = { ...finished, files: [...finished.files, ...(await describeFiles(tmp, described))].sort(byPath) };
      writeJsonAtomic(join(tmp, MANIFEST_FILE), manifest);
    }
    await reachPhase('artifact.complete', name);
    renameSync(tmp, finalDir);
    await reachPhase('artifact.renamed', name);
    pointLatest(parent, version);
    log.event('artifact.created', { name, version, dir: finalDir });
    await reachPhase('artifact.latest', name);
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

function byPath(a: ArtifactFile, b: ArtifactFile): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

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
  let manifest: unknown;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new InputError(`${path}: ${(err as Error).message}`);
  }
  const m = manifest as Partial<ArtifactManifest> | null;
  if (typeof m !== 'object' || m === null || !Array.isArray(m.files) || typeof m.metrics !== 'object' || m.metrics === null) {
    throw new InputError(`${path}: not an artifact manifest (no "files" list or "metrics")`);
  }
  return m as ArtifactManifest;
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

/** A version whose manifest cannot be read: listed apart, never used, never removed by gc. */
export interface BrokenVersion {
  readonly name: string;
  readonly version: string;
  readonly dir: string;
  /** One line naming the file and what is wrong. */
  readonly problem: string;
}

export interface ArtifactScan {
  readonly versions: ArtifactListing[];
  readonly broken: BrokenVersion[];
}

/** The artifact names under `root` (folders, not hidden ones). */
export function artifactNames(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .sort()
    .filter((name) => !name.startsWith('.') && lstatSync(join(root, name)).isDirectory());
}

/** The version `<parent>/latest` points at, or null. */
export function latestVersionOf(parent: string): string | null {
  const link = join(parent, LATEST);
  return existsSync(link) && lstatSync(link).isSymbolicLink() ? basename(readlinkSync(link)) : null;
}

/** Every version under `root` with a manifest, by name then version (oldest first); unreadable manifests apart. */
export function scanArtifacts(root: string): ArtifactScan {
  const versions: ArtifactListing[] = [];
  const broken: BrokenVersion[] = [];
  for (const name of artifactNames(root)) {
    const parent = join(root, name);
    const latest = latestVersionOf(parent);
    for (const version of readdirSync(parent).sort()) {
      const dir = join(parent, version);
      if (version === LATEST || version.startsWith('.') || !existsSync(join(dir, MANIFEST_FILE))) continue;
      try {
        versions.push({ name, version, dir, latest: version === latest, manifest: readManifest(dir) });
      } catch (err) {
        broken.push({ name, version, dir, problem: (err as Error).message });
      }
    }
  }
  return { versions, broken };
}

/**
 * All complete versions under `root`, by name then version (oldest first). A version whose
 * manifest cannot be read is reported (a warning naming it) and skipped: one broken version
 * does not hide the others.
 */
export function listArtifacts(root: string): ArtifactListing[] {
  const { versions, broken } = scanArtifacts(root);
  for (const b of broken) {
    log.warn(`${b.problem}; version ${b.name}/${b.version} skipped and left as it is (see \`recsys artifacts verify\`)`, {
      event: 'artifact.broken',
      dir: b.dir,
    });
  }
  return versions;
}
