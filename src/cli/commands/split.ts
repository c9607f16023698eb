import { Command } from 'commander';
import { loadDataset } from '../../data/dataset.js';
import { describeSplit, SPLIT_OUTPUT, writeSplit } from '../../split/manifest.js';
import { splitInteractions } from '../../split/split.js';
import { InputError } from '../../util/errors.js';
import { withStandaloneOutput } from '../../pipeline/standalone.js';
import { addSplitOptions, printJson, splitSourceFrom, type SplitCliOptions } from '../options.js';

export function splitCommand(): Command {
  const cmd = new Command('split')
    .description('write a leakage-safe train/test split of a dataset, with a manifest of how')
    .requiredOption('--data <dir>', 'dataset directory')
    .requiredOption('--out <dir>', 'split directory to write (train.parquet, test.parquet, split.json)')
    .option('--seed <s>', 'alias of --split-seed');
  addSplitOptions(cmd, 'temporal-user');
  cmd.option('--strategy <strategy>', 'alias of --split');
  return cmd.action(async (o: SplitCliOptions & { data: string; out: string; strategy?: string; seed?: string; json?: boolean }) => {
    const source = splitSourceFrom({ ...o, split: o.strategy ?? o.split, splitSeed: o.seed !== undefined ? Number(o.seed) : o.splitSeed });
    if (!source || 'dir' in source) throw new InputError('--strategy must be a split strategy');
    const manifest = await withStandaloneOutput({ out: o.out, kind: SPLIT_OUTPUT, inputs: [o.data] }, async () => {
      const dataset = await loadDataset(o.data, { catalog: false });
      const split = splitInteractions(dataset.interactions, source);
      const described = describeSplit(split, dataset);
      await writeSplit(o.out, split, described);
      return described;
    });
    printJson(manifest);
  });
}
