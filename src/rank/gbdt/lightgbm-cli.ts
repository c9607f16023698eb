import { join } from 'node:path';
import { writeLightgbmTsv } from './data-files.js';
import type { EngineCli, MetricLine } from './engine-cli.js';
import { configText } from './params.js';

/**
 * The LightGBM command-line program: `lightgbm config=<file>`; TSV data with the label in
 * column 0 and query sizes in `<data>.query`. It logs to stdout, e.g.
 * "[LightGBM] [Info] Iteration:12, valid_1 ndcg@10 : 0.80116".
 */
const METRIC_LINE = /Iteration:(\d+), \S+ (\S+) : (\S+)/;

export const lightgbmCli: EngineCli = {
  engine: 'lightgbm',
  modelFile: 'model.txt',

  writeData(dir, name, data) {
    const file = `${name}.tsv`;
    writeLightgbmTsv(join(dir, file), data);
    return file;
  },

  trainConfig(p, files) {
    const bagging = p.baggingFraction !== undefined && p.baggingFraction < 1;
    return configText([
      ['task', 'train'],
      ['objective', p.objective],
      ['metric', p.objective === 'regression' ? 'l2' : 'ndcg'],
      ['eval_at', p.objective === 'regression' ? undefined : p.evalAt.join(',')],
      ['data', files.train],
      ['valid_data', files.valid ?? undefined],
      ['header', false],
      ['label_column', 0],
      // Reads the exact doubles the writer printed (the default fast parser can be an ulp off).
      ['precise_float_parser', true],
      ['num_iterations', p.numTrees],
      ['learning_rate', p.learningRate],
      ['num_leaves', p.numLeaves],
      ['max_depth', p.maxDepth > 0 ? p.maxDepth : -1],
      ['min_data_in_leaf', p.minDataInLeaf],
      ['min_sum_hessian_in_leaf', p.minChildWeight],
      ['feature_fraction', p.featureFraction],
      ['bagging_fraction', p.baggingFraction],
      ['bagging_freq', bagging ? 1 : undefined],
      ['lambda_l2', p.lambdaL2],
      ['max_bin', p.maxBin],
      ['categorical_feature', p.categoricalFeatures?.length ? p.categoricalFeatures.join(',') : undefined],
      // The same seed gives the same model.
      ['seed', p.seed],
      ['deterministic', true],
      ['force_row_wise', true],
      ['num_threads', p.threads > 0 ? p.threads : undefined],
      ['metric_freq', 1],
      ['is_provide_training_metric', false],
      ['output_model', files.model],
      ...Object.entries(p.extra ?? {}),
    ]);
  },

  predictConfig(files) {
    return configText([
      ['task', 'predict'],
      ['data', files.data],
      ['header', false],
      ['label_column', 0],
      ['precise_float_parser', true],
      ['input_model', files.model],
      ['output_result', files.output],
      ['predict_raw_score', true],
    ]);
  },

  args: (configFile) => [`config=${configFile}`],

  parseLogLine(line): MetricLine[] {
    const m = METRIC_LINE.exec(line);
    return m ? [{ iteration: Number(m[1]), metric: m[2], value: Number(m[3]) }] : [];
  },

  // The LightGBM CLI has no version flag.
  version: async () => null,
};
