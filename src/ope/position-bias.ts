import { attributeEvents, type AttributedExposure, type AttributionOptions } from '../events/attribution.js';
import { readLogInto, type LogReadStats } from '../events/log-reader.js';
import { SWAP_CHANNEL } from '../explore/swap.js';
import { InputError } from '../util/errors.js';
import { log } from '../util/log.js';
import { Progress } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { EM_DEFAULTS, emStart, type PositionBasedFitOptions, positionCells, type RelevanceKey, runEm } from './click-model.js';
import { percentileInterval } from './percentile.js';

/**
 * Position bias (docs/position-bias.md): θ_p, the probability that a user examines position p,
 * relative to position 1 (θ_1 = 1), estimated from exposure logs with clicks, either from
 * randomised swaps (Joachims et al. 2017) or by EM of the position-based click model
 * P(click | key, p) = θ_p · γ_key (Chuklin et al. 2015; Wang et al. 2018), with percentile
 * bootstrap intervals over requests.
 */

export type PositionBiasMethod = 'swap' | 'em';
export type { RelevanceKey };

/** The EM options (click-model.ts) apply to method 'em'; maxPosition to both. */
export interface PositionBiasOptions extends PositionBasedFitOptions {
  readonly method: PositionBiasMethod;
  /** Bootstrap replicates (requests resampled with replacement); 0 = no intervals. Default 200. */
  readonly bootstrap?: number;
  /** Interval coverage. Default 0.95. */
  readonly confidence?: number;
  /** Seed of the bootstrap. Default 42. */
  readonly seed?: number;
}

export interface PositionTheta {
  /** 1-based. */
  readonly position: number;
  /** θ_p / θ_1; null when the logs cannot identify it. */
  readonly theta: number | null;
  /** Percentile bootstrap interval; null without bootstrap or when unidentified. */
  readonly low: number | null;
  readonly high: number | null;
  /** Impressions at this position the estimate used (swap: swapped-in first items; em: every shown item). */
  readonly observations: number;
  readonly clicks: number;
}

export interface EmSummary {
  readonly relevance: RelevanceKey;
  /** Distinct relevance keys (items or user-item pairs). */
  readonly keys: number;
  readonly iterations: number;
  readonly converged: boolean;
  readonly logLikelihood: number;
}

export interface PositionBiasReport {
  readonly method: PositionBiasMethod;
  /** Exposures (requests) the estimate used. */
  readonly exposures: number;
  readonly positions: PositionTheta[];
  readonly bootstrap: number;
  readonly confidence: number;
  readonly seed: number;
  readonly em: EmSummary | null;
  readonly warnings: string[];
}

const DEFAULTS = { bootstrap: 200, confidence: 0.95, seed: 42, ...EM_DEFAULTS } as const;

/** θ_p / θ_1 for positions 1..P from the data weighted by per-exposure multiplicities (null: every exposure once); NaN where undefined. */
type Estimator = (multiplicity: Int32Array | null) => Float64Array;

