import { Command, Option } from 'commander';
import { dirname } from 'node:path';
import { ARTIFACT_FOLDER_OUTPUT } from '../../artifacts/store.js';
import { indexModel, indexOutput } from '../../pipeline/index-model.js';
import { withStandaloneOutput } from '../../pipeline/standalone.js';
import type { Metric } from '../../index/ann-index.js';
import { InputError } from '../../util/errors.js';
import { intOption, printJson } from '../options.js';
import { addPipelineOptions, runPipelineCommand } from './pipeline.js';

export function indexCommand(): Command {
  const cmd = new Command('index')
    .description("build a FAISS index of a model's item embeddings into its artifact, with recall and speed measured")
    .option('--model <artifact>', 'model artifact, e.g. artifacts/als/latest')
    .option('--factory <string>', 'FAISS index factory: Flat, IVF1024,Flat, HNSW32, IVF256,PQ16, ...', 'Flat')
    .addOption(new Option('--metric <metric>', 'ip (inner product, the score of factor models) or l2').choices(['ip', 'l2']).default('ip'))
    .option('--nprobe <n>', 'IVF: inverted lists probed per query', intOption('--nprobe', 1))
    .option('--ef-search <n>', 'HNSW: candidate list size at search', intOption('--ef-search', 1))
    .addOption(
      new Option(
        '--mips-transform <mode>',
        'inner product as L2 search on vectors with one extra coordinate (auto: for IVF factories under ip whose PQ, if any, can split the extra dimension; docs/artifacts.md)',
      )
        .choices(['auto', 'on', 'off'])
        .default('auto'),
    )
    .option('--out <dir>', "artifact directory of the result (default: a new version of the model's artifact)")
    .option('--seed <s>', 'seed of the training and query samples', intOption('--seed'), 42)
    .option('--json', 'print the build report as JSON', false);
  return addPipelineOptions(cmd, 'the index steps (from the latest model artifacts)').action(
    async (o: {
      model?: string;
      pipeline?: string;
      force: boolean;
      factory: string;
      metric: Metric;
      nprobe?: number;
      efSearch?: number;
      mipsTransform: 'auto' | 'on' | 'off';
      out?: string;
      seed: number;
      json: boolean;
    }) => {
      if (o.pipeline) return runPipelineCommand({ ...o, pipeline: o.pipeline }, { kinds: ['index'] }, 'recsys index --pipeline');
      const model = o.model;
      if (!model) throw new InputError('recsys index: --model (or --pipeline FILE) is required');
      const out = indexOutput({ model, out: o.out });
      const { dir, report } = await withStandaloneOutput({ out, kind: ARTIFACT_FOLDER_OUTPUT, root: dirname(out) }, () =>
        indexModel({
          model,
          factory: o.factory,
          metric: o.metric,
          nprobe: o.nprobe,
          efSearch: o.efSearch,
          mipsTransform: o.mipsTransform,
          out,
          seed: o.seed,
        }),
      );
      if (o.json) {
        printJson({ artifact: dir, ...report });
        return;
      }
      const m = report.measurement;
      process.stdout.write(
        `${[
          `index ${o.factory} (${report.build.metric}) → ${dir}`,
          `  ${report.build.rows} items × ${report.build.dim}, ${(report.bytes / 2 ** 20).toFixed(1)} MiB, built in ${report.build.seconds.total.toFixed(2)} s (train ${report.build.seconds.train.toFixed(2)} s, add ${report.build.seconds.add.toFixed(2)} s)`,
          `  recall@10 vs exact search: ${m.recall.toFixed(4)} on ${m.queries} user vectors`,
          `  queries/s: ${m.index.singleQps.toFixed(0)} single, ${m.index.batchedQps.toFixed(0)} batched (exact: ${m.exact.singleQps.toFixed(0)} / ${m.exact.batchedQps.toFixed(0)})`,
        ].join('\n')}\n`,
      );
    },
  );
}
