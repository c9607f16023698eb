import { mkdirSync, renameSync, rmSync, writeFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

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

/** Writes a file under a temporary name, then renames it into place. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Builds a directory under a temporary name and renames it to `finalDir` only when `build`
 * succeeds. An existing `finalDir` is replaced only after the new one is complete.
 */
export async function withAtomicDir<T>(finalDir: string, build: (tmpDir: string) => Promise<T>): Promise<T> {
  mkdirSync(dirname(finalDir), { recursive: true });
  const tmp = tempPathFor(finalDir);
  mkdirSync(tmp, { recursive: true });
  try {
    const result = await build(tmp);
    if (existsSync(finalDir)) {
      const old = tempPathFor(finalDir);
      renameSync(finalDir, old);
      renameSync(tmp, finalDir);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, finalDir);
    }
    return result;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Removes temporary leftovers (see `tempPathFor`) of processes that are no longer running. */
export function cleanStaleTemps(dir: string): string[] {
  return cleanTemps(dir, (pid) => pid !== process.pid && !processAlive(pid));
}

/** Removes the temporary entries in `dir` whose owner process id satisfies `owned`; returns their names. */
export function cleanTemps(dir: string, owned: (pid: number) => boolean): string[] {
  if (!existsSync(dir)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    const m = /\.tmp-(\d+)-[a-z0-9]+$/.exec(name);
    if (!m || !isTempName(name)) continue;
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
