import { dirname } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { formatMetricsTable } from '../../eval/report.js';
import { paramSpecs, type ParamSpec } from '../../models/params.js';
import { getFactory, modelKinds } from '../../pipeline/model-registry.js';
import { ARTIFACT_FOLDER_OUTPUT } from '../../artifacts/store.js';
import { withStandaloneOutput } from '../../pipeline/standalone.js';
import { trainModel } from '../../pipeline/train.js';
import { closest } from '../../pipeline/suggest.js';
import { excerpt, InputError } from '../../util/errors.js';
import { addSplitOptions, cutoffsOption, intOption, printJson, splitSourceFrom, type SplitCliOptions } from '../options.js';
import { addPipelineOptions, runPipelineCommand, type PipelineCliOptions } from './pipeline.js';

/**
 * The CLI option of a hyper-parameter: `--cg-steps <n>` for key cg_steps, with the schema's
 * description and default; a value outside the schema's range is a usage error naming the flag.
 */
function paramOption(spec: ParamSpec): Option {
  const o =
    spec.type === 'boolean'
      ? new Option(`--${spec.default === true ? 'no-' : ''}${spec.flag}`, spec.description)
      : new Option(
          `--${spec.flag} <${spec.type === 'string' ? 'value' : 'n'}>`,
          spec.choices ? spec.description : `${spec.description}; ${spec.expects}`,
        );
  if (spec.choices) o.choices(spec.choices);
  else if (spec.type !== 'boolean') {
    o.argParser((raw: string) => {
      const value = spec.type === 'string' ? raw : raw.trim() === '' ? Number.NaN : Number(raw);
      if (!spec.schema.safeParse(value).success) throw new InvalidArgumentError(`expected ${spec.expects}`);
      return value;
    });
  }
  return o.default(spec.default);
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
      .description(`train ${kind}: ${factory.description}`)
      .requiredOption('--data <dir>', 'dataset directory')
      .option('--out <dir>', 'artifact directory (versions are created under it)', `artifacts/${kind}`)
      .option('--seed <s>', 'random seed', intOption('--seed'), 42)
      .option('--k <list>', 'cut-offs of the evaluation after training', cutoffsOption, [10]);
    addSplitOptions(cmd, 'temporal-user');
    const options = paramSpecs(factory.params).map((spec) => ({ spec, option: paramOption(spec) }));
    for (const { option } of options) cmd.addOption(option);
    cmd.option('--json', 'print the metrics as JSON', false);
    cmd.action(
      async (o: SplitCliOptions & Record<string, unknown> & { data: string; out: string; seed: number; k: number[]; json: boolean }) => {
        const split = splitSourceFrom(o);
        if (!split) throw new InputError('--split is required');
        const params = Object.fromEntries(options.map(({ spec, option }) => [spec.key, o[option.attributeName()]]));
        const result = await withStandaloneOutput(
          { out: o.out, kind: ARTIFACT_FOLDER_OUTPUT, root: dirname(o.out), inputs: [o.data] },
          () => trainModel({ kind, datasetDir: o.data, split, params, seed: o.seed, out: o.out, ks: o.k }),
        );
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
