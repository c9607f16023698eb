import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { expect } from 'vitest';

/**
 * The built command line (`dist/cli/bin.js`, built by global-setup.ts), run in a child process
 * for the tests. Always asynchronous: a test worker whose event loop is blocked (spawnSync of a
 * pipeline run on a loaded machine) stops answering vitest, and the run fails with
 * "Timeout calling onTaskUpdate" although every test passed.
 */
export const BIN = new URL('../dist/cli/bin.js', import.meta.url).pathname;

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly cwd?: string;
  /**
   * Over process.env, RECSYS_QUIET=0 (progress and errors on stderr) and RECSYS_DEBUG unset
   * (error messages without stack traces, whatever the shell running the tests says).
   */
  readonly env?: Record<string, string>;
  /** Written to the child's standard input, then closed (closed at once without it). */
  readonly input?: string;
  /** Milliseconds before the child is sent SIGTERM; by default the test timeout (vitest.config.ts). */
  readonly timeout?: number;
}

/** A child process started by `startProcess`, its output collected as it comes. */
export interface Started {
  readonly child: ChildProcessWithoutNullStreams;
  /** The standard error so far. */
  stderr(): string;
  /** Once the process has exited, with the output so far (a grandchild may still hold the pipes). */
  readonly exited: Promise<CliRun>;
  /** Once the process has exited and its output is closed: all of it. */
  readonly closed: Promise<CliRun>;
}

/** Starts `command`, for a test that acts while it runs (signals it, waits for a message). */
export function startProcess(command: string, args: readonly string[], opts: RunOptions = {}): Started {
  const child = spawn(command, args, {
    cwd: opts.cwd,
    env: { ...process.env, RECSYS_QUIET: '0', RECSYS_DEBUG: '', ...opts.env },
    timeout: opts.timeout ?? 120_000,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.on('error', () => {}); // a child that exits without reading its input
  child.stdin.end(opts.input ?? '');
  const failed = new Promise<never>((_, reject) => child.on('error', reject));
  const ended = (event: 'exit' | 'close'): Promise<CliRun> =>
    Promise.race([failed, new Promise<CliRun>((resolve) => child.on(event, (code, signal) => resolve({ code, signal, stdout, stderr })))]);
  const started = { child, stderr: () => stderr, exited: ended('exit'), closed: ended('close') };
  // A test awaits one of them: the other must not report a failed start as unhandled.
  started.exited.catch(() => {});
  started.closed.catch(() => {});
  return started;
}

/** Runs `command` to its end, collecting its output. */
export function runProcess(command: string, args: readonly string[], opts: RunOptions = {}): Promise<CliRun> {
  return startProcess(command, args, opts).closed;
}

export interface CliOptions extends RunOptions {
  /** The CLI to run: the built one by default (a copy of it, say). */
  readonly bin?: string;
}

/** Starts `recsys args`, for a test that acts while it runs. */
export function startCli(args: readonly string[], opts: CliOptions = {}): Started {
  return startProcess(process.execPath, [opts.bin ?? BIN, ...args], opts);
}

/** Runs `recsys args` to its end. */
export function runCli(args: readonly string[], opts: CliOptions = {}): Promise<CliRun> {
  return startCli(args, opts).closed;
}

/** The stderr lines that are not progress: the messages a user reads on failure. */
export function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('error:'));
}

/** A stack trace line: an error message must never carry one (RECSYS_DEBUG=1 only). */
export const STACK_TRACE = /^\s+at /m;

/** The one error line of a failed command; there must be exactly one and no stack trace. */
export function oneErrorLine(r: { readonly stderr: string }): string {
  const lines = errorLines(r.stderr);
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(STACK_TRACE);
  return lines[0];
}
