import { Command, Option } from 'commander';
import { DATASET_OUTPUT, readDatasetMeta } from '../../data/dataset.js';
import { DEFAULT_EVENT_WEIGHTS, importEvents, parseEventWeights, type EventWeights } from '../../data/events-import.js';
import { importDataset, parseColumnMapping, TIMESTAMP_UNITS, type ImportFormat, type TimestampUnit } from '../../data/import.js';
import { SYNTH_DEFAULTS, synthesizeDataset } from '../../data/synth.js';
import { withStandaloneOutput } from '../../pipeline/standalone.js';
import { InputError } from '../../util/errors.js';
import { intOption, printJson } from '../options.js';

export function dataCommand(): Command {
  const data = new Command('data').description('import, synthesize and describe datasets');

  data
    .command('import')
    .description('MovieLens-style CSV (or ml-100k, or any CSV log, or an event log) in, a Parquet dataset directory out')
    .addOption(new Option('--format <format>', 'input format').choices(['movielens', 'ml100k', 'csv', 'events']).default('movielens'))
    .requiredOption(
      '--in <path>',
      'input directory (movielens: ratings.csv [movies.csv tags.csv]; ml100k: u.data [u.item]; events: a log directory) or CSV file (csv)',
    )
    .requiredOption(
      '--out <dir>',
      'dataset directory to write (an existing one only if it is a dataset directory, once the import succeeds)',
    )
    .option('--columns <map>', 'csv format: user=COL,item=COL[,rating=COL][,timestamp=COL]')
    .option(
      '--delimiter <char>',
      'csv format: field delimiter, one character (\\t or tab: a tab)',
      (v: string) => (v === '\\t' || v === 'tab' ? '\t' : v),
      ',',
    )
    .addOption(
      new Option('--encoding <enc>', 'text encoding of the input files (default: utf8; ml100k: latin1)').choices(['utf8', 'latin1']),
    )
    .addOption(
      new Option('--timestamp-unit <unit>', 'unit of integer timestamps: s (seconds) or ms (milliseconds) since 1970')
        .choices(TIMESTAMP_UNITS)
        .default('s'),
    )
    .option(
      '--weights <map>',
      `events format: positive event types and their weights as ratings (default ${weightsText(DEFAULT_EVENT_WEIGHTS)})`,
    )
    .option('--base <dataset>', 'events format: a dataset whose interactions come first (and whose items catalogue is kept)')
    .option('--skip-bad', 'skip malformed rows (reported) instead of stopping at the first', false)
    .option('--json', 'print dataset.json instead of a summary', false)
    .action(
      async (o: {
        format: ImportFormat | 'events';
        weights?: string;
        base?: string;
        in: string;
        out: string;
        columns?: string;
        delimiter: string;
        encoding?: 'utf8' | 'latin1';
        timestampUnit: TimestampUnit;
        skipBad: boolean;
        json: boolean;
      }) => {
        const format = o.format;
        if (format !== 'events' && (o.weights !== undefined || o.base !== undefined))
          throw new InputError('--weights and --base are options of --format events');
        const inputs = [o.in, ...(o.base ? [o.base] : [])];
        const meta = await withStandaloneOutput({ out: o.out, kind: DATASET_OUTPUT, inputs }, () =>
          format === 'events'
            ? importEvents({
                input: o.in,
                out: o.out,
                weights: o.weights ? parseEventWeights(o.weights) : undefined,
                base: o.base,
                skipBad: o.skipBad,
              })
            : importDataset({
                format,
                input: o.in,
                out: o.out,
                skipBad: o.skipBad,
                columns: o.columns ? parseColumnMapping(o.columns) : undefined,
                delimiter: o.delimiter,
                encoding: o.encoding,
                timestampUnit: o.timestampUnit,
              }),
        );
        if (o.json) printJson(meta);
        else printSummary(o.out, meta);
      },
    );

  data
    .command('synth')
    .description('write a synthetic MovieLens-shaped dataset (long tails, drifting tastes, planted preferences)')
    .option('--users <n>', 'users', intOption('--users', 1), SYNTH_DEFAULTS.users)
    .option('--items <n>', 'items', intOption('--items', 1), SYNTH_DEFAULTS.items)
    .option('--interactions <n>', 'interactions', intOption('--interactions', 1), SYNTH_DEFAULTS.interactions)
    .option('--seed <s>', 'random seed', intOption('--seed'), SYNTH_DEFAULTS.seed)
    .requiredOption('--out <dir>', 'dataset directory to write')
    .option('--json', 'print dataset.json instead of a summary', false)
    .action(async (o: { users: number; items: number; interactions: number; seed: number; out: string; json: boolean }) => {
      const meta = await withStandaloneOutput({ out: o.out, kind: DATASET_OUTPUT }, () =>
        synthesizeDataset(o.out, { users: o.users, items: o.items, interactions: o.interactions, seed: o.seed }),
      );
      if (o.json) printJson(meta);
      else printSummary(o.out, meta);
    });

  data
    .command('describe')
    .description('print what a dataset directory holds')
    .argument('<dir>', 'dataset directory')
    .option('--json', 'print dataset.json as is', false)
    .action((dir: string, o: { json: boolean }) => {
      const meta = readDatasetMeta(dir);
      if (o.json) printJson(meta);
      else printSummary(dir, meta);
    });

  return data;
}

function printSummary(dir: string, meta: ReturnType<typeof readDatasetMeta>): void {
  const c = meta.counts;
  const lines = [
    `dataset ${dir}`,
    `  interactions ${c.interactions}, users ${c.users}, items ${c.items} (catalogue ${c.catalog_items}), tags ${c.tags}`,
    meta.time_range ? `  time ${meta.time_range.min_iso} .. ${meta.time_range.max_iso}` : '  time: none',
    meta.rating_range ? `  ratings ${meta.rating_range.min} .. ${meta.rating_range.max}` : '',
    `  source ${meta.source.kind}${meta.source.files ? `: ${meta.source.files.map((f) => f.path).join(', ')}` : ''}`,
    meta.skipped.rows > 0 ? `  skipped ${meta.skipped.rows} malformed rows, first: ${meta.skipped.first.join(' | ')}` : '',
  ];
  process.stdout.write(`${lines.filter((l) => l !== '').join('\n')}\n`);
}

function weightsText(weights: EventWeights): string {
  return Object.entries(weights)
    .map(([type, w]) => `${type}=${w}`)
    .join(',');
}
