import { existsSync, lstatSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, normalize } from 'node:path';
import { z } from 'zod';
import { InputError } from '../util/errors.js';
import { sha256File, verifyHashes } from '../util/hash.js';
import {
  artifactNames,
  LATEST,
  latestVersionOf,
  listedPaths,
  MANIFEST_FILE,
  readManifest,
  resolveArtifactDir,
  type ArtifactManifest,
  VERSION_NAME,
} from './store.js';

/**
 * Checks a version against its manifest: every listed file present with the recorded size
 * and (unless `hash: false`) sha256, no file the manifest does not list, and a well-formed
 * file list (a zeroed or garbled hash is refused, not compared). Loading an artifact checks
 * it (`openArtifact`); `RECSYS_VERIFY=size` skips the hashing for files too large to hash on
 * every load. `recsys artifacts verify` checks a version, an artifact or a whole root.
 */
export interface VerifyOptions {
  /** Compare sha256s too (sizes are always compared). */
  readonly hash: boolean;
}

const SHA256 = /^[0-9a-f]{64}$/;

const fileEntry = z.object({
  path: z
    .string()
    .min(1)
    .refine((p) => !isAbsolute(p) && !normalize(p).split(/[\\/]/).includes('..'), 'must be a path inside the version'),
  bytes: z.number().int().nonnegative(),
  sha256: z
    .string()
    .regex(SHA256, 'is not a sha256 (64 hexadecimal digits)')
    .refine((h) => !/^0+$/.test(h), 'is zeroed'),
});

/** What is wrong with the manifest's file list, as one line, or null. */
function fileListProblem(manifestPath: string, files: unknown[]): string | null {
  for (const [i, entry] of files.entries()) {
    const parsed = fileEntry.safeParse(entry);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return `${manifestPath}: files[${i}]${issue.path.map((p) => `.${p}`).join('')} ${issue.message}`;
    }
  }
  const paths = (files as { path: string }[]).map((f) => normalize(f.path));
  const twice = paths.find((p, i) => paths.indexOf(p) !== i);
  return twice === undefined ? null : `${manifestPath}: ${twice} is listed twice`;
}

/** The first problem of the version in `dir`, as one line naming the file, or null when it is intact. */
export async function artifactProblem(dir: string, opts: VerifyOptions): Promise<string | null> {
  return (await checkVersion(dir, opts)).problem;
}

/** The version's manifest, when it could be read, and its first problem. */
async function checkVersion(dir: string, opts: VerifyOptions): Promise<{ manifest: ArtifactManifest | null; problem: string | null }> {
  let manifest: ArtifactManifest;
  try {
    manifest = readManifest(dir);
  } catch (err) {
    return { manifest: null, problem: (err as Error).message };
  }
  return { manifest, problem: await filesProblem(dir, manifest, opts) };
}

async function filesProblem(dir: string, manifest: ArtifactManifest, opts: VerifyOptions): Promise<string | null> {
  const listProblem = fileListProblem(join(dir, MANIFEST_FILE), manifest.files);
  if (listProblem) return listProblem;
  for (const f of manifest.files) {
    const path = join(dir, f.path);
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st?.isFile()) return `${path}: missing (the manifest lists it)`;
    if (st.size !== f.bytes) return `${path}: ${st.size} bytes, the manifest records ${f.bytes}`;
  }
  const listed = new Set(manifest.files.map((f) => normalize(f.path)));
  const extra = listedPaths(dir).find((p) => !listed.has(p));
  if (extra !== undefined) return `${join(dir, extra)}: not in the manifest`;
  if (opts.hash) {
    for (const f of manifest.files) {
      const path = join(dir, f.path);
      if ((await sha256File(path)) !== f.sha256) return `${path}: sha256 differs from the manifest's (the file was changed or corrupted)`;
    }
  }
  return null;
}

/** The verification the environment asks for: sha256 too unless `RECSYS_VERIFY=size`. */
export function defaultVerifyOptions(): VerifyOptions {
  return { hash: verifyHashes() };
}

/** Checks the version in `dir` and returns its manifest; a problem is an InputError naming the file. */
export async function verifyArtifact(dir: string, opts: VerifyOptions = defaultVerifyOptions()): Promise<ArtifactManifest> {
  const { manifest, problem } = await checkVersion(dir, opts);
  if (problem !== null || manifest === null) throw new InputError(problem ?? `${dir}: unreadable manifest`);
  return manifest;
}

/** What a user typed (`artifacts/als/latest`, `artifacts/als`, a version directory), resolved and verified. */
export async function openArtifact(
  path: string,
  opts: VerifyOptions = defaultVerifyOptions(),
): Promise<{ dir: string; manifest: ArtifactManifest }> {
  const dir = resolveArtifactDir(path);
  return { dir, manifest: await verifyArtifact(dir, opts) };
}

export interface VersionCheck {
  /** "NAME/VERSION", or "NAME/latest" for a `latest` that points at no version. */
  readonly label: string;
  readonly dir: string;
  readonly latest: boolean;
  readonly problem: string | null;
}

/** The versions of the artifact folder `parent` (each with a manifest or a broken one), and a dangling `latest`. */
async function checkArtifactFolder(parent: string, opts: VerifyOptions): Promise<VersionCheck[]> {
  const name = basename(parent);
  const latest = latestVersionOf(parent);
  const out: VersionCheck[] = [];
  for (const version of readdirSync(parent).sort()) {
    const dir = join(parent, version);
    const hasManifest = existsSync(join(dir, MANIFEST_FILE));
    if (version === LATEST || version.startsWith('.') || !lstatSync(dir).isDirectory() || !(hasManifest || VERSION_NAME.test(version)))
      continue;
    const problem = hasManifest ? await artifactProblem(dir, opts) : `${dir}: no ${MANIFEST_FILE}`;
    out.push({ label: `${name}/${version}`, dir, latest: version === latest, problem });
  }
  if (latest !== null && !out.some((c) => c.latest)) {
    out.push({
      label: `${name}/${LATEST}`,
      dir: join(parent, LATEST),
      latest: true,
      problem: `${join(parent, LATEST)}: points at ${latest}, which does not exist`,
    });
  }
  return out;
}

/**
 * Checks every version `path` holds: `path` is a version directory (or a `latest` link), an
 * artifact folder (all its versions) or an artifact root (every name, every version).
 */
export async function verifyTree(path: string, opts: VerifyOptions): Promise<VersionCheck[]> {
  if (!existsSync(path)) throw new InputError(`${path}: no such file or directory`);
  if (existsSync(join(path, MANIFEST_FILE))) {
    const dir = resolveArtifactDir(path);
    const parent = dirname(dir);
    return [
      {
        label: `${basename(parent)}/${basename(dir)}`,
        dir,
        latest: latestVersionOf(parent) === basename(dir),
        problem: await artifactProblem(dir, opts),
      },
    ];
  }
  if (lstatSync(join(path, LATEST), { throwIfNoEntry: false })?.isSymbolicLink()) return checkArtifactFolder(path, opts);
  const checks: VersionCheck[] = [];
  // Other folders of a root (mlruns, logs) hold no versions and give no rows.
  for (const name of artifactNames(path)) checks.push(...(await checkArtifactFolder(join(path, name), opts)));
  return checks;
}
