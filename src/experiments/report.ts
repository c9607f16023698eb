import { attributeEvents } from '../events/attribution.js';
import type { ExposureRecord, UserEventRecord } from '../events/records.js';
import { excerpt, InputError } from '../util/errors.js';
import { controlOf, type Experiment } from './experiment.js';
import { chiSquareGoodnessOfFit, type ChiSquareTest, type Comparison, compare, cuped, ratioEstimate } from './statistics.js';

/**
 * `recsys ab report` (docs/experiments.md): per variant what its users saw and did, and each
 * variant against the control with per-user statistics, a sample-ratio-mismatch check and CUPED.
 */

export const AB_METRICS = ['ctr', 'clicks_per_user', 'conversion'] as const;
export type AbMetric = (typeof AB_METRICS)[number];

/** A split whose χ² p-value is below this is flagged as broken: at this level a sound split is flagged once in 1,000 reports. */
export const SRM_THRESHOLD = 0.001;

export interface AbLogs {
  readonly exposures: readonly ExposureRecord[];
  readonly events: readonly UserEventRecord[];
}

export interface AbReportOptions {
  /** Metrics compared (default all). */
  readonly metrics?: readonly AbMetric[];
  /** Two-sided level of the intervals and tests; default 0.05. */
  readonly alpha?: number;
  /** Where the logs came from, for messages. */
  readonly source?: string;
}

export interface VariantSummary {
  readonly name: string;
  readonly share: number;
  /** Distinct users with at least one exposure of this variant in the window. */
  readonly users: number;
  readonly exposures: number;
  /** Items shown (positions) over those exposures. */
  readonly shown: number;
  /** Shown positions with an attributed positive event (click, purchase). */
  readonly clicks: number;
  readonly ctr: number;
  readonly clicks_per_user: number;
  /** Share of users who converted (see AbReport.conversion_event). */
  readonly conversion: number;
  /** Users with an exposure or a purchase before the start. */
  readonly users_with_pre_period: number;
}

export interface CupedComparison extends Comparison {
  readonly theta: number;
  /** 1 − Σ Var(adjusted) / Σ Var(raw) over the two variants compared. */
  readonly variance_reduction: number;
}

export interface MetricComparison extends Comparison {
  readonly metric: AbMetric;
  readonly variant: string;
  /** The comparison on CUPED-adjusted means; null without a usable pre-period. */
  readonly cuped: CupedComparison | null;
}

export interface SampleRatioCheck extends ChiSquareTest {
  readonly threshold: number;
  readonly mismatch: boolean;
  /** N · share per variant. */
  readonly expected: Record<string, number>;
}

export interface AbReport {
  readonly experiment: string;
  readonly control: string;
  readonly start: string;
  readonly end: string | null;
  readonly alpha: number;
  /** purchase when the window holds any purchase event, else click (a user converts with ≥ 1 attributed click). */
  readonly conversion_event: 'purchase' | 'click';
  readonly variants: VariantSummary[];
  readonly srm: SampleRatioCheck;
  readonly comparisons: MetricComparison[];
  /** Users with exposures in more than one variant: each is kept in the variant of their first exposure. */
  readonly mixed_users: number;
  /** Positive events in the logs no exposure explains. */
  readonly unattributed_events: number;
}

/** One user's sums in the window, and the same before the start (the CUPED covariates). */
interface UserSums {
  readonly variant: number;
  readonly firstExposure: number;
  exposures: number;
  shown: number;
  clicks: number;
  purchased: boolean;
  preShown: number;
  preClicks: number;
  prePurchased: boolean;
  hasPre: boolean;
}

