import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { RecsysError } from '../util/errors.js';
import { makeDirs, processAlive, tempPathFor } from '../util/fs.js';
import { log } from '../util/log.js';

/**
 * One pipeline run (or gc/promote) at a time per artifact root: `<root>/.lock` holds the
 * owner's pid, host, start time and command. It is created complete and atomically (written
 * under a temporary name, then hard-linked into place, which fails if a lock exists). A lock
 * whose process is dead (same host) is taken over with a message; a live one is an error
 * naming its pid (exit code 1).
 */
export const LOCK_FILE = '.lock';

/** The lock is held by a live process (`holder`). */
export class RootLockedError extends RecsysError {
  constructor(
    message: string,
    readonly holder: LockOwner,
  ) {
    super(message);
  }
}

export interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly started_at: string;
  readonly command: string;
}

export interface RootLock {
  readonly path: string;
  readonly owner: LockOwner;
  /** Removes the lock if it is still ours; safe to call twice. */
  release(): void;
}

function readOwner(path: string): LockOwner | null {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
    return Number.isInteger(o.pid) ? o : null;
  } catch {
    return null;
  }
}

function sameOwner(a: LockOwner | null, b: LockOwner | null): boolean {
  return a !== null && b !== null && a.pid === b.pid && a.host === b.host && a.started_at === b.started_at;
}

function describe(o: LockOwner): string {
  return `pid ${o.pid} on ${o.host}, started ${o.started_at} (${o.command})`;
}

/** Places the lock file; false if one exists. */
function tryCreate(path: string, owner: LockOwner): boolean {
  const tmp = tempPathFor(path);
  writeFileSync(tmp, `${JSON.stringify(owner)}\n`);
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * Moves a dead owner's lock aside, then checks it moved the lock it judged stale (another
 * process may have taken it over meanwhile); if not, puts that lock back.
 */
function takeOver(path: string, stale: LockOwner | null): boolean {
  const aside = tempPathFor(path);
  try {
    renameSync(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
  const moved = readOwner(aside);
  if (sameOwner(moved, stale) || (stale === null && moved === null)) {
    rmSync(aside, { force: true });
    return true;
  }
  try {
    linkSync(aside, path);
  } catch {
    // someone else holds a new lock now; theirs stands
  }
  rmSync(aside, { force: true });
  return false;
}

export function acquireRootLock(root: string, command: string): RootLock {
  makeDirs(root);
  const path = join(root, LOCK_FILE);
  const owner: LockOwner = { pid: process.pid, host: hostname(), started_at: new Date().toISOString(), command };
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryCreate(path, owner)) return lockHandle(path, owner);
    const held = readOwner(path);
    const dead = held === null || (held.host === owner.host && held.pid !== process.pid && !processAlive(held.pid));
    if (!dead) {
      throw new RootLockedError(
        `${path}: another run holds the artifact root: ${describe(held)}. Wait for it to finish` +
          (held.host === owner.host ? '' : `, or, if that process is gone from ${held.host}, delete the lock file`),
        held,
      );
    }
    if (takeOver(path, held)) {
      log.warn(
        held
          ? `took over a stale lock of ${describe(held)}: that process is no longer running`
          : `replaced an unreadable lock file ${path}`,
      );
    }
  }
  throw new RecsysError(`${path}: could not take the lock (other processes keep taking it)`);
}

function lockHandle(path: string, owner: LockOwner): RootLock {
  let released = false;
  return {
    path,
    owner,
    release() {
      if (released) return;
      released = true;
      if (sameOwner(readOwner(path), owner)) rmSync(path, { force: true });
    },
  };
}