export function estimatePositionBias(exposures: readonly AttributedExposure[], options: PositionBiasOptions): PositionBiasReport {
  const opts = { ...DEFAULTS, ...options };
  if (!(opts.confidence > 0 && opts.confidence < 1)) throw new InputError(`confidence ${opts.confidence} is not in (0, 1)`);
  if (!Number.isInteger(opts.bootstrap) || opts.bootstrap < 0) throw new InputError(`bootstrap ${opts.bootstrap} is not a count`);
  const maxPosition = opts.maxPosition ?? Infinity;
  const fit = opts.method === 'swap' ? swapEstimator(exposures, maxPosition) : emEstimator(exposures, maxPosition, opts);
  const theta = fit.estimate(null);
  const intervals = bootstrapIntervals(fit.exposures, theta.length, fit.estimate, opts);
  const positions = Array.from(theta, (t, j): PositionTheta => {
    const identified = fit.identified[j] && Number.isFinite(t);
    return {
      position: j + 1,
      theta: identified ? t : null,
      low: identified && intervals ? intervals.low[j] : null,
      high: identified && intervals ? intervals.high[j] : null,
      observations: fit.observations[j],
      clicks: fit.clicks[j],
    };
  });
  const warnings = positions
    .filter((p) => p.theta === null)
    .map(
      (p) =>
        `position ${p.position}: θ not identified (${p.observations} observations${opts.method === 'em' ? ', no item linking it to position 1' : ''})`,
    );
  for (const w of warnings) log.warn(`position bias: ${w}`);
  const report = {
    method: opts.method,
    exposures: fit.exposures,
    positions,
    bootstrap: intervals ? opts.bootstrap : 0,
    confidence: opts.confidence,
    seed: opts.seed,
    em: fit.em?.() ?? null,
    warnings,
  };
  log.event('position_bias.estimate', { ...report, positions: positions.map((p) => p.theta) });
  return report;
}

export interface PositionBiasFromLogs extends PositionBiasReport {
  readonly logs: { readonly dir: string; readonly read: LogReadStats; readonly unattributedPositives: number };
}

/** `recsys positions`: reads the log directory, credits events to exposures, estimates θ. */
export async function estimatePositionBiasFromLogs(
  dir: string,
  options: PositionBiasOptions & { readonly attribution?: AttributionOptions },
): Promise<PositionBiasFromLogs> {
  const { exposures, events, stats } = await readLogInto(dir);
  const attribution = attributeEvents(exposures, events, options.attribution);
  const report = estimatePositionBias(attribution.exposures, options);
  return { ...report, logs: { dir, read: stats, unattributedPositives: attribution.unattributed } };
}

interface Fit {
  readonly exposures: number;
  readonly observations: Float64Array;
  readonly clicks: Float64Array;
  readonly identified: boolean[];
  readonly estimate: Estimator;
  /** The EM's state after the full-data fit. */
  readonly em?: () => EmSummary;
}

/**
 * Randomised swaps: in each exposure of a `swap:` policy, where the model's first item was shown
 * (the position of the other item logged with the swap channel, else 1) and whether it got a
 * click. θ_p / θ_1 = CTR(first item at p) / CTR(first item at 1).
 */
function swapEstimator(exposures: readonly AttributedExposure[], maxPosition: number): Fit {
  const where: number[] = [];
  const clicked: number[] = [];
  for (const { exposure, positive } of exposures) {
    if (!exposure.policy.startsWith('swap:') || exposure.items.length === 0) continue;
    const moved = exposure.items.findIndex((item, j) => j > 0 && item.channel === SWAP_CHANNEL);
    const at = Math.max(moved, 0);
    if (exposure.items[at].position > maxPosition) continue;
    where.push(exposure.items[at].position - 1);
    clicked.push(positive[at]);
  }
  if (where.length === 0)
    throw new InputError('position bias (swap): the logs hold no exposure of a swap policy (serve with --policy swap:Q)');
  const nPositions = Math.max(...where) + 1;
  const totals = (multiplicity: Int32Array | null) => {
    const shown = new Float64Array(nPositions);
    const clicks = new Float64Array(nPositions);
    for (let e = 0; e < where.length; e++) {
      const w = multiplicity ? multiplicity[e] : 1;
      shown[where[e]] += w;
      clicks[where[e]] += w * clicked[e];
    }
    return { shown, clicks };
  };
  const all = totals(null);
  if (all.clicks[0] === 0)
    throw new InputError('position bias (swap): the first items shown at position 1 got no click, so θ_p / θ_1 is undefined');
  return {
    exposures: where.length,
    observations: all.shown,
    clicks: all.clicks,
    identified: Array.from(all.shown, (n) => n > 0),
    estimate: (multiplicity) => {
      const { shown, clicks } = multiplicity ? totals(multiplicity) : all;
      const base = clicks[0] / shown[0];
      return Float64Array.from(shown, (n, j) => (n > 0 && base > 0 ? clicks[j] / n / base : Number.NaN));
    },
  };
}

