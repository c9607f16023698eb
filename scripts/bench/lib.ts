/**
 * Shared by the benchmark scripts (run with `npx vite-node scripts/bench/<name>.ts`, or all of
 * them with `make bench`): timing whole commands with /usr/bin/time (wall seconds and peak
 * RSS, median of several runs) and replacing one section of docs/benchmarks.md.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';

export const BENCH_DOC = new URL('../../docs/benchmarks.md', import.meta.url).pathname;
export const RECSYS = new URL('../../dist/cli/bin.js', import.meta.url).pathname;

export interface CommandTiming {
  readonly seconds: number[];
  readonly medianSeconds: number;
  readonly peakRssMiB: number;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs a command `runs` times under /usr/bin/time -v; returns wall times and the largest peak RSS. */
export function timeCommand(argv: string[], runs = 3, env: NodeJS.ProcessEnv = {}): CommandTiming {
  const seconds: number[] = [];
  let peak = 0;
  for (let r = 0; r < runs; r++) {
    const res = spawnSync('/usr/bin/time', ['-v', ...argv], {
      encoding: 'utf8',
      env: { ...process.env, RECSYS_QUIET: '1', ...env },
      maxBuffer: 1 << 28,
    });
    if (res.status !== 0) throw new Error(`${argv.join(' ')} failed (${res.status}):\n${res.stderr.slice(-2000)}`);
    const usage = parseTimeV(res.stderr);
    seconds.push(usage.wallSeconds);
    peak = Math.max(peak, usage.peakRssMiB);
  }
  return { seconds, medianSeconds: median(seconds), peakRssMiB: peak };
}

/** Wall time and peak RSS from the report of `/usr/bin/time -v`. */
export function parseTimeV(text: string): { wallSeconds: number; peakRssMiB: number } {
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(text);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(text);
  if (!wall || !rss) throw new Error(`could not read /usr/bin/time output:\n${text.slice(-1000)}`);
  return { wallSeconds: Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]), peakRssMiB: Number(rss[1]) / 1024 };
}

export interface LockedRun {
  readonly status: number | null;
  /** The signal that ended flock, when one did. */
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** /proc/loadavg (1, 5, 15 min) read once the lock was held, just before the command started. */
  readonly loadavg: string;
  readonly wallSeconds: number;
  readonly peakRssMiB: number;
}

/**
 * Runs one command while holding `flock <lock>` (other benchmarks on the shared machine wait
 * for it, and it for them), under /usr/bin/time -v: its load average at the start, wall time
 * and peak RSS. The lock is held for this command only.
 */
export function runLocked(argv: string[], opts: { lock: string; env?: NodeJS.ProcessEnv; cwd?: string }): LockedRun {
  const dir = mkdtempSync(join(tmpdir(), 'bench-run-'));
  try {
    const loadFile = join(dir, 'loadavg');
    const timeFile = join(dir, 'time');
    const res = spawnSync(
      'flock',
      [opts.lock, 'sh', '-c', 'cat /proc/loadavg > "$0" && exec "$@"', loadFile, '/usr/bin/time', '-v', '-o', timeFile, ...argv],
      { encoding: 'utf8', cwd: opts.cwd, env: { ...process.env, ...opts.env }, maxBuffer: 1 << 28 },
    );
    const loadavg = existsSync(loadFile) ? readFileSync(loadFile, 'utf8').split(' ').slice(0, 3).join(' ') : '';
    // A killed /usr/bin/time writes no report: the caller sees the signal instead.
    const report = existsSync(timeFile) ? readFileSync(timeFile, 'utf8') : '';
    const usage = report.includes('Maximum resident set size') ? parseTimeV(report) : { wallSeconds: Number.NaN, peakRssMiB: Number.NaN };
    return { status: res.status, signal: res.signal, stdout: res.stdout, stderr: res.stderr, loadavg, ...usage };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The line of a child's output that says what went wrong (the last one matching `important`), or its last line. */
export function lastLine(text: string, important = /error/i): string {
  const lines = text
    .trim()
    .split('\n')
    .filter((l) => l.trim().length > 0 && !l.startsWith('    at ') && !/^Node\.js v/.test(l));
  const matching = lines.filter((l) => important.test(l));
  return (matching[matching.length - 1] ?? lines[lines.length - 1] ?? 'no output').slice(0, 300);
}

export function machineLine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpus().length} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}

/** The short commit of the checkout at `dir` (default: the working directory). */
export function gitShort(dir?: string): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: dir }).toString().trim();
  } catch {
    return 'unknown';
  }
}

/**
 * Replaces (or appends) the section `## <title>` of docs/benchmarks.md, up to the next `## `.
 */
export function writeSection(title: string, body: string): void {
  const header = `## ${title}`;
  const doc = existsSync(BENCH_DOC) ? readFileSync(BENCH_DOC, 'utf8') : '# Benchmarks\n';
  const start = doc.indexOf(`${header}\n`);
  const section = `${header}\n\n${body.trim()}\n\n`;
  let out: string;
  if (start < 0) {
    out = `${doc.trimEnd()}\n\n${section}`;
  } else {
    const next = doc.indexOf('\n## ', start + header.length);
    out = doc.slice(0, start) + section + (next < 0 ? '' : doc.slice(next + 1));
  }
  writeFileSync(BENCH_DOC, `${out.trimEnd()}\n`);
}

export function fmt(seconds: number): string {
  return seconds < 10 ? seconds.toFixed(2) : seconds.toFixed(1);
}
