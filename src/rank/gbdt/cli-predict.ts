import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../util/errors.js';
import { selectGbdtEngine } from './select-engine.js';
import type { GbdtModel } from './engine.js';
import type { Env } from './program.js';
import { validateFeatureRows, type FeatureRows } from './ranking-data.js';
import { runEngine, withEngineDir } from './train.js';

export interface CliPrediction {
  /** Raw scores, one per row, as the program printed them. */
  readonly scores: Float64Array;
  /** Time writing the model and data files, and time the program ran. */
  readonly writeSeconds: number;
  readonly programSeconds: number;
}

/**
 * Scores rows with the engine's own command-line program (LightGBM `task=predict` with raw
 * scores, XGBoost `task=pred` with `pred_margin=1`): the reference `GbdtModel.predict` is
 * checked against, and a batch fallback. Spawns a process, so not for per-request scoring.
 */
export async function predictWithCli(
  model: GbdtModel,
  rows: FeatureRows,
  opts: { env?: Env; timeoutMs?: number; workDir?: string } = {},
): Promise<CliPrediction> {
  validateFeatureRows(rows, 'rows to score');
  const env = opts.env ?? process.env;
  const selected = selectGbdtEngine(model.engine, env);
  const { cli } = selected;
  return withEngineDir(opts, async (dir) => {
    const t0 = Date.now();
    model.save(join(dir, cli.modelFile));
    const files = { model: cli.modelFile, data: cli.writeData(dir, 'data', rows), output: 'pred.txt' };
    writeFileSync(join(dir, 'predict.conf'), cli.predictConfig(files));
    const writeSeconds = (Date.now() - t0) / 1000;
    const run = await runEngine(selected, dir, 'predict.conf', { timeoutMs: opts.timeoutMs, env });
    const lines = readFileSync(join(dir, files.output), 'utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    if (lines.length !== rows.nRows) {
      throw new InputError(`${selected.program} wrote ${lines.length} predictions for ${rows.nRows} rows (in ${dir})`);
    }
    const scores = Float64Array.from(lines, Number);
    return { scores, writeSeconds, programSeconds: run.seconds };
  });
}
