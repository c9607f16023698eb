import { Command, CommanderError } from 'commander';
import { describeError, EXIT_BAD_INPUT } from '../util/errors.js';
import { log } from '../util/log.js';
import { abCommand } from './commands/ab.js';
import { artifactsCommand } from './commands/artifacts.js';
import { dataCommand } from './commands/data.js';
import { evalCommand } from './commands/eval.js';
import { eventsCommand } from './commands/events.js';
import { indexCommand } from './commands/index.js';
import { opeCommand } from './commands/ope.js';
import { positionsCommand } from './commands/positions.js';
import { publishCommand } from './commands/publish.js';
import { recommendCommand } from './commands/recommend.js';
import { serveCommand } from './commands/serve.js';
import { simulateCommand } from './commands/simulate.js';
import { splitCommand } from './commands/split.js';
import { trackingCommand } from './commands/tracking.js';
import { trainCommand } from './commands/train.js';

/**
 * The `recsys` command line. Commands are thin: parse options, call the library, print.
 * Exit codes: 0 success, 1 failure, 2 bad input or config, 3 quality gate breached.
 */
export function buildProgram(): Command {
  const program = new Command('recsys')
    .description('offline training and batch indexing for recommender systems')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const cmd of [
    dataCommand(),
    splitCommand(),
    trainCommand(),
    evalCommand(),
    indexCommand(),
    recommendCommand(),
    publishCommand(),
    serveCommand(),
    eventsCommand(),
    simulateCommand(),
    artifactsCommand(),
    trackingCommand(),
    abCommand(),
    opeCommand(),
    positionsCommand(),
  ])
    program.addCommand(cmd);
  const applyExitOverride = (c: Command): void => {
    c.exitOverride();
    c.commands.forEach(applyExitOverride);
  };
  applyExitOverride(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exit code 0; usage errors are bad input.
      return err.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
    }
    const { message, exitCode } = describeError(err);
    log.error(message);
    return exitCode;
  }
}
