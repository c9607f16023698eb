import { Command, Option } from 'commander';
import { formatMetricsTable } from '../../eval/report.js';
import type { ModelOption } from '../../models/model.js';
import { getFactory, modelKinds } from '../../models/registry.js';
import { trainModel } from '../../pipeline/train.js';
import { closest } from '../../pipeline/suggest.js';
import { excerpt, InputError } from '../../util/errors.js';
import { addSplitOptions, cutoffsOption, floatOption, intOption, printJson, splitSourceFrom, type SplitCliOptions } from '../options.js';
import { addPipelineOptions, runPipelineCommand, type PipelineCliOptions } from './pipeline.js';

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function modelOption(opt: ModelOption, defaultValue: unknown): Option {
  const flag = kebab(opt.key);
  const o =
    opt.type === 'boolean'
      ? new Option(`--${flag}`, opt.description)
      : new Option(`--${flag} <${opt.type === 'string' ? 'value' : 'n'}>`, opt.description);
  if (opt.type === 'int') o.argParser(intOption(`--${flag}`));
  if (opt.type === 'float') o.argParser(floatOption(`--${flag}`));
  if (opt.choices) o.choices(opt.choices);
  if (defaultValue !== undefined) o.default(defaultValue);
  return o;
}

/** `recsys train <model>`: one subcommand per registered model, with that model's hyper-parameters as options. */
export function trainCommand(): Command {
  const train = new Command('train').description(
    `train a model (${modelKinds().join(', ')}) on a split and save it as a versioned artifact, or run a pipeline file`,
  );
  // No --json here: commander would take it from the model subcommands, which have their own.
  addPipelineOptions(train, 'every step');
  // An unknown kind reaches this action (with the options meant for it, hence allowUnknownOption)
  // so that it is named as such, not reported as the first option train itself lacks.
  train
    .argument('[kind]', `model kind: ${modelKinds().join(', ')}`)
    .allowUnknownOption()
    .allowExcessArguments();
  train.action(async (kind: string | undefined, o: Partial<PipelineCliOptions>, self: Command) => {
    if (kind !== undefined && !kind.startsWith('-')) {
      const guess = closest(kind, modelKinds());
      throw new InputError(
        `recsys train: unknown model kind ${excerpt(kind)}${guess ? ` (did you mean "${guess}"?)` : ''}; expected one of: ${modelKinds().join(', ')}`,
      );
    }
    const unknown = self.args.find((a) => a.startsWith('-'));
    if (unknown !== undefined) throw new InputError(`recsys train: unknown option ${excerpt(unknown)}`);
    if (!o.pipeline) throw new InputError(`recsys train: name a model (${modelKinds().join(', ')}) or give --pipeline FILE`);
    await runPipelineCommand({ ...o, pipeline: o.pipeline }, {}, 'recsys train --pipeline');
  });
  for (const kind of modelKinds()) {
    const factory = getFactory(kind);
    const cmd = train
      .command(kind)
      .description(`train ${kind}${factory.description ? `: ${factory.description}` : ''}`)
      .requiredOption('--data <dir>', 'dataset directory')
      .option('--out <dir>', 'artifact directory (versions are created under it)', `artifacts/${kind}`)
      .option('--seed <s>', 'random seed', intOption('--seed'), 42)
      .option('--k <list>', 'cut-offs of the evaluation after training', cutoffsOption, [10]);
    addSplitOptions(cmd, 'temporal-user');
    for (const opt of factory.options ?? []) cmd.addOption(modelOption(opt, factory.defaults[opt.key]));
    cmd.option('--json', 'print the metrics as JSON', false);
    cmd.action(
      async (o: SplitCliOptions & Record<string, unknown> & { data: string; out: string; seed: number; k: number[]; json: boolean }) => {
        const split = splitSourceFrom(o);
        if (!split) throw new InputError('--split is required');
        const params: Record<string, unknown> = {};
        for (const opt of factory.options ?? []) if (o[opt.key] !== undefined) params[opt.key] = o[opt.key];
        const result = await trainModel({ kind, datasetDir: o.data, split, params, seed: o.seed, out: o.out, ks: o.k });
        if (o.json) printJson({ artifact: result.dir, fit_seconds: result.fitSeconds, ...result.metrics });
        else
          process.stdout.write(
            `${formatMetricsTable(result.metrics, `${kind} → ${result.dir} (fit ${result.fitSeconds.toFixed(1)} s)`)}\n`,
          );
      },
    );
  }
  return train;
}
