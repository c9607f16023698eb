import { Command, InvalidArgumentError } from 'commander';
import {
  estimatePositionBiasFromLogs,
  type PositionBiasFromLogs,
  type PositionBiasMethod,
  type RelevanceKey,
} from '../../ope/position-bias.js';
import { formatTable } from '../../pipeline/table.js';
import { floatOption, intOption, printJson } from '../options.js';

interface PositionsCliOptions {
  logs: string;
  method: PositionBiasMethod;
  relevance: RelevanceKey;
  bootstrap: number;
  confidence: number;
  seed: number;
  maxPosition?: number;
  json: boolean;
}

const choice =
  <T extends string>(name: string, values: readonly T[]) =>
  (v: string): T => {
    if (!(values as readonly string[]).includes(v)) throw new InvalidArgumentError(`${name} must be one of ${values.join(', ')}`);
    return v as T;
  };

/** `recsys positions`: the position bias θ_p estimated from exposure logs (docs/position-bias.md). */
export function positionsCommand(): Command {
  return new Command('positions')
    .description(
      'position bias: θ_p (examination at p relative to position 1) from exploration logs, by randomised swaps or EM, with bootstrap CIs',
    )
    .requiredOption('--logs <dir>', 'the exposure and event log directory (recsys serve --log-dir, recsys simulate)')
    .option(
      '--method <m>',
      'swap (logs of --policy swap:Q) or em (position-based model; any logs where items move)',
      choice('--method', ['swap', 'em'] as const),
      'em',
    )
    .option(
      '--relevance <key>',
      'em: one relevance per item or per user-item pair',
      choice('--relevance', ['item', 'user-item'] as const),
      'item',
    )
    .option('--bootstrap <n>', 'bootstrap replicates over requests (0 = no intervals)', intOption('--bootstrap', 0), 200)
    .option('--confidence <c>', 'interval coverage', floatOption('--confidence'), 0.95)
    .option('--seed <n>', 'bootstrap seed', intOption('--seed'), 42)
    .option('--max-position <p>', 'ignore positions beyond p', intOption('--max-position', 1))
    .option('--json', 'print the report as one JSON object (docs/position-bias.md)', false)
    .action(async (o: PositionsCliOptions) => {
      const report = await estimatePositionBiasFromLogs(o.logs, {
        method: o.method,
        relevance: o.relevance,
        bootstrap: o.bootstrap,
        confidence: o.confidence,
        seed: o.seed,
        maxPosition: o.maxPosition,
      });
      if (o.json) printJson(report);
      else process.stdout.write(`${formatPositionBias(report)}\n`);
    });
}

const fixed = (v: number | null): string => (v === null ? '-' : v.toFixed(4));

export function formatPositionBias(r: PositionBiasFromLogs): string {
  const em = r.em
    ? `; EM ${r.em.iterations} iterations${r.em.converged ? '' : ' (not converged)'} over ${r.em.keys} ${r.em.relevance} relevances`
    : '';
  const interval =
    r.bootstrap > 0
      ? `${Math.round(r.confidence * 100)} % bootstrap interval of ${r.bootstrap} replicates (seed ${r.seed})`
      : 'no intervals';
  const head = `position bias by ${r.method} from ${r.exposures} exposures of ${r.logs.dir}: ${interval}${em}`;
  const table = formatTable(
    ['position', 'theta', 'low', 'high', 'observations', 'clicks'],
    r.positions.map((p) => [String(p.position), fixed(p.theta), fixed(p.low), fixed(p.high), String(p.observations), String(p.clicks)]),
  );
  return [head, table, ...r.warnings.map((w) => `warning: ${w}`)].join('\n');
}
