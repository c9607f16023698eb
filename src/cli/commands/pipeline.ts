import type { Command } from 'commander';
import { formatGateTable } from '../../pipeline/gates.js';
import { loadPipeline } from '../../pipeline/load.js';
import { formatOutcome } from '../../pipeline/report.js';
import { runPipeline, type RunOptions } from '../../pipeline/runner.js';
import { GateError } from '../../util/errors.js';
import { printJson } from '../options.js';

export interface PipelineCliOptions {
  readonly pipeline: string;
  readonly force?: boolean;
  readonly json?: boolean;
}

/** `--pipeline FILE` and `--force`, shared by train, index and eval. */
export function addPipelineOptions(cmd: Command, what: string): Command {
  return cmd
    .option('--pipeline <file>', `run ${what} of a pipeline file (pipelines/*.yaml, see docs/pipeline.md)`)
    .option('--force', 'with --pipeline: run steps even when their inputs, config and code are unchanged', false);
}

/**
 * Runs (part of) a pipeline file and prints what ran, the metrics table and the gates.
 * A breached gate exits 3 after printing, with a table of what failed.
 */
export async function runPipelineCommand(
  o: PipelineCliOptions,
  select: Pick<RunOptions, 'kinds' | 'split'>,
  command: string,
): Promise<void> {
  const pipeline = loadPipeline(o.pipeline);
  const outcome = await runPipeline(pipeline, { ...select, force: o.force, command });
  if (o.json) printJson(outcome);
  else process.stdout.write(`${formatOutcome(outcome, pipeline.head.k)}\n`);
  const failed = outcome.gates.filter((g) => !g.passed);
  if (failed.length > 0)
    throw new GateError(`quality gates failed (${failed.length} of ${outcome.gates.length}):\n${formatGateTable(failed)}`);
}
