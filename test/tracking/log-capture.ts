import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setLogFile } from '../../src/util/log.js';

/** Routes the structured log to a file in `dir` (stderr quiet) and reads its warnings back. */
export function captureLog(dir: string): { warnings(): string[]; stop(): void } {
  const path = join(dir, 'run.log');
  const quietBefore = process.env.RECSYS_QUIET;
  process.env.RECSYS_QUIET = '1';
  setLogFile(path);
  return {
    warnings(): string[] {
      if (!existsSync(path)) return [];
      return readFileSync(path, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as { level: number; msg: string })
        .filter((e) => e.level === 40)
        .map((e) => e.msg);
    },
    stop(): void {
      setLogFile(null);
      if (quietBefore === undefined) delete process.env.RECSYS_QUIET;
      else process.env.RECSYS_QUIET = quietBefore;
    },
  };
}
