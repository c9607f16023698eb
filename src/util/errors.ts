/**
 * Errors that carry the process exit code the CLI should use.
 * Documented exit codes: 0 success, 1 failure, 2 bad input or config, 3 gate breached.
 */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_BAD_INPUT = 2;
export const EXIT_GATE = 3;

export class RecsysError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad input or configuration: names the file, line and field where it can. */
export class InputError extends RecsysError {
  constructor(message: string) {
    super(message, EXIT_BAD_INPUT);
  }
}

/** A quality gate (e.g. `--fail-under ndcg@10=0.05`) was breached. */
export class GateError extends RecsysError {
  constructor(message: string) {
    super(message, EXIT_GATE);
  }
}

/** Longest piece of user data (a field, a value) echoed into a message. */
export const ECHO_CHARS = 80;

/**
 * `text` as quoted in a message: at most `max` characters, with how much was left out, so a
 * 60 MB malformed field never travels whole into an error line or a report.
 */
export function excerpt(text: string, max = ECHO_CHARS): string {
  if (text.length <= max) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, max))}… (${text.length} characters)`;
}

/** What a file-system error code means to the person who gave the path. */
const FS_REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'is a directory, not a file',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EEXIST: 'already exists',
  ENAMETOOLONG: 'name too long',
  ELOOP: 'too many symbolic links',
  ENOTEMPTY: 'directory not empty',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
};

/** The file-system errors that are a path the user gave being wrong: bad input; a full disk is a failure. */
const FS_INPUT_CODES = new Set(Object.keys(FS_REASONS).filter((code) => code !== 'ENOSPC' && code !== 'EDQUOT'));

interface SystemError extends Error {
  code?: string;
  path?: string;
  dest?: string;
  syscall?: string;
}

/**
 * What the command line prints for an error that ended a command, and its exit code: the
 * message of a RecsysError; for a file-system error, one line naming the path and the reason
 * (exit 2 when the path is wrong, 1 otherwise, e.g. a full disk); for anything else its first
 * line (exit 1). Stack traces are for `RECSYS_DEBUG=1` only.
 */
export function describeError(err: unknown, debug = process.env.RECSYS_DEBUG === '1'): { message: string; exitCode: number } {
  const stack = debug && err instanceof Error && err.stack ? `\n${err.stack}` : '';
  if (err instanceof RecsysError) return { message: err.message + stack, exitCode: err.exitCode };
  const sys = err as SystemError;
  if (err instanceof Error && typeof sys.code === 'string' && typeof sys.path === 'string') {
    // A rename fails for its destination (a directory in the way, a missing parent): name that first.
    const what = sys.dest ? `${sys.dest} (renaming ${sys.path} to it)` : sys.path;
    // Making a directory under a path whose part is a file fails with EEXIST for that part.
    const reason = sys.code === 'EEXIST' && sys.syscall === 'mkdir' ? 'exists and is not a directory' : (FS_REASONS[sys.code] ?? sys.code);
    return {
      message: `${what}: ${reason}${sys.syscall ? ` (${sys.syscall})` : ''}${stack}`,
      exitCode: FS_INPUT_CODES.has(sys.code) ? EXIT_BAD_INPUT : EXIT_FAILURE,
    };
  }
  const text = err instanceof Error ? err.message : String(err);
  const hint = debug ? '' : ' (RECSYS_DEBUG=1 prints the stack trace)';
  return { message: `${text.split('\n')[0].slice(0, 500)}${hint}${stack}`, exitCode: EXIT_FAILURE };
}
