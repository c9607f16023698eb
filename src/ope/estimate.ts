import type { AttributedExposure } from '../events/attribution.js';
import { propensityAtEveryPosition } from '../explore/epsilon-greedy.js';
import { Rng } from '../util/rng.js';
import { attractionOf, fitPositionBasedModel } from './click-model.js';
import { percentileInterval } from './percentile.js';

/** The estimators of docs/ope.md. */
export const ESTIMATORS = ['ips', 'snips', 'dr', 'pbm'] as const;
export type EstimatorName = (typeof ESTIMATORS)[number];

/** Above this share of target slots without logged support, the report warns. */
export const SUPPORT_WARNING_SHARE = 0.05;
export const DEFAULT_BOOTSTRAP = 500;

export interface OpeOptions {
  /** Positions the target fills (and the estimators count). */
  readonly k: number;
  readonly estimators?: readonly EstimatorName[];
  /** Bootstrap replicates (0: no intervals). Default 500. */
  readonly bootstrap?: number;
  readonly seed?: number;
  /** Interval coverage. Default 0.95. */
  readonly level?: number;
}

export interface EstimateReport {
  readonly estimator: EstimatorName;
  /** Expected clicks per request under the target. */
  readonly value: number;
  /** Percentile bootstrap interval of `value` ([NaN, NaN] without replicates). */
  readonly interval: readonly [number, number];
  /** Expected clicks per shown slot: value over the target's mean list length. */
  readonly ctr: number;
  readonly ctrInterval: readonly [number, number];
  /** Expected clicks at each position 1..k. */
  readonly perPosition: readonly number[];
  /** (Σw)² / Σw² of the estimator's importance weights over all target slots (n·k for on-policy logs). */
  readonly effectiveSampleSize: number;
}

export interface OpeReport {
  /** Requests evaluated: logged answers to a user (route `user`) with at least one item. */
  readonly requests: number;
  readonly k: number;
  /** Target slots (request × position the target fills). */
  readonly slots: number;
  /** Share of target slots whose item the logs never showed at all (zero logged propensity everywhere): the warning's measure. */
  readonly unsupportedShare: number;
  /** Share of target slots whose item the logs never showed to that user (includes the unsupported ones; grows as logs per user shrink). */
  readonly unshownToUserShare: number;
  readonly warning: string | null;
  /** The fitted position curve θ_p / θ_1, positions 1..k. */
  readonly positionCurve: readonly number[];
  readonly estimates: readonly EstimateReport[];
}

/**
 * Off-policy estimates (docs/ope.md) of a deterministic target policy's clicks from logs
 * collected under another, exploring policy. `target(user)` is the target's ranked list (raw
 * item ids, at most k are used). Each estimator is a sum over requests of a per-request term (or,
 * for SNIPS, of per-position sums), so the bootstrap resamples requests.
 */