/** The position-based model (click-model.ts) fitted by EM; a bootstrap replicate refits from the full-data fit. */
function emEstimator(
  exposures: readonly AttributedExposure[],
  maxPosition: number,
  opts: { relevance: RelevanceKey; tolerance: number; maxIterations: number },
): Fit {
  const cells = positionCells(exposures, { ...opts, maxPosition });
  if (cells.exposures === 0) throw new InputError('position bias (em): the logs hold no exposure');
  const observations = new Float64Array(cells.positions);
  const clicks = new Float64Array(cells.positions);
  for (let x = 0; x < cells.cellKey.length; x++) {
    observations[cells.cellPosition[x]] += cells.impressions[x];
    clicks[cells.cellPosition[x]] += cells.clicks[x];
  }
  if (observations[0] === 0) throw new InputError('position bias (em): no item was shown at position 1');
  if (!cells.identified.some((linked, j) => linked && j > 0))
    throw new InputError(
      `position bias (em): cannot identify θ: no ${opts.relevance === 'item' ? 'item' : 'user-item pair'} was shown both at position 1 and elsewhere; the position-based model needs logs where the same items appear at different positions (exploration or swap logs)`,
    );
  const fitted = emStart(cells);
  let summary: EmSummary | null = null;
  const normalised = (th: Float64Array) => Float64Array.from(th, (t) => t / th[0]);
  return {
    exposures: cells.exposures,
    observations,
    clicks,
    identified: [...cells.identified],
    estimate: (multiplicity) => {
      if (!multiplicity) {
        const progress = new Progress('position bias em', opts.maxIterations, 'iterations');
        const result = runEm(cells, cells.impressions, cells.clicks, fitted, opts, progress);
        progress.finish(result);
        summary = { relevance: opts.relevance, keys: cells.keyIds.size, ...result };
        if (!result.converged) log.warn(`position bias (em): not converged after ${result.iterations} iterations`);
        return normalised(fitted.theta);
      }
      // A replicate starts from the full-data fit: the same fixed point, reached in few iterations.
      const { n, c } = cells.counts(multiplicity);
      const replicate = { theta: Float64Array.from(fitted.theta), gamma: Float64Array.from(fitted.gamma) };
      runEm(cells, n, c, replicate, opts);
      return normalised(replicate.theta);
    },
    em: () => {
      if (!summary) throw new Error('the EM summary is read before the full-data fit');
      return summary;
    },
  };
}

/** Percentile intervals over `replicates` resamplings of the exposures with replacement; replicates where a position is undefined are left out. */
function bootstrapIntervals(
  nExposures: number,
  nPositions: number,
  estimate: Estimator,
  opts: { bootstrap: number; confidence: number; seed: number },
): { low: Float64Array; high: Float64Array } | null {
  if (opts.bootstrap === 0) return null;
  const rng = new Rng(opts.seed);
  const draws = Array.from({ length: nPositions }, () => [] as number[]);
  const multiplicity = new Int32Array(nExposures);
  const progress = new Progress('position bias bootstrap', opts.bootstrap, 'replicates');
  for (let b = 0; b < opts.bootstrap; b++) {
    multiplicity.fill(0);
    for (let i = 0; i < nExposures; i++) multiplicity[rng.int(nExposures)]++;
    const theta = estimate(multiplicity);
    for (let p = 0; p < nPositions; p++) if (Number.isFinite(theta[p])) draws[p].push(theta[p]);
    progress.tick();
  }
  progress.finish();
  const low = new Float64Array(nPositions);
  const high = new Float64Array(nPositions);
  draws.forEach((d, p) => {
    [low[p], high[p]] = percentileInterval(d, opts.confidence);
  });
  return { low, high };
}
