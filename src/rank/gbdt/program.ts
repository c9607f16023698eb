import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { RecsysError } from '../../util/errors.js';

/** Running an external command-line program with a timeout, keeping the end of its output. */

export type Env = Readonly<Record<string, string | undefined>>;

export function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The first executable named `name` in the PATH of `env`, or null. */
export function findOnPath(name: string, env: Env): string | null {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}

export interface ProgramRun {
  readonly seconds: number;
  readonly stdoutTail: string;
  readonly stderrTail: string;
}

export interface RunOptions {
  readonly program: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly timeoutMs: number;
  readonly env: Env;
  /** Each complete output line, as it arrives. */
  readonly onLine?: (line: string) => void;
}

const TAIL_CHARS = 16_384;
const TAIL_LINES = 40;
/** After SIGTERM on timeout, how long the program gets before SIGKILL. */
const KILL_GRACE_MS = 2_000;

/** Last lines of a program's output, for error messages. */
export function outputTail(run: Pick<ProgramRun, 'stdoutTail' | 'stderrTail'>): string {
  const text = run.stderrTail.trim() !== '' ? run.stderrTail : run.stdoutTail;
  const lines = text.trimEnd().split('\n').slice(-TAIL_LINES);
  return lines.length > 0 && lines[0] !== '' ? lines.map((l) => `  | ${l}`).join('\n') : '  (no output)';
}

/** Keeps the last TAIL_CHARS characters of a stream and calls onLine for each full line. */
class StreamTail {
  tail = '';
  private partial = '';

  constructor(private readonly onLine?: (line: string) => void) {}

  push(chunk: string): void {
    this.tail = (this.tail + chunk).slice(-TAIL_CHARS);
    if (!this.onLine) return;
    const lines = (this.partial + chunk).split(/\r?\n/);
    this.partial = lines.pop() ?? '';
    for (const l of lines) this.onLine(l);
  }

  end(): void {
    if (this.onLine && this.partial !== '') this.onLine(this.partial);
    this.partial = '';
  }
}

/**
 * Runs the program to completion. Throws a RecsysError naming the program and the command
 * (with the end of its stderr, or stdout when stderr is empty) when it cannot start, exits
 * with a non-zero code or a signal, or runs longer than `timeoutMs`.
 */
/**
 * Programs running now: killed when this process exits (a SIGINT/SIGTERM handler ends with
 * process.exit), so none outlives it working in a folder that is being removed.
 */
const running = new Set<ChildProcess>();

function stopOnExit(child: ChildProcess): void {
  if (running.size === 0) process.on('exit', stopRunning);
  running.add(child);
  child.on('close', () => {
    running.delete(child);
    if (running.size === 0) process.off('exit', stopRunning);
  });
}

function stopRunning(): void {
  for (const child of running) child.kill('SIGKILL');
}

export function runProgram(opts: RunOptions): Promise<ProgramRun> {
  const command = [opts.program, ...opts.args].join(' ');
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(opts.program, opts.args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    stopOnExit(child);
    const out = new StreamTail(opts.onLine);
    const err = new StreamTail(opts.onLine);
    child.stdout.setEncoding('utf8').on('data', (c: string) => out.push(c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => err.push(c));
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    }, opts.timeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      out.end();
      err.end();
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      finish();
      reject(new RecsysError(`cannot run ${opts.program} (${e.code ?? e.message}); command: ${command}`));
    });
    child.on('close', (code, signal) => {
      finish();
      const run = { seconds: (Date.now() - start) / 1000, stdoutTail: out.tail, stderrTail: err.tail };
      if (timedOut) {
        reject(
          new RecsysError(
            `${opts.program} did not finish within ${opts.timeoutMs / 1000} s and was stopped; command: ${command}\n${outputTail(run)}`,
          ),
        );
      } else if (code !== 0) {
        const how = code === null ? `was killed by ${signal}` : `exited with code ${code}`;
        reject(new RecsysError(`${opts.program} ${how}; command: ${command} (in ${opts.cwd})\n${outputTail(run)}`));
      } else {
        resolve(run);
      }
    });
  });
}
