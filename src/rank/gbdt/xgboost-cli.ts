import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeXgboostLibsvm } from './data-files.js';
import type { EngineCli, MetricLine } from './engine-cli.js';
import { configText } from './params.js';
import { runProgram } from './program.js';

/**
 * The XGBoost command-line program (Debian package `xgboost`): `xgboost <config file>`;
 * LibSVM data whose `qid:` tokens give the query groups; a model_out ending in ".json" is
 * saved as a JSON model. It logs to stderr, e.g. "[12:17:09] [0]\tvalid-ndcg@10:0.92390".
 */
const ROUND_LINE = /^\[[\d:]+\]\s+\[(\d+)\]\s+(.*)$/;
const METRIC = /^[^-\s]+-(\S+):(\S+)$/;

export const xgboostCli: EngineCli = {
  engine: 'xgboost',
  modelFile: 'model.json',

  writeData(dir, name, data) {
    const file = `${name}.libsvm`;
    writeXgboostLibsvm(join(dir, file), data);
    return `"${file}?format=libsvm"`;
  },

  trainConfig(p, files) {
    return configText([
      ['task', 'train'],
      ['booster', 'gbtree'],
      ['objective', p.objective === 'regression' ? 'reg:squarederror' : 'rank:ndcg'],
      ['data', files.train],
      ['eval[valid]', files.valid ?? undefined],
      ...(p.objective === 'regression' ? [['eval_metric', 'rmse'] as const] : p.evalAt.map((k) => ['eval_metric', `ndcg@${k}`] as const)),
      // Leaf-wise growth with a leaf budget, as LightGBM grows trees.
      ['tree_method', 'hist'],
      ['grow_policy', 'lossguide'],
      ['max_leaves', p.numLeaves],
      ['max_depth', Math.max(p.maxDepth, 0)],
      ['num_round', p.numTrees],
      ['eta', p.learningRate],
      ['min_child_weight', p.minChildWeight],
      ['colsample_bytree', p.featureFraction],
      ['subsample', p.baggingFraction],
      ['lambda', p.lambdaL2],
      ['max_bin', p.maxBin],
      ['seed', p.seed],
      ['nthread', p.threads > 0 ? p.threads : undefined],
      ['model_out', files.model],
      ...Object.entries(p.extra ?? {}),
    ]);
  },

  predictConfig(files) {
    return configText([
      ['task', 'pred'],
      ['model_in', files.model],
      ['test:data', files.data],
      ['name_pred', files.output],
      ['pred_margin', 1],
    ]);
  },

  args: (configFile) => [configFile],

  parseLogLine(line): MetricLine[] {
    const m = ROUND_LINE.exec(line);
    if (!m) return [];
    return m[2].split('\t').flatMap((field) => {
      const f = METRIC.exec(field.trim());
      return f ? [{ iteration: Number(m[1]) + 1, metric: f[1], value: Number(f[2]) }] : [];
    });
  },

  async version(program, env) {
    const run = await runProgram({ program, args: ['-V'], cwd: tmpdir(), timeoutMs: 10_000, env });
    return /XGBoost:\s*(\S+)/.exec(run.stdoutTail + run.stderrTail)?.[1] ?? null;
  },
};
