import { constants } from 'node:os';
import { log } from '../util/log.js';

/**
 * SIGINT (Ctrl-C) and SIGTERM while a pipeline runs: `cleanup` runs (remove this process's
 * temporary output, mark the tracked run KILLED, release the lock), then the process exits
 * with 128 + the signal number: 130 for SIGINT, 143 for SIGTERM, as shells report it.
 * A second signal exits at once. Finished artifacts and `latest` are never touched: they
 * only change by renames that complete before a handler can run.
 * Returns a function that removes the handlers.
 */
export const INTERRUPT_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** The longest the cleanup may take before the process exits anyway. */
const CLEANUP_TIMEOUT_MS = 5000;

export function exitCodeForSignal(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}

export function onInterrupt(
  cleanup: (signal: NodeJS.Signals) => Promise<void>,
  /** What stopping means for what the process was doing, after "interrupted by SIGTERM: ". */
  outcome = 'removing unfinished output; finished artifacts and latest are kept',
): () => void {
  let interrupted = false;
  const handler = (signal: NodeJS.Signals): void => {
    const code = exitCodeForSignal(signal);
    if (interrupted) process.exit(code);
    interrupted = true;
    log.warn(`interrupted by ${signal}: ${outcome}`, {
      event: 'pipeline.interrupted',
      signal,
    });
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, CLEANUP_TIMEOUT_MS).unref());
    Promise.race([cleanup(signal), timeout])
      .catch((err: unknown) => log.error(`cleanup after ${signal} failed: ${(err as Error).message}`))
      .finally(() => process.exit(code));
  };
  for (const s of INTERRUPT_SIGNALS) process.on(s, handler);
  return () => {
    for (const s of INTERRUPT_SIGNALS) process.off(s, handler);
  };
}
