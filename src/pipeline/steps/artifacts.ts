import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { LATEST, MANIFEST_FILE, readManifest, type ArtifactManifest, type ArtifactRef } from '../../artifacts/store.js';
import { InputError } from '../../util/errors.js';
import { log } from '../../util/log.js';
import { hashJson } from '../../util/hash.js';
import type { UnitState } from './step.js';

/** What the runner records in a manifest's `details.pipeline`. */
export interface PipelineDetails {
  readonly pipeline: string;
  readonly file: string;
  readonly step: number;
  readonly unit: string;
  readonly fingerprint: string;
  /** The version `latest` pointed at before this one: the baseline of `max_drop` gates. */
  readonly previous_latest: string | null;
}

export function pipelineDetails(manifest: ArtifactManifest): PipelineDetails | null {
  const d = manifest.details?.pipeline;
  return d && typeof d === 'object' ? (d as PipelineDetails) : null;
}

export interface LatestArtifact {
  readonly dir: string;
  readonly manifest: ArtifactManifest;
  readonly ref: ArtifactRef;
}

/** The version `<root>/<name>/latest` points at, or null. */
export function latestArtifact(root: string, name: string): LatestArtifact | null {
  const link = join(root, name, LATEST);
  if (!existsSync(join(link, MANIFEST_FILE))) return null;
  const dir = realpathSync(link);
  const manifest = readManifest(dir);
  return { dir, manifest, ref: { name, version: manifest.version } };
}

/** The latest version of an input artifact; its absence names the step that makes it. */
export function requireLatest(root: string, name: string, madeBy: string): LatestArtifact {
  const found = latestArtifact(root, name);
  if (!found) throw new InputError(`${join(root, name)}: no artifact yet; it is made by ${madeBy}, run \`recsys train --pipeline\` first`);
  return found;
}

/** The state of a unit's output; a latest version whose manifest cannot be read counts as none (the unit runs again). */
export function latestState(root: string, name: string): UnitState | null {
  let found: LatestArtifact | null;
  try {
    found = latestArtifact(root, name);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    log.warn(`${err.message}; the step runs again (the broken version is left as it is)`, { event: 'artifact.broken' });
    return null;
  }
  if (!found) return null;
  return { dir: found.dir, version: found.manifest.version, fingerprint: pipelineDetails(found.manifest)?.fingerprint ?? null };
}

/** Content identity of an artifact: the sha256 of every file, not its version name. */
export function contentHash(manifest: ArtifactManifest): string {
  return hashJson(manifest.files.map((f) => [f.path, f.sha256]));
}
