import { Command, InvalidArgumentError } from 'commander';
import { withStandaloneOutput } from '../../pipeline/standalone.js';
import { runSimulation, SIMULATION_OUTPUT, type SimulationTarget } from '../../simulate/run.js';
import { InputError } from '../../util/errors.js';
import { floatOption, intOption, printJson } from '../options.js';

interface SimulateOptions {
  data: string;
  serve?: string;
  model?: string;
  pipeline?: string;
  experiment?: string;
  policy?: string;
  inProcess: boolean;
  days: number;
  usersPerDay: number;
  k: number;
  seed: number;
  positions?: number[];
  purchaseShare: number;
  out: string;
  json: boolean;
}

function positionsOption(v: string): number[] {
  const values = v.split(',').map((s) => Number(s.trim()));
  if (values.some((x) => !Number.isFinite(x)))
    throw new InvalidArgumentError('--positions must be comma-separated numbers, e.g. 1,0.6,0.45');
  return values;
}

/** `recsys simulate`: simulated users clicking on the answers of a model or server (docs/simulator.md). */
export function simulateCommand(): Command {
  return new Command('simulate')
    .description('simulated users of a synth dataset request recommendations and click by the planted truth; logs + truth.json')
    .requiredOption('--data <dir>', 'a dataset written by `recsys data synth` (its planted preferences are the truth)')
    .option('--serve <url>', 'ask a running `recsys serve` at this URL (GET /recommend/:user, POST /events)')
    .option('--model <artifact>', 'answer in memory from this model artifact (its latest)')
    .option('--pipeline <file>', "answer in memory from the model a pipeline file's last recommend step exports")
    .option('--experiment <file>', 'split users between the variants of this experiment file (each variant its model and policy)')
    .option('--policy <spec>', 'placement policy with --model/--pipeline (variants may name their own)', 'greedy')
    .option(
      '--in-process',
      'with --model/--pipeline: ask the serving library in this process (experiment, policies, session history, on simulated time) instead of precomputed lists',
      false,
    )
    .option('--days <n>', 'simulated days', intOption('--days', 1), 7)
    .option(
      '--users-per-day <n>',
      'arrivals per day (users drawn uniformly, returning users allowed)',
      intOption('--users-per-day', 1),
      500,
    )
    .option('--k <n>', 'items per request', intOption('--k', 1), 10)
    .option('--seed <n>', 'seed of arrivals, clicks and policies', intOption('--seed', 0), 1)
    .option('--positions <list>', 'examination probability by position, θ_1..θ_k in (0, 1] (default p^-0.7)', positionsOption)
    .option('--purchase-share <x>', 'share of clicks followed by a purchase event', floatOption('--purchase-share'), 0)
    .requiredOption('--out <dir>', 'output directory: logs/ (the local log store) and truth.json')
    .option('--json', 'print truth.json', false)
    .action(async (o: SimulateOptions) => {
      const given = [o.serve, o.model, o.pipeline].filter((x) => x !== undefined).length;
      if (given !== 1) throw new InputError('simulate needs exactly one of --serve URL, --model ARTIFACT and --pipeline FILE');
      const target: SimulationTarget =
        o.serve !== undefined ? { serve: o.serve } : o.model !== undefined ? { model: o.model } : { pipeline: o.pipeline as string };
      const report = await withStandaloneOutput({ out: o.out, kind: SIMULATION_OUTPUT }, () =>
        runSimulation({
          data: o.data,
          target,
          experiment: o.experiment,
          policy: o.policy,
          inProcess: o.inProcess,
          days: o.days,
          usersPerDay: o.usersPerDay,
          k: o.k,
          seed: o.seed,
          positions: o.positions,
          purchaseShare: o.purchaseShare,
          out: o.out,
        }),
      );
      if (o.json) {
        printJson(report.truth);
        return;
      }
      const lines = Object.entries(report.truth.variants).map(([name, v]) => {
        const population = v.population ? `  population CTR ${v.population.ctr.toFixed(4)}` : '';
        return `${name.padEnd(16)} ${String(v.shown.arrivals).padStart(7)} requests  ${String(v.shown.clicks).padStart(6)} clicks  true CTR ${v.shown.ctr.toFixed(4)}${population}`;
      });
      for (const [name, l] of Object.entries(report.truth.lift))
        lines.push(
          `lift of ${name} over ${report.truth.control}: ${(100 * l.shown).toFixed(2)} % shown${l.population === null ? '' : `, ${(100 * l.population).toFixed(2)} % population`}`,
        );
      process.stdout.write(`${lines.join('\n')}\n→ ${report.out} (${report.seconds.toFixed(1)} s)\n`);
    });
}
