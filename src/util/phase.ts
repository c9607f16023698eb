import { log } from './log.js';

/**
 * Named points of a command's work where a kill must leave every artifact consistent (e.g.
 * `artifact.renamed`: a version is in place, `latest` not yet moved). Each is a structured
 * log event. With `RECSYS_TEST_PAUSE_AT=<phase>` or `<phase>:<subject>` the process stops
 * there (its event loop stays free, so signal handlers run): the signal tests kill it at a
 * known point this way.
 */
export const PAUSE_ENV = 'RECSYS_TEST_PAUSE_AT';

export async function reachPhase(phase: string, subject: string): Promise<void> {
  log.event('phase', { phase, subject });
  const pauseAt = process.env[PAUSE_ENV];
  if (pauseAt !== phase && pauseAt !== `${phase}:${subject}`) return;
  log.warn(`paused at ${phase}:${subject} (${PAUSE_ENV})`, { event: 'phase.paused', phase, subject });
  await new Promise<never>(() => setInterval(() => undefined, 60_000));
}