export function estimateOffPolicy(
  logs: readonly AttributedExposure[],
  target: (userId: number) => readonly number[],
  opts: OpeOptions,
): OpeReport {
  const { k } = opts;
  const requests = logs.filter((l) => l.exposure.route === 'user' && l.exposure.user_id !== null && l.exposure.items.length > 0);
  const n = requests.length;
  const model = fitPositionBasedModel(requests, k);
  const theta = model.examination;
  const shownTo = new Map<number, Set<number>>();
  const everShown = new Set<number>();
  for (const { exposure } of requests) {
    const set = shownTo.get(exposure.user_id as number) ?? new Set<number>();
    for (const item of exposure.items) {
      set.add(item.item_id);
      everShown.add(item.item_id);
    }
    shownTo.set(exposure.user_id as number, set);
  }
  const terms = {
    // Per request and position: IPS numerator w·c, the weight w (SNIPS), the DR term, the PBM term and weight.
    ipsClick: new Float64Array(n * k),
    ipsWeight: new Float64Array(n * k),
    dr: new Float64Array(n * k),
    pbm: new Float64Array(n * k),
    pbmWeight: new Float64Array(n * k),
  };
  let slots = 0;
  let unsupported = 0;
  let unshownToUser = 0;
  const targetLength = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const { exposure, positive } = requests[i];
    const user = exposure.user_id as number;
    const list = target(user).slice(0, k);
    targetLength[i] = list.length;
    const shown = new Map(exposure.items.map((item, q) => [item.item_id, q]));
    for (let p = 0; p < list.length; p++) {
      const t = list[p];
      const o = i * k + p;
      slots++;
      if (!everShown.has(t)) unsupported++;
      if (!shownTo.get(user)?.has(t)) unshownToUser++;
      const q = shown.get(t);
      const logged = q === undefined ? null : exposure.items[q];
      const modelled = attractionOf(model, t) * theta[p];
      terms.dr[o] = modelled;
      if (logged === null || q === undefined) continue;
      const click = positive[q];
      if (q === p && logged.propensity > 0) {
        const w = 1 / logged.propensity;
        terms.ipsWeight[o] = w;
        terms.ipsClick[o] = w * click;
        terms.dr[o] += w * (click - modelled);
      }
      const examinedUnderLogging = loggedExamination(
        exposure.policy,
        logged.channel,
        logged.propensity,
        q,
        Math.min(k, exposure.items.length),
        theta,
      );
      if (examinedUnderLogging > 0) {
        const w = theta[p] / examinedUnderLogging;
        terms.pbmWeight[o] = w;
        terms.pbm[o] = w * click;
      }
    }
  }
  const estimators = opts.estimators ?? ESTIMATORS;
  const statistics = estimators.map((name) => statisticOf(name, terms, n, k));
  // Every estimator sees the same resampled requests in a replicate.
  const rng = new Rng(opts.seed ?? 42);
  const replicates = opts.bootstrap ?? DEFAULT_BOOTSTRAP;
  const boot = estimators.map(() => new Float64Array(replicates));
  for (let b = 0; b < replicates; b++) {
    const sample = new Int32Array(n);
    for (let s = 0; s < n; s++) sample[s] = rng.int(n);
    statistics.forEach((statistic, e) => {
      boot[e][b] = sum(statistic(sample));
    });
  }
  const meanLength = n > 0 ? sum(targetLength) / n : 0;
  const estimates = estimators.map((name, e): EstimateReport => {
    const perPosition = statistics[e](null);
    const value = sum(perPosition);
    const interval = percentileInterval(boot[e], opts.level ?? 0.95);
    return {
      estimator: name,
      value,
      interval,
      ctr: value / meanLength,
      ctrInterval: [interval[0] / meanLength, interval[1] / meanLength],
      perPosition: [...perPosition],
      effectiveSampleSize: effectiveSampleSize(name === 'pbm' ? terms.pbmWeight : terms.ipsWeight),
    };
  });
  const unsupportedShare = slots > 0 ? unsupported / slots : 0;
  return {
    requests: n,
    k,
    slots,
    unsupportedShare,
    unshownToUserShare: slots > 0 ? unshownToUser / slots : 0,
    warning:
      unsupportedShare > SUPPORT_WARNING_SHARE
        ? `thin support: ${(100 * unsupportedShare).toFixed(1)} % of the target's slots show an item the logs never showed (above ${100 * SUPPORT_WARNING_SHARE} %); the estimates count them as no clicks`
        : null,
    positionCurve: [...theta].map((t) => t / theta[0]),
    estimates,
  };
}

/**
 * Σ_q θ_q · P(item at q) under the logging policy for this request: θ_q · propensity at the
 * position it was shown, or spread over every position of the list for an item the policy could
 * have put at any of them with the same propensity (propensityAtEveryPosition).
 */
function loggedExamination(policy: string, channel: string, propensity: number, q: number, positions: number, theta: Float64Array): number {
  if (!propensityAtEveryPosition(policy, channel)) return q < theta.length ? theta[q] * propensity : 0;
  let examined = 0;
  for (let p = 0; p < positions; p++) examined += theta[p] * propensity;
  return examined;
}

type Terms = Record<'ipsClick' | 'ipsWeight' | 'dr' | 'pbm' | 'pbmWeight', Float64Array>;

/** The per-position estimate over the requests in `sample` (indices, with repeats; null: all of them). */
function statisticOf(name: EstimatorName, terms: Terms, n: number, k: number): (sample: Int32Array | null) => Float64Array {
  const positionSums = (values: Float64Array, sample: Int32Array | null): Float64Array => {
    const out = new Float64Array(k);
    const count = sample ? sample.length : n;
    for (let s = 0; s < count; s++) {
      const i = sample ? sample[s] : s;
      for (let p = 0; p < k; p++) out[p] += values[i * k + p];
    }
    return out;
  };
  const perRequest = (values: Float64Array) => (sample: Int32Array | null) => positionSums(values, sample).map((v) => (n > 0 ? v / n : 0));
  switch (name) {
    case 'ips':
      return perRequest(terms.ipsClick);
    case 'dr':
      return perRequest(terms.dr);
    case 'pbm':
      return perRequest(terms.pbm);
    case 'snips':
      return (sample) => {
        const weight = positionSums(terms.ipsWeight, sample);
        return positionSums(terms.ipsClick, sample).map((c, p) => (weight[p] > 0 ? c / weight[p] : 0));
      };
  }
}

/** (Σw)² / Σw²: how many on-policy samples the weighted ones are worth. */
export function effectiveSampleSize(weights: ArrayLike<number>): number {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < weights.length; i++) {
    s += weights[i];
    s2 += weights[i] * weights[i];
  }
  return s2 > 0 ? (s * s) / s2 : 0;
}

function sum(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s;
}
