import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * Temporary names are `.<final-name>.tmp-<pid>-<random>` in the same folder, so the final
 * rename is atomic (same file system) and a crashed run's leftovers are easy to find and clean.
 */
export function tempPathFor(finalPath: string): string {
  const rand = Math.random().toString(36).slice(2, 10);
  return join(dirname(finalPath), `.${basename(finalPath)}.tmp-${process.pid}-${rand}`);
}

export function isTempName(name: string): boolean {
  return /^\..+\.tmp-\d+-[a-z0-9]+$/.test(name);
}

/**
 * `mkdir -p` that fails rather than loops: Node 20's recursive mkdirSync retries forever where
 * the file system answers ENOENT for a parent that exists (`/proc/x`, `/sys/x`).
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d) && dirname(d) !== d; d = dirname(d)) missing.push(d);
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** Makes `path` with `write` under a temporary name beside it, then renames it into place. */
function writeThroughTemp(path: string, write: (tmp: string) => void): void {
  const tmp = tempPathFor(path);
  try {
    write(tmp);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Writes a file under a temporary name, then renames it into place. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  makeDirs(dirname(path));
  writeThroughTemp(path, (tmp) => writeFileSync(tmp, data));
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Renames a file; across file systems (EXDEV: e.g. the artifact root on tmpfs, the dataset on
 * disk) copies it to a temporary name beside `to`, renames that into place and removes `from`.
 */
export function moveFile(from: string, to: string): void {
  try {
    renameSync(from, to);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
  }
  writeThroughTemp(to, (tmp) => copyFileSync(from, tmp));
  rmSync(from, { force: true });
}

/**
 * Removes temporary leftovers (see `tempPathFor`) of processes that are no longer running;
 * with `finalName`, only the temporaries of that name.
 */
export function cleanStaleTemps(dir: string, finalName?: string): string[] {
  return cleanTemps(dir, (pid) => pid !== process.pid && !processAlive(pid), finalName);
}

/** Removes the temporary entries in `dir` (of `finalName`, if given) whose owner process id satisfies `owned`; returns their names. */
export function cleanTemps(dir: string, owned: (pid: number) => boolean, finalName?: string): string[] {
  if (!existsSync(dir)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    const m = /\.tmp-(\d+)-[a-z0-9]+$/.exec(name);
    if (!m || !isTempName(name) || (finalName !== undefined && !name.startsWith(`.${finalName}.tmp-`))) continue;
    if (owned(Number(m[1]))) {
      rmSync(join(dir, name), { recursive: true, force: true });
      removed.push(name);
    }
  }
  return removed;
}

/** Whether process `pid` runs. A zombie (dead, not yet reaped by its parent) does not: it will never end its work. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/** Linux: the state field of /proc/<pid>/stat is Z; elsewhere (no /proc) not known, so false. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}
