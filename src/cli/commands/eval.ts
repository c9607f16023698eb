import { Command } from 'commander';
import { checkGateMetrics, enforceGates, parseGate } from '../../eval/gates.js';
import { formatMetricsTable } from '../../eval/report.js';
import { RECS_DUMP_OUTPUT } from '../../eval/evaluate.js';
import { evaluateRun } from '../../pipeline/evaluate.js';
import { withStandaloneOutput } from '../../pipeline/standalone.js';
import { formatFunnelReport } from '../../rank/evaluate-funnel.js';
import { modelKinds } from '../../pipeline/model-registry.js';
import { InputError } from '../../util/errors.js';
import { addSplitOptions, collect, cutoffsOption, intOption, printJson, splitSourceFrom, type SplitCliOptions } from '../options.js';
import { addPipelineOptions, runPipelineCommand, type PipelineCliOptions } from './pipeline.js';

interface EvalCliOptions {
  model?: string;
  data?: string;
  k: number[];
  seed: number;
  json: boolean;
  dumpRecs?: string;
  failUnder: string[];
  viaIndex: boolean;
  stages: boolean;
  nprobe?: number;
  efSearch?: number;
}

export function evalCommand(): Command {
  const cmd = new Command('eval')
    .description('offline evaluation: NDCG/Recall/Precision/MAP/MRR/hit rate, coverage, diversity, novelty; CI gates')
    .option(
      '--model <kind|artifact>',
      `a model kind fitted on the fly (${modelKinds().join(', ')}) or an artifact (e.g. artifacts/als/latest)`,
    )
    .option('--data <dir>', 'dataset directory (default for an artifact: the data it was trained on)')
    .option('--k <list>', 'cut-offs, comma-separated', cutoffsOption, [10])
    .option('--seed <s>', 'random seed of on-the-fly fits', intOption('--seed'), 42)
    .option('--json', 'print one JSON object of metrics', false)
    .option('--dump-recs <file>', 'write user_id,item_id,rank CSV of every evaluated user')
    .option('--fail-under <metric=value>', 'exit 3 when a metric is below the bound (repeatable), e.g. ndcg@10=0.05', collect, [])
    .option('--via-index', "retrieve through the artifact's FAISS index (built by `recsys index`) instead of exact scoring", false)
    .option('--nprobe <n>', 'with --via-index: IVF lists probed (default: as built)', intOption('--nprobe', 1))
    .option('--ef-search <n>', 'with --via-index: HNSW search list size (default: as built)', intOption('--ef-search', 1))
    .option(
      '--stages',
      'ranker: metrics after each stage (each channel, merged candidates, ranked, re-ranked) and candidate recall@N',
      false,
    );
  addSplitOptions(cmd);
  addPipelineOptions(cmd, 'the eval steps (with --split NAME: of that split) and their gates');
  return cmd.action(async (o: SplitCliOptions & EvalCliOptions & Partial<PipelineCliOptions>) => {
    if (o.pipeline)
      return runPipelineCommand({ ...o, pipeline: o.pipeline }, { kinds: ['eval'], split: o.split }, 'recsys eval --pipeline');
    const model = o.model;
    if (!model) throw new InputError('recsys eval: --model (or --pipeline FILE) is required');
    const gates = o.failUnder.map(parseGate);
    checkGateMetrics(gates, o.k);
    const evaluate = () =>
      evaluateRun({
        model,
        datasetDir: o.data,
        split: splitSourceFrom(o),
        ks: o.k,
        dumpRecs: o.dumpRecs,
        seed: o.seed,
        viaIndex: o.viaIndex ? { nprobe: o.nprobe, efSearch: o.efSearch } : undefined,
        stages: o.stages,
      });
    const outcome = o.dumpRecs ? await withStandaloneOutput({ out: o.dumpRecs, kind: RECS_DUMP_OUTPUT }, evaluate) : await evaluate();
    if (o.json) printJson({ protocol: outcome.protocol, ...outcome.metrics, ...(outcome.funnel ? { funnel: outcome.funnel } : {}) });
    else process.stdout.write(`${formatMetricsTable(outcome.metrics, `${o.model} on ${outcome.protocol}`)}\n`);
    if (outcome.funnel && !o.json) process.stdout.write(`\n${formatFunnelReport(outcome.funnel, o.k)}\n`);
    enforceGates(outcome.metrics, gates);
  });
}
