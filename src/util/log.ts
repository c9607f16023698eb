import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type Logger } from 'pino';

/**
 * Two audiences: people read short lines on stderr; machines read structured JSON lines
 * (pino) in a per-run log file, set with `setLogFile`. `RECSYS_QUIET=1` silences stderr.
 */
let fileLogger: Logger | null = null;
let fileDestination: ReturnType<typeof pino.destination> | null = null;

/** Sends structured events to `path` (appending) from now on, closing the previous file; null: to no file. */
export function setLogFile(path: string | null): void {
  fileLogger?.flush();
  fileDestination?.end();
  fileLogger = null;
  fileDestination = null;
  if (path === null) return;
  mkdirSync(dirname(path), { recursive: true });
  fileDestination = pino.destination({ dest: path, sync: true });
  fileLogger = pino({ base: { pid: process.pid } }, fileDestination);
}

export function quiet(): boolean {
  return process.env.RECSYS_QUIET === '1';
}

type Fields = Record<string, unknown>;

function human(level: string, msg: string): void {
  if (quiet()) return;
  process.stderr.write(level === 'info' ? `${msg}\n` : `${level}: ${msg}\n`);
}

export const log = {
  info(msg: string, fields: Fields = {}): void {
    human('info', msg);
    fileLogger?.info(fields, msg);
  },
  warn(msg: string, fields: Fields = {}): void {
    human('warning', msg);
    fileLogger?.warn(fields, msg);
  },
  error(msg: string, fields: Fields = {}): void {
    human('error', msg);
    fileLogger?.error(fields, msg);
  },
  /** A structured event for the run log only (timings, counts, parameters). */
  event(event: string, fields: Fields = {}): void {
    fileLogger?.info({ event, ...fields }, event);
  },
};
