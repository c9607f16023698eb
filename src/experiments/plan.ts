import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import { InputError } from '../util/errors.js';

/** What `recsys ab plan` is asked: detect a change of a conversion-like rate from `baseline`. */
export interface PlanOptions {
  /** The control's rate p₁, 0 < p₁ < 1. */
  readonly baseline: number;
  /** The smallest change worth detecting: absolute (p₂ = p₁ + mde) unless `relative` (p₂ = p₁ (1 + mde)). */
  readonly mde: number;
  readonly relative?: boolean;
  /** Two-sided significance level; default 0.05. */
  readonly alpha?: number;
  /** Probability of detecting a true change of mde; default 0.8. */
  readonly power?: number;
}

export interface Plan {
  readonly baseline: number;
  readonly target: number;
  readonly alpha: number;
  readonly power: number;
  /** n before rounding up. */
  readonly exact: number;
  /** Users per variant: ⌈n⌉. */
  readonly users_per_variant: number;
}

/**
 * Users per variant for a two-sided two-proportion z-test (Fleiss, without continuity correction;
 * R's power.prop.test): n = (z_{1−α/2} √(2 p̄ q̄) + z_{1−β} √(p₁q₁ + p₂q₂))² / (p₂ − p₁)², p̄ = (p₁ + p₂)/2.
 */
export function planSampleSize(o: PlanOptions): Plan {
  const alpha = o.alpha ?? 0.05;
  const power = o.power ?? 0.8;
  const open = (name: string, v: number): void => {
    if (!(v > 0 && v < 1)) throw new InputError(`--${name} must be between 0 and 1 (exclusive), got ${v}`);
  };
  open('baseline', o.baseline);
  open('alpha', alpha);
  open('power', power);
  const p1 = o.baseline;
  const p2 = o.relative ? p1 * (1 + o.mde) : p1 + o.mde;
  if (o.mde === 0 || !(p2 > 0 && p2 < 1))
    throw new InputError(
      `--mde ${o.mde}${o.relative ? ' (relative)' : ''} must be non-zero and move the baseline ${p1} to a rate between 0 and 1, got ${p2}`,
    );
  const pBar = (p1 + p2) / 2;
  const root =
    normalQuantile(1 - alpha / 2, 0, 1) * Math.sqrt(2 * pBar * (1 - pBar)) +
    normalQuantile(power, 0, 1) * Math.sqrt(p1 * (1 - p1) + p2 * (1 - p2));
  const exact = (root * root) / ((p2 - p1) * (p2 - p1));
  return { baseline: p1, target: p2, alpha, power, exact, users_per_variant: Math.ceil(exact) };
}