export function abReport(experiment: Experiment, logs: AbLogs, opts: AbReportOptions = {}): AbReport {
  const source = opts.source ?? 'logs';
  const alpha = opts.alpha ?? 0.05;
  const start = Date.parse(experiment.start);
  const end = experiment.end === undefined ? Number.POSITIVE_INFINITY : Date.parse(experiment.end);
  const inWindow = (t: number): boolean => t >= start && t < end;
  const variantIndex = new Map(experiment.variants.map((v, i) => [v.name, i]));

  const { exposures: attributed, unattributed } = attributeEvents(logs.exposures, logs.events);
  const ordered = attributed.filter((a) => a.exposure.user_id !== null).sort((a, b) => a.exposure.time - b.exposure.time);
  const before = new Map<number, { shown: number; clicks: number }>();
  const users = new Map<number, UserSums>();
  const mixed = new Set<number>();
  for (const { exposure, positive } of ordered) {
    const user = exposure.user_id as number;
    const clicks = positive.reduce((s, p) => s + p, 0);
    if (exposure.time < start) {
      const b = before.get(user) ?? { shown: 0, clicks: 0 };
      b.shown += exposure.items.length;
      b.clicks += clicks;
      before.set(user, b);
      continue;
    }
    if (exposure.experiment !== experiment.id || !inWindow(exposure.time)) continue;
    const variant = variantIndex.get(exposure.variant ?? '');
    if (variant === undefined)
      throw new InputError(
        `${source}: variant ${exposure.variant === null ? 'null' : excerpt(exposure.variant)} of experiment ${experiment.id} (request ${exposure.request_id}) is not in the experiment file`,
      );
    let s = users.get(user);
    if (!s) {
      const b = before.get(user);
      s = {
        variant,
        firstExposure: exposure.time,
        exposures: 0,
        shown: 0,
        clicks: 0,
        purchased: false,
        preShown: b?.shown ?? 0,
        preClicks: b?.clicks ?? 0,
        prePurchased: false,
        hasPre: b !== undefined,
      };
      users.set(user, s);
    }
    if (s.variant !== variant) {
      mixed.add(user);
      continue;
    }
    s.exposures++;
    s.shown += exposure.items.length;
    s.clicks += clicks;
  }
  if (users.size === 0)
    throw new InputError(
      `${source}: no exposures of experiment ${experiment.id} between ${experiment.start} and ${experiment.end ?? 'now'}`,
    );

  let windowPurchases = false;
  for (const e of logs.events) {
    if (e.type !== 'purchase') continue;
    const s = users.get(e.user_id);
    if (e.time < start) {
      if (s) s.prePurchased = s.hasPre = true;
    } else if (inWindow(e.time)) {
      windowPurchases = true;
      if (s && e.time >= s.firstExposure) s.purchased = true;
    }
  }

  // Per variant, per user: the numerator and denominator of every metric, during and before.
  const members = experiment.variants.map(() => [] as UserSums[]);
  for (const s of users.values()) members[s.variant].push(s);
  const converted = (s: UserSums, pre: boolean): number =>
    windowPurchases ? Number(pre ? s.prePurchased : s.purchased) : Number((pre ? s.preClicks : s.clicks) > 0);
  const perUser = (metric: AbMetric, group: readonly UserSums[], pre: boolean) => {
    const y = Float64Array.from(group, (s) => (metric === 'conversion' ? converted(s, pre) : pre ? s.preClicks : s.clicks));
    const x = Float64Array.from(group, (s) => (metric === 'ctr' ? (pre ? s.preShown : s.shown) : 1));
    return ratioEstimate(y, x);
  };

  const variants: VariantSummary[] = experiment.variants.map((v, i) => {
    const group = members[i];
    const sum = (f: (s: UserSums) => number): number => group.reduce((t, s) => t + f(s), 0);
    const shown = sum((s) => s.shown);
    const clicks = sum((s) => s.clicks);
    return {
      name: v.name,
      share: v.share,
      users: group.length,
      exposures: sum((s) => s.exposures),
      shown,
      clicks,
      ctr: shown > 0 ? clicks / shown : 0,
      clicks_per_user: group.length > 0 ? clicks / group.length : 0,
      conversion: group.length > 0 ? sum((s) => converted(s, false)) / group.length : 0,
      users_with_pre_period: sum((s) => Number(s.hasPre)),
    };
  });

  const chi = chiSquareGoodnessOfFit(
    variants.map((v) => v.users),
    variants.map((v) => v.share),
  );
  const srm: SampleRatioCheck = {
    ...chi,
    threshold: SRM_THRESHOLD,
    mismatch: chi.p_value < SRM_THRESHOLD,
    expected: Object.fromEntries(variants.map((v) => [v.name, users.size * v.share])),
  };

  const control = controlOf(experiment);
  const c = variantIndex.get(control) as number;
  const comparisons: MetricComparison[] = [];
  const present = members.flatMap((group, g) => (group.length > 0 ? [g] : []));
  const everyone = [...users.values()];
  for (const metric of opts.metrics ?? AB_METRICS) {
    const during = members.map((group) => perUser(metric, group, false));
    // One θ for the metric, pooled within every variant that has users, so that every
    // comparison adjusts the control the same way.
    const adjusted = cuped(
      present.map((g) => ({ during: during[g], before: perUser(metric, members[g], true) })),
      perUser(metric, everyone, true).value,
    );
    for (const t of present) {
      if (t === c || members[c].length === 0) continue;
      const cupedOf = (g: number) => adjusted?.adjusted[present.indexOf(g)];
      const [ac, at] = [cupedOf(c), cupedOf(t)];
      comparisons.push({
        metric,
        variant: experiment.variants[t].name,
        ...compare(during[c], during[t], alpha),
        cuped:
          adjusted && ac && at
            ? {
                theta: adjusted.theta,
                variance_reduction: 1 - (ac.variance + at.variance) / (during[c].variance + during[t].variance),
                ...compare(ac, at, alpha),
              }
            : null,
      });
    }
  }

  return {
    experiment: experiment.id,
    control,
    start: experiment.start,
    end: experiment.end ?? null,
    alpha,
    conversion_event: windowPurchases ? 'purchase' : 'click',
    variants,
    srm,
    comparisons,
    mixed_users: mixed.size,
    unattributed_events: unattributed,
  };
}
