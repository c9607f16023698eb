import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_ATTRIBUTION_WINDOW_MS } from '../../events/attribution.js';
import { readLogInto } from '../../events/log-reader.js';
import { loadExperiment } from '../../experiments/experiment.js';
import { planSampleSize } from '../../experiments/plan.js';
import { AB_METRICS, type AbMetric, type AbReport, abReport } from '../../experiments/report.js';
import type { Comparison } from '../../experiments/statistics.js';
import { formatTable } from '../../pipeline/table.js';
import { floatOption, printJson } from '../options.js';

interface ReportCliOptions {
  experiment: string;
  logs: string;
  json: boolean;
  metric?: AbMetric;
}

interface PlanCliOptions {
  baseline: number;
  mde: number;
  alpha: number;
  power: number;
  relative: boolean;
  json: boolean;
}

function metricOption(v: string): AbMetric {
  if (!(AB_METRICS as readonly string[]).includes(v)) throw new InvalidArgumentError(`--metric must be one of ${AB_METRICS.join(', ')}`);
  return v as AbMetric;
}

export function abCommand(): Command {
  const ab = new Command('ab').description('A/B tests: reports with per-user statistics, and the users a test needs');
  ab.command('report')
    .description(
      'per variant users, exposures, clicks, CTR, clicks per user, conversion; lift against the control with 95 % CI and p-value (delta method), SRM check, CUPED',
    )
    .requiredOption('--experiment <file>', 'the experiment file (YAML or JSON, docs/experiments.md)')
    .requiredOption('--logs <dir>', 'the exposure and event log directory (recsys serve --log-dir, recsys simulate)')
    .option('--json', 'print the report as one JSON object (schema: docs/experiments.md)', false)
    .option('--metric <name>', `compare only this metric (${AB_METRICS.join(', ')}); default all`, metricOption)
    .action(async (o: ReportCliOptions) => {
      const experiment = loadExperiment(o.experiment);
      const logs = await readLogInto(o.logs);
      const report = abReport(experiment, logs, { metrics: o.metric ? [o.metric] : undefined, source: o.logs });
      if (o.json) printJson(report);
      else process.stdout.write(`${formatAbReport(report)}\n`);
    });
  ab.command('plan')
    .description('users per variant for a two-sided two-proportion test (docs/experiments.md)')
    .requiredOption('--baseline <p>', "the control's rate, e.g. 0.05", floatOption('--baseline'))
    .requiredOption('--mde <d>', 'the smallest change to detect: absolute (0.05 → 0.07 for 0.02) unless --relative', floatOption('--mde'))
    .option('--relative', 'read --mde as relative (0.05 → 0.051 for 0.02)', false)
    .option('--alpha <a>', 'two-sided significance level', floatOption('--alpha'), 0.05)
    .option('--power <p>', 'probability of detecting a true change of --mde', floatOption('--power'), 0.8)
    .option('--json', 'print the plan as one JSON object', false)
    .action((o: PlanCliOptions) => {
      const plan = planSampleSize(o);
      if (o.json) printJson(plan);
      else
        process.stdout.write(
          `${plan.users_per_variant} users per variant to detect ${plan.baseline} → ${plan.target} ` +
            `(two-sided α = ${plan.alpha}, power ${plan.power})\n`,
        );
    });
  return ab;
}

const fixed = (v: number, digits = 4): string => (Number.isFinite(v) ? v.toFixed(digits) : '-');
const percent = (v: number): string => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${(100 * v).toFixed(2)}%` : '-');
const pValue = (p: number): string => (!Number.isFinite(p) ? '-' : p < 1e-4 ? '<0.0001' : p.toFixed(4));
const share = (v: number): string => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : '-');
const interval = ([lo, hi]: readonly [number, number], f: (v: number) => string): string => `[${f(lo)}, ${f(hi)}]`;

/** The lift and its interval, or the difference when the control is 0. */
function liftCells(c: Comparison): [string, string] {
  if (c.lift === null || c.lift_ci === null) return [`Δ ${fixed(c.difference)}`, interval(c.difference_ci, fixed)];
  return [percent(c.lift), interval(c.lift_ci, percent)];
}

/** The report as a person reads it: the variants, the split check, then each comparison. */
export function formatAbReport(r: AbReport): string {
  const lines = [`experiment ${r.experiment}: ${r.start} to ${r.end ?? 'now'}, control ${r.control}`, ''];
  lines.push(
    formatTable(
      ['variant', 'share', 'users', 'exposures', 'shown', 'clicks', 'ctr', 'clicks/user', 'conversion'],
      r.variants.map((v) => [
        v.name,
        String(v.share),
        String(v.users),
        String(v.exposures),
        String(v.shown),
        String(v.clicks),
        fixed(v.ctr),
        fixed(v.clicks_per_user),
        fixed(v.conversion),
      ]),
    ),
  );
  lines.push(
    `conversion: share of users with ≥ 1 ${r.conversion_event}${r.conversion_event === 'click' ? ' (the logs hold no purchase)' : ''}`,
  );
  lines.push('');
  const srm = `sample ratio: χ² = ${r.srm.statistic.toFixed(2)} on ${r.srm.df} df, p = ${pValue(r.srm.p_value)}`;
  lines.push(
    r.srm.mismatch
      ? `${srm}: MISMATCH (p < ${r.srm.threshold}): users are not split as declared; the comparisons below are not trustworthy`
      : `${srm}: ok`,
  );
  lines.push('');
  const level = `${Math.round(100 * (1 - r.alpha))} % CI`;
  lines.push(
    formatTable(
      ['metric', 'variant', 'control', 'variant value', 'lift', level, 'p', 'CUPED lift', `CUPED ${level}`, 'CUPED p', 'var. reduction'],
      r.comparisons.map((c) => [
        c.metric,
        c.variant,
        fixed(c.control),
        fixed(c.treatment),
        ...liftCells(c),
        pValue(c.p_value),
        ...(c.cuped ? [...liftCells(c.cuped), pValue(c.cuped.p_value), share(c.cuped.variance_reduction)] : ['-', '-', '-', '-']),
      ]),
    ),
  );
  const users = r.variants.reduce((s, v) => s + v.users, 0);
  const withPre = r.variants.reduce((s, v) => s + v.users_with_pre_period, 0);
  lines.push(`CUPED: ${withPre} of ${users} users have a pre-period (the others count as 0)`);
  if (r.mixed_users > 0) lines.push(`warning: ${r.mixed_users} users were shown more than one variant (each kept in their first)`);
  if (r.unattributed_events > 0)
    lines.push(
      `note: ${r.unattributed_events} clicks or purchases match no exposure within ${DEFAULT_ATTRIBUTION_WINDOW_MS / 60_000} minutes`,
    );
  return lines.join('\n');
}
