import { existsSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../util/errors.js';
import { cleanStaleTemps, tempPathFor } from '../util/fs.js';
import { log } from '../util/log.js';
import {
  artifactNames,
  LATEST,
  latestVersionOf,
  MANIFEST_FILE,
  pointLatest,
  scanArtifacts,
  type ArtifactListing,
  type ArtifactRef,
  type BrokenVersion,
} from './store.js';
import { defaultVerifyOptions, verifyArtifact, type VerifyOptions } from './verify.js';

/**
 * `recsys artifacts gc --keep N` and `promote`. Run them under the artifact root's lock
 * (pipeline/lock.ts) so they never race a pipeline run.
 */

function refKey(r: ArtifactRef): string {
  return `${r.name}/${r.version}`;
}

/** The version `previous_latest` a pipeline recorded: the baseline of regression gates. */
function baselineOf(a: ArtifactListing): ArtifactRef | null {
  const previous = (a.manifest.details?.pipeline as { previous_latest?: unknown } | undefined)?.previous_latest;
  return typeof previous === 'string' ? { name: a.name, version: previous } : null;
}

export interface GcPlan {
  readonly keep: ArtifactListing[];
  readonly remove: ArtifactListing[];
  /** Versions whose manifest cannot be read: never removed (what they were built from is unknown), reported. */
  readonly broken: BrokenVersion[];
}

/**
 * Keeps, per artifact name, the `keep` newest versions and the one `latest` points at, plus
 * the regression baseline of each `latest`, plus everything a kept version was built from
 * (its lineage, followed transitively). Everything else is removed.
 */
export function planGc(root: string, keep: number): GcPlan {
  if (!Number.isInteger(keep) || keep < 0) throw new InputError(`--keep must be an integer ≥ 0, got ${keep}`);
  const { versions: all, broken } = scanArtifacts(root);
  const byKey = new Map(all.map((a) => [refKey(a), a]));
  const kept = new Set<string>();
  const pending: ArtifactRef[] = [];
  const mark = (r: ArtifactRef | null): void => {
    if (r && byKey.has(refKey(r)) && !kept.has(refKey(r))) {
      kept.add(refKey(r));
      pending.push(r);
    }
  };
  const names = [...new Set(all.map((a) => a.name))];
  for (const name of names) {
    const versions = all.filter((a) => a.name === name); // oldest first
    versions.slice(Math.max(0, versions.length - keep)).forEach(mark);
    const latest = versions.find((a) => a.latest);
    if (latest) {
      mark(latest);
      mark(baselineOf(latest));
    }
  }
  for (let r = pending.pop(); r; r = pending.pop()) {
    for (const dep of byKey.get(refKey(r))?.manifest.lineage ?? []) mark(dep);
  }
  return { keep: all.filter((a) => kept.has(refKey(a))), remove: all.filter((a) => !kept.has(refKey(a))), broken };
}

/** Removes what `planGc` does not keep (and temporary leftovers of dead processes). */
export function collectGarbage(root: string, keep: number): GcPlan {
  const plan = planGc(root, keep);
  for (const a of plan.remove) {
    // Renamed first, so a version is never seen half-deleted; a leftover is cleaned next time.
    const doomed = tempPathFor(a.dir);
    renameSync(a.dir, doomed);
    rmSync(doomed, { recursive: true, force: true });
    log.event('artifact.removed', { name: a.name, version: a.version });
  }
  for (const name of new Set(plan.keep.map((a) => a.name))) cleanStaleTemps(join(root, name));
  return plan;
}

export interface Promotion {
  readonly name: string;
  readonly from: string | null;
  readonly to: string;
  readonly dir: string;
}

/**
 * Resolves `NAME/VERSION`, a version directory, or a bare version name (unique under `root`)
 * to an artifact version.
 */
export function findVersion(root: string, spec: string): ArtifactRef & { root: string } {
  const asDir = resolve(spec);
  if (existsSync(join(asDir, MANIFEST_FILE)) && basename(asDir) !== LATEST) {
    return { root: dirname(dirname(asDir)), name: basename(dirname(asDir)), version: basename(asDir) };
  }
  const [name, version] = spec.includes('/') ? [dirname(spec), basename(spec)] : [null, spec];
  // Looked up by path, not by reading every manifest: another version's broken manifest does not matter here.
  const found =
    version === LATEST
      ? []
      : (name === null ? artifactNames(root) : [name]).filter((n) => existsSync(join(root, n, version, MANIFEST_FILE)));
  if (found.length === 0) throw new InputError(`${spec}: no such complete artifact version under ${root} (see \`recsys artifacts list\`)`);
  if (found.length > 1) throw new InputError(`${spec}: several artifacts have this version (${found.join(', ')}); write NAME/VERSION`);
  return { root, name: found[0], version };
}

/** Points `latest` of the version's artifact at it (atomically), once the version is checked against its manifest. */
export async function promote(root: string, spec: string, verify: VerifyOptions = defaultVerifyOptions()): Promise<Promotion> {
  const v = findVersion(root, spec);
  const parent = join(v.root, v.name);
  await verifyArtifact(join(parent, v.version), verify);
  const from = latestVersionOf(parent);
  pointLatest(parent, v.version);
  log.event('artifact.promoted', { name: v.name, from, to: v.version });
  return { name: v.name, from, to: v.version, dir: join(parent, v.version) };
}
