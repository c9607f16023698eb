import { execFileSync } from 'node:child_process';
import { userInfo } from 'node:os';
import { basename } from 'node:path';

/**
 * The tags MLflow's own clients set on every run (mlflow/utils/mlflow_tags.py), so the MLflow
 * UI shows user, source and commit the usual way.
 */
export const TAG_RUN_NAME = 'mlflow.runName';
export const TAG_USER = 'mlflow.user';
export const TAG_SOURCE_NAME = 'mlflow.source.name';
export const TAG_SOURCE_TYPE = 'mlflow.source.type';
export const TAG_GIT_COMMIT = 'mlflow.source.git.commit';

export function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

/** HEAD of the git work tree at `cwd`, or null outside one (or without git). */
export function gitCommit(cwd: string = process.cwd()): string | null {
  try {
    const out = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
    const sha = out.toString().trim();
    return /^[0-9a-f]{40,64}$/.test(sha) ? sha : null;
  } catch {
    return null;
  }
}

let cachedCommit: string | null | undefined;

/** Standard source tags of a run started by this process (the git commit is looked up once). */
export function systemTags(): Record<string, string> {
  if (cachedCommit === undefined) cachedCommit = gitCommit();
  const tags: Record<string, string> = {
    [TAG_USER]: currentUser(),
    [TAG_SOURCE_NAME]: basename(process.argv[1] ?? 'recsys'),
    [TAG_SOURCE_TYPE]: 'LOCAL',
  };
  if (cachedCommit) tags[TAG_GIT_COMMIT] = cachedCommit;
  return tags;
}

/** All tags a new run starts with: the standard ones, the caller's, and its name. */
export function runTags(options: { runName: string; tags?: Record<string, string> }): Record<string, string> {
  return { ...systemTags(), ...options.tags, [TAG_RUN_NAME]: options.runName };
}
