import { existsSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../util/errors.js';
import { cleanStaleTemps, cleanTemps } from '../util/fs.js';
import { log } from '../util/log.js';
import { claimOutput, type ClaimOptions, type OutputKind } from '../util/output.js';
import { onInterrupt } from './interrupt.js';
import { acquireRootLock, LOCK_FILE, RootLockedError, type RootLock } from './lock.js';

/**
 * What a standalone writing command (`recsys data import|synth`, `split`, `train`, `index`,
 * `recommend --all-users`, `eval --dump-recs`) runs under:
 * - its output is claimed (util/output.ts) before any work: exit 2 naming the path otherwise;
 * - an artifact root it writes under is locked, with the lock pipeline runs take
 *   (pipeline/lock.ts): while a pipeline holds it the command is refused (exit 2, naming the
 *   holder), and no pipeline starts while the command writes;
 * - SIGINT/SIGTERM remove this process's temporary files beside and inside the output (a
 *   version being built, a GBDT engine's work folder) and release the lock (exit 130/143);
 *   what a killed process left there (SIGKILL, a crash) is removed when the next one starts.
 */
export interface StandaloneOutput extends ClaimOptions {
  /** The output path: a file or a directory. */
  readonly out: string;
  readonly kind: OutputKind;
  /** The artifact root the command writes under (`train`, `index`): locked, created if absent. */
  readonly root?: string;
}

export async function withStandaloneOutput<T>(o: StandaloneOutput, body: () => Promise<T>): Promise<T> {
  claimOutput(o.out, o.kind, o);
  // A root this command creates only to hold its lock goes again if the command leaves it empty.
  const createdRoot = o.root !== undefined && !existsSync(o.root) ? o.root : null;
  const lock = lockOutput(o.out, o.root);
  for (const { dir, name } of tempHomes(o.out)) {
    for (const left of cleanStaleTemps(dir, name))
      log.info(`removed unfinished output ${join(dir, left)} (left by a process that was killed)`);
  }
  const removeHandlers = onInterrupt(async () => {
    for (const { dir } of tempHomes(o.out)) cleanTemps(dir, (pid) => pid === process.pid);
    lock?.release();
  });
  try {
    return await body();
  } finally {
    removeHandlers();
    lock?.release();
    if (createdRoot && readdirSync(createdRoot).length === 0) rmdirSync(createdRoot);
  }
}

/**
 * Where the command's temporary files live: beside the output (there only those named after
 * it are the command's kind), and inside it when it is a folder (a claimed output: all ours).
 */
function tempHomes(out: string): { dir: string; name?: string }[] {
  const homes = [{ dir: dirname(resolve(out)), name: basename(resolve(out)) }, { dir: out }];
  return homes.filter(({ dir }) => existsSync(dir) && statSync(dir).isDirectory());
}

/**
 * The lock of the artifact root `out` lies under: the nearest directory from `out` up that
 * holds a lock file, else `root` when given; null when there is none to take.
 */
function lockOutput(out: string, root: string | undefined): RootLock | null {
  let at = root;
  for (let d = resolve(out); dirname(d) !== d; d = dirname(d)) {
    if (existsSync(join(d, LOCK_FILE))) {
      at = d;
      break;
    }
  }
  if (at === undefined) return null;
  try {
    return acquireRootLock(at, `recsys ${process.argv.slice(2).join(' ')}`);
  } catch (err) {
    if (err instanceof RootLockedError) throw new InputError(`refusing to write ${out}: ${err.message}`);
    throw err;
  }
}
