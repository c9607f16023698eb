import chisquareCdf from '@stdlib/stats-base-dists-chisquare-cdf';
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';

/**
 * The statistics of an A/B report (docs/experiments.md): the user is the unit of randomisation,
 * so every metric is a ratio of per-user sums, Σ y_u / Σ x_u (x_u = 1 for a per-user mean), and
 * its variance comes from the delta method (Deng et al. 2018), not from counting impressions as
 * if they were independent.
 */

/** A ratio metric's estimate in one group of users, with the per-user linearisation behind its variance. */
export interface RatioEstimate {
  /** R = ȳ / x̄. */
  readonly value: number;
  /** Var(R) by the delta method: the sample variance of the linearised values over n. */
  readonly variance: number;
  /** Users. */
  readonly n: number;
  /**
   * ℓ_u = (y_u − R x_u) / x̄, whose mean is 0 and whose sample variance over n is Var(R):
   * the first-order change of R with user u, what CUPED regresses on its pre-period twin.
   */
  readonly linearised: Float64Array;
}

/** A ratio Σy / Σx over users with its delta-method variance; NaN value when Σx = 0. */
export function ratioEstimate(y: ArrayLike<number>, x: ArrayLike<number>): RatioEstimate {
  const n = y.length;
  let sy = 0;
  let sx = 0;
  for (let u = 0; u < n; u++) {
    sy += y[u];
    sx += x[u];
  }
  const meanX = sx / n;
  const value = sy / sx;
  const linearised = new Float64Array(n);
  if (sx === 0) return { value: Number.NaN, variance: Number.NaN, n, linearised };
  let ss = 0;
  for (let u = 0; u < n; u++) {
    linearised[u] = (y[u] - value * x[u]) / meanX;
    ss += linearised[u] * linearised[u];
  }
  return { value, variance: n > 1 ? ss / (n - 1) / n : Number.NaN, n, linearised };
}

/** A point estimate with the variance of the estimate. */
export interface Estimate {
  readonly value: number;
  readonly variance: number;
}

/** Treatment against control: the difference and the relative lift, each with its interval, and the test. */
export interface Comparison {
  readonly control: number;
  readonly treatment: number;
  /** treatment − control. */
  readonly difference: number;
  readonly difference_ci: [number, number];
  /** treatment / control − 1; null when the control is 0. */
  readonly lift: number | null;
  readonly lift_ci: [number, number] | null;
  /** Two-sided p-value of the z-test of difference = 0 (unequal variances). */
  readonly p_value: number;
}

/**
 * Compares two independent estimates: z = (t − c) / √(V_t + V_c); the lift t/c − 1 has, by the
 * delta method for a ratio of independent means, Var = V_t / c² + t² V_c / c⁴.
 */
export function compare(control: Estimate, treatment: Estimate, alpha = 0.05): Comparison {
  const z = normalQuantile(1 - alpha / 2, 0, 1);
  const c = control.value;
  const t = treatment.value;
  const difference = t - c;
  const seDiff = Math.sqrt(control.variance + treatment.variance);
  const p_value = seDiff > 0 ? 2 * (1 - normalCdf(Math.abs(difference) / seDiff, 0, 1)) : difference === 0 ? 1 : 0;
  const comparison = {
    control: c,
    treatment: t,
    difference,
    difference_ci: [difference - z * seDiff, difference + z * seDiff] as [number, number],
    p_value,
  };
  if (c === 0 || !Number.isFinite(c)) return { ...comparison, lift: null, lift_ci: null };
  const lift = t / c - 1;
  const seLift = Math.sqrt(treatment.variance / (c * c) + (t * t * control.variance) / (c * c * c * c));
  return { ...comparison, lift, lift_ci: [lift - z * seLift, lift + z * seLift] };
}

/** Pearson's χ² goodness-of-fit test. */
export interface ChiSquareTest {
  readonly statistic: number;
  readonly df: number;
  readonly p_value: number;
}

/** χ² = Σ (O_i − E_i)² / E_i with E_i = N · share_i, on k − 1 degrees of freedom. */
export function chiSquareGoodnessOfFit(observed: readonly number[], shares: readonly number[]): ChiSquareTest {
  const total = observed.reduce((s, o) => s + o, 0);
  let statistic = 0;
  observed.forEach((o, i) => {
    const expected = total * shares[i];
    statistic += ((o - expected) * (o - expected)) / expected;
  });
  const df = observed.length - 1;
  return { statistic, df, p_value: 1 - chisquareCdf(statistic, df) };
}

/** A group's ratio metric in the experiment and the same metric over the same users before it. */
export interface CupedGroup {
  readonly during: RatioEstimate;
  readonly before: RatioEstimate;
}

export interface CupedResult {
  /** θ = Σ_g Σ_u (ℓ_u − ℓ̄_g)(ℓ'_u − ℓ̄'_g) / Σ_g Σ_u (ℓ'_u − ℓ̄'_g)², pooled within groups. */
  readonly theta: number;
  /** The pre-period metric over all groups' users, the point every group's covariate is centred on. */
  readonly pooled_before: number;
  /** Per group: R − θ (R' − pooled_before), with the variance of ℓ − θ ℓ' over n. */
  readonly adjusted: Estimate[];
  /** 1 − Σ_g Var(adjusted_g) / Σ_g Var(R_g). */
  readonly variance_reduction: number;
}

/**
 * CUPED (Deng et al. 2013) on the delta-method linearisations: regressing the in-experiment
 * metric on its own pre-period value removes the variance the two share, and, the pre-period
 * being independent of the assignment, leaves every group's expectation where it was. θ is
 * pooled within groups so that a treatment effect cannot leak into it. Null when no group has a
 * usable pre-period (Σ x' = 0 in some group, or no variation in it).
 */
export function cuped(groups: readonly CupedGroup[], pooledBefore: number): CupedResult | null {
  if (groups.some((g) => !Number.isFinite(g.before.value) || g.during.n < 2)) return null;
  let cov = 0;
  let varBefore = 0;
  for (const { during, before } of groups) {
    const l = during.linearised;
    const lp = before.linearised;
    // Both linearisations have mean 0 by construction, so their sums are the within-group moments.
    for (let u = 0; u < l.length; u++) {
      cov += l[u] * lp[u];
      varBefore += lp[u] * lp[u];
    }
  }
  if (!(varBefore > 0)) return null;
  const theta = cov / varBefore;
  let rawVariance = 0;
  let adjustedVariance = 0;
  const adjusted = groups.map(({ during, before }) => {
    let ss = 0;
    for (let u = 0; u < during.n; u++) {
      const r = during.linearised[u] - theta * before.linearised[u];
      ss += r * r;
    }
    const variance = ss / (during.n - 1) / during.n;
    rawVariance += during.variance;
    adjustedVariance += variance;
    return { value: during.value - theta * (before.value - pooledBefore), variance };
  });
  return { theta, pooled_before: pooledBefore, adjusted, variance_reduction: 1 - adjustedVariance / rawVariance };
}
