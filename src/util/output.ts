import {
  closeSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { InputError } from './errors.js';
import { isTempName, makeDirs, tempPathFor } from './fs.js';

/**
 * Claiming an output path: no command destroys what it did not create. A path is written only
 * when it is absent, an empty directory, or holds a previous output of the same kind (each
 * kind recognises its own: a dataset directory by dataset.json and its files, a Parquet file of
 * recommendations by its magic bytes and columns, ...). Anything else, an output that is, lies
 * inside or contains an input, and a place where nothing can be created, is an InputError
 * (exit 2) naming the path, raised before any work and before anything is touched.
 */
export interface OutputKind {
  /** For messages: "dataset directory". */
  readonly what: string;
  readonly type: 'directory' | 'file';
  /**
   * Why the existing, non-empty `path` (of the right type) is not a previous output of this
   * kind, or null when it is one (and may be replaced or added to).
   */
  notOurs(path: string): string | null;
}

/**
 * A directory kind recognised by its marker file that holds only the listed entries (and
 * temporary names of unfinished writes): a file the user put there is never deleted with it.
 */
export function directoryKind(what: string, marker: string, entries: readonly string[]): OutputKind {
  const known = new Set([marker, ...entries]);
  return {
    what,
    type: 'directory',
    notOurs(path) {
      const names = readdirSync(path);
      if (!names.includes(marker)) return `it has no ${marker}`;
      const foreign = names.find((n) => !known.has(n) && !isTempName(n));
      return foreign === undefined ? null : `it holds ${foreign}, which a ${what} does not`;
    },
  };
}

/** `length` bytes of a file from `position` (fewer at its end): what file kinds recognise themselves by. */
export function readBytes(path: string, position: number, length: number): Buffer {
  const buf = Buffer.alloc(Math.max(0, length));
  const fd = openSync(path, 'r');
  try {
    return buf.subarray(0, readSync(fd, buf, 0, buf.length, position));
  } finally {
    closeSync(fd);
  }
}

export interface ClaimOptions {
  /** Paths the command reads: the output may not be, lie inside or contain one of them. */
  readonly inputs?: readonly string[];
}

/** Checks that `path` may be written as a `kind`; throws an InputError naming it otherwise. Touches nothing. */
export function claimOutput(path: string, kind: OutputKind, opts: ClaimOptions = {}): void {
  const target = realPathOf(path);
  for (const input of opts.inputs ?? []) {
    const source = realPathOf(input);
    if (target === source || isInside(target, source) || isInside(source, target)) {
      const how = target === source ? 'is' : isInside(target, source) ? 'lies inside' : 'contains';
      throw new InputError(`${path}: the output ${how} the input ${input}; write it somewhere else`);
    }
  }
  const st = statOrNull(path);
  if (st === null && lstatOrNull(path) !== null) throw refuse(path, kind, 'it is a broken symbolic link');
  if (st) {
    if (kind.type === 'directory' && !st.isDirectory()) throw refuse(path, kind, 'it is a file, not a directory');
    if (kind.type === 'file' && st.isDirectory()) throw refuse(path, kind, 'it is a directory');
    if (!(st.isDirectory() && readdirSync(path).length === 0)) {
      const reason = kind.notOurs(path);
      if (reason !== null) throw refuse(path, kind, reason);
    }
  }
  // Outputs are built under a temporary name beside the final path; artifact versions inside it.
  probeWritable(path, nearestExisting(dirname(resolve(path))));
  if (st?.isDirectory()) probeWritable(path, path);
}

/**
 * Builds an output directory under a temporary name beside `finalDir` and puts it in place only
 * when `build` succeeds; a previous output there is replaced only after the new one is complete.
 * The claim is checked before the build and again before the swap.
 */
export async function writeOutputDir<T>(finalDir: string, kind: OutputKind, build: (tmpDir: string) => Promise<T>): Promise<T> {
  claimOutput(finalDir, kind);
  makeDirs(dirname(finalDir));
  const tmp = tempPathFor(finalDir);
  mkdirSync(tmp);
  try {
    const result = await build(tmp);
    claimOutput(finalDir, kind);
    if (lstatOrNull(finalDir) === null) renameSync(tmp, finalDir);
    else {
      const old = tempPathFor(finalDir);
      renameSync(finalDir, old);
      try {
        renameSync(tmp, finalDir);
      } catch (err) {
        renameSync(old, finalDir);
        throw err;
      }
      rmSync(old, { recursive: true, force: true });
    }
    return result;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Puts a complete file written at `tmp` (beside `path`) in place, if `path` may still be claimed. */
export function commitOutputFile(tmp: string, path: string, kind: OutputKind): void {
  claimOutput(path, kind);
  renameSync(tmp, path);
}

function refuse(path: string, kind: OutputKind, reason: string): InputError {
  return new InputError(
    `${path}: exists and is not a previous ${kind.what} (${reason}); nothing was changed: remove it or choose another path`,
  );
}

/** Creates and removes a temporary file in `dir` (the only sure test on read-only mounts, /proc and as root). */
function probeWritable(path: string, dir: string): void {
  const dirStat = statOrNull(dir);
  if (dirStat && !dirStat.isDirectory()) throw new InputError(`${path}: cannot create it: ${dir} is not a directory`);
  const probe = tempPathFor(join(dir, 'write-probe'));
  try {
    writeFileSync(probe, '');
  } catch (err) {
    throw new InputError(`${path}: cannot write in ${dir}: ${reasonOf(err)}`);
  }
  rmSync(probe, { force: true });
}

function reasonOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const reasons: Record<string, string> = {
    EROFS: 'read-only file system',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    // /proc and /sys answer this for names they do not define.
    ENOENT: 'the file system does not allow new files there',
    ENOSPC: 'no space left on the device',
    EDQUOT: 'disk quota exceeded',
    ENOTDIR: 'not a directory',
    ENAMETOOLONG: 'name too long',
  };
  return (code && reasons[code]) ?? (err as Error).message;
}

/** The closest existing ancestor of `dir` (or `dir` itself). */
function nearestExisting(dir: string): string {
  let d = dir;
  while (lstatOrNull(d) === null && dirname(d) !== d) d = dirname(d);
  return d;
}

/** The absolute path with symbolic links of its existing part resolved. */
function realPathOf(path: string): string {
  const abs = resolve(path);
  const base = nearestExisting(abs);
  let real = base;
  try {
    real = realpathSync(base);
  } catch {
    // unreadable: compare as written
  }
  return join(real, relative(base, abs));
}

function isInside(path: string, dir: string): boolean {
  return path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}
