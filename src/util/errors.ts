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

export function exitCodeOf(err: unknown): number {
  return err instanceof RecsysError ? err.exitCode : EXIT_FAILURE;
}
