#!/usr/bin/env node
import { describeError } from '../util/errors.js';
import { log } from '../util/log.js';
import { main } from './main.js';

// An error thrown outside the command's promise (in an event handler) still ends as one line.
process.on('uncaughtException', (err) => {
  const { message, exitCode } = describeError(err);
  log.error(message);
  process.exit(exitCode);
});

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
