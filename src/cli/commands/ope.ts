import { Command, InvalidArgumentError } from 'commander';
import { ESTIMATORS, type EstimatorName } from '../../ope/estimate.js';
import { type OpeRunReport, runOpe } from '../../pipeline/ope.js';
import { formatTable } from '../../pipeline/table.js';
import { intOption, printJson } from '../options.js';

function estimatorOption(v: string): readonly EstimatorName[] {
  if (v === 'all') return ESTIMATORS;
  if (!(ESTIMATORS as readonly string[]).includes(v))
    throw new InvalidArgumentError(`--estimator must be one of ${ESTIMATORS.join(', ')}, all`);
  return [v as EstimatorName];
}

export function opeCommand(): Command {
  return new Command('ope')
    .description(
      "off-policy evaluation: a model's clicks per request and CTR estimated from logs of another (exploring) policy, with bootstrap intervals",
    )
    .requiredOption('--model <artifact>', 'model artifact version, e.g. artifacts/ranker-temporal-user/latest')
    .requiredOption('--logs <dir>', 'the exposure and event log directory (recsys serve --log-dir, recsys simulate)')
    .option('--estimator <name>', `${ESTIMATORS.join(', ')} or all (docs/ope.md)`, estimatorOption, ESTIMATORS)
    .option('--k <n>', 'positions the model fills', intOption('--k', 1), 10)
    .option('--bootstrap <n>', 'bootstrap replicates over requests (0: no intervals)', intOption('--bootstrap', 0), 500)
    .option('--seed <n>', 'seed of the bootstrap', intOption('--seed', 0), 42)
    .option('--json', 'print the report as one JSON object (docs/ope.md)', false)
    .action(
      async (o: {
        model: string;
        logs: string;
        estimator: readonly EstimatorName[];
        k: number;
        bootstrap: number;
        seed: number;
        json: boolean;
      }) => {
        const report = await runOpe({
          model: o.model,
          logs: o.logs,
          k: o.k,
          estimators: o.estimator,
          bootstrap: o.bootstrap,
          seed: o.seed,
        });
        if (o.json) printJson(report);
        else process.stdout.write(`${formatOpeReport(report)}\n`);
      },
    );
}

export function formatOpeReport(r: OpeRunReport): string {
  const f = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : '-');
  const rows = r.estimates.map((e) => [
    e.estimator,
    f(e.value),
    `[${f(e.interval[0])}, ${f(e.interval[1])}]`,
    f(e.ctr),
    `[${f(e.ctrInterval[0])}, ${f(e.ctrInterval[1])}]`,
    e.effectiveSampleSize.toFixed(0),
  ]);
  return [
    `${r.model.name} ${r.model.version} on ${r.logs}: ${r.requests} requests, k = ${r.k}, ${r.unattributed} unattributed positive events`,
    formatTable(['estimator', 'clicks/request', '95 % CI', 'CTR', 'CTR 95 % CI', 'ESS (slots)'], rows),
    `position curve θ_p/θ_1: ${r.positionCurve.map((t) => t.toFixed(3)).join(' ')}`,
    `target slots with an item never logged: ${(100 * r.unsupportedShare).toFixed(1)} %, never shown to that user: ${(100 * r.unshownToUserShare).toFixed(1)} %${r.warning ? `\nwarning: ${r.warning}` : ''}`,
  ].join('\n');
}
