import { attributeEvents, type AttributedExposure, type AttributionOptions } from '../events/attribution.js';
import { readLogInto, type LogReadStats } from '../events/log-reader.js';
import { SWAP_CHANNEL } from '../explore/swap.js';
import { InputError } from '../util/errors.js';
import { log } from '../util/log.js';
import { Progress } from '../util/progress.js';
import { Rng } from '../util/rng.js';

/**
 * Position bias (docs/position-bias.md): θ_p, the probability that a user examines position p,
 * relative to position 1 (θ_1 = 1), estimated from exposure logs with clicks, either from
 * randomised swaps (Joachims et al. 2017) or by EM of the position-based click model
 * P(click | key, p) = θ_p · γ_key (Chuklin et al. 2015; Wang et al. 2018), with percentile
 * bootstrap intervals over requests.
 */

export type PositionBiasMethod = 'swap' | 'em';
/** What one relevance γ belongs to in the position-based model: an item, or a (user, item) pair. */
export type RelevanceKey = 'item' | 'user-item';

export interface PositionBiasOptions {
  readonly method: PositionBiasMethod;
  /** Bootstrap replicates (requests resampled with replacement); 0 = no intervals. Default 200. */
  readonly bootstrap?: number;
  /** Interval coverage. Default 0.95. */
  readonly confidence?: number;
  /** Seed of the bootstrap. Default 42. */
  readonly seed?: number;
  /** Positions beyond it are ignored. Default: every position logged. */
  readonly maxPosition?: number;
  /** EM: what a relevance belongs to. Default 'item'. */
  readonly relevance?: RelevanceKey;
  /** EM stops when no normalised θ_p moves by more than this in an iteration. Default 1e-7. */
  readonly tolerance?: number;
  /** EM: at most this many iterations. Default 10,000. */
  readonly maxIterations?: number;
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

/** Positions beyond it are not a list anyone scrolls; it keeps a packed (key, position) id an exact integer. */
const MAX_POSITION = 2 ** 20;

const DEFAULTS = { bootstrap: 200, confidence: 0.95, seed: 42, relevance: 'item', tolerance: 1e-7, maxIterations: 10_000 } as const;

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

/**
 * The position-based model by EM over (key, position) cells of impressions n and clicks c.
 * A click means examined and relevant; a non-click leaves examined with probability
 * θ(1 − γ)/(1 − θγ) and relevant with γ(1 − θ)/(1 − θγ); the M-step sets θ_p and γ_key to their
 * expected shares. θ and γ are determined only up to a common scale (θs, γ/s), so θ is reported
 * normalised by θ_1, and convergence is judged on the normalised θ.
 */
function emEstimator(
  exposures: readonly AttributedExposure[],
  maxPosition: number,
  opts: { relevance: RelevanceKey; tolerance: number; maxIterations: number },
): Fit {
  const keyIds = new Map<string | number, number>();
  const cellIds = new Map<number, number>();
  const cellKey: number[] = [];
  const cellPosition: number[] = [];
  /** Per shown item: its cell and click; per exposure, its first row. */
  const rowCell: number[] = [];
  const rowClick: number[] = [];
  const exposureStart: number[] = [0];
  let nPositions = 0;
  for (const { exposure, positive } of exposures) {
    exposure.items.forEach((item, j) => {
      if (item.position > maxPosition) return;
      const keyName = opts.relevance === 'item' ? item.item_id : `${exposure.user_id}:${item.item_id}`;
      if (!Number.isInteger(item.position) || item.position < 1 || item.position > MAX_POSITION)
        throw new InputError(`position bias (em): request ${exposure.request_id}: position ${item.position} is not in 1..${MAX_POSITION}`);
      const key = keyIds.get(keyName) ?? keyIds.size;
      keyIds.set(keyName, key);
      const packed = key * MAX_POSITION + item.position - 1;
      const cell = cellIds.get(packed) ?? cellKey.length;
      if (cell === cellKey.length) {
        cellIds.set(packed, cell);
        cellKey.push(key);
        cellPosition.push(item.position - 1);
      }
      nPositions = Math.max(nPositions, item.position);
      rowCell.push(cell);
      rowClick.push(positive[j]);
    });
    if (rowCell.length > exposureStart[exposureStart.length - 1]) exposureStart.push(rowCell.length);
  }
  const nExposures = exposureStart.length - 1;
  if (nExposures === 0) throw new InputError('position bias (em): the logs hold no exposure');
  const nKeys = keyIds.size;
  const nCells = cellKey.length;
  const counts = (multiplicity: Int32Array | null) => {
    const n = new Float64Array(nCells);
    const c = new Float64Array(nCells);
    for (let e = 0; e < nExposures; e++) {
      const w = multiplicity ? multiplicity[e] : 1;
      if (w === 0) continue;
      for (let r = exposureStart[e]; r < exposureStart[e + 1]; r++) {
        n[rowCell[r]] += w;
        c[rowCell[r]] += w * rowClick[r];
      }
    }
    return { n, c };
  };
  const all = counts(null);
  const observations = new Float64Array(nPositions);
  const clicks = new Float64Array(nPositions);
  for (let x = 0; x < nCells; x++) {
    observations[cellPosition[x]] += all.n[x];
    clicks[cellPosition[x]] += all.c[x];
  }
  const identified = linkedToFirst(cellKey, cellPosition, nKeys, nPositions);
  if (observations[0] === 0) throw new InputError('position bias (em): no item was shown at position 1');
  if (!identified.some((linked, j) => linked && j > 0))
    throw new InputError(
      `position bias (em): cannot identify θ: no ${opts.relevance === 'item' ? 'item' : 'user-item pair'} was shown both at position 1 and elsewhere; the position-based model needs logs where the same items appear at different positions (exploration or swap logs)`,
    );

  // Deterministic start: θ below 1 everywhere (θ = 1 is a fixed point of the update), γ at each key's click rate.
  const theta = new Float64Array(nPositions).fill(0.5);
  const gamma = new Float64Array(nKeys);
  {
    const shown = new Float64Array(nKeys);
    for (let x = 0; x < nCells; x++) {
      gamma[cellKey[x]] += all.c[x];
      shown[cellKey[x]] += all.n[x];
    }
    for (let k = 0; k < nKeys; k++) gamma[k] = Math.min(0.99, Math.max(0.01, gamma[k] / shown[k]));
  }
  let summary: EmSummary | null = null;
  const run = (n: Float64Array, c: Float64Array, th: Float64Array, g: Float64Array, progress: Progress | null) => {
    const thNum = new Float64Array(nPositions);
    const thDen = new Float64Array(nPositions);
    const gNum = new Float64Array(nKeys);
    const gDen = new Float64Array(nKeys);
    let iterations = 0;
    let converged = false;
    let logLikelihood = -Infinity;
    while (iterations < opts.maxIterations && !converged) {
      thNum.fill(0);
      thDen.fill(0);
      gNum.fill(0);
      gDen.fill(0);
      logLikelihood = 0;
      for (let x = 0; x < nCells; x++) {
        if (n[x] === 0) continue;
        const p = cellPosition[x];
        const k = cellKey[x];
        const t = th[p];
        const r = g[k];
        const missed = n[x] - c[x];
        const noClick = 1 - t * r;
        thNum[p] += c[x] + (missed * t * (1 - r)) / noClick;
        gNum[k] += c[x] + (missed * r * (1 - t)) / noClick;
        thDen[p] += n[x];
        gDen[k] += n[x];
        logLikelihood += (c[x] > 0 ? c[x] * Math.log(t * r) : 0) + (missed > 0 ? missed * Math.log(noClick) : 0);
      }
      const before = th[0];
      let moved = 0;
      const after = thDen[0] > 0 ? thNum[0] / thDen[0] : before;
      for (let p = 0; p < nPositions; p++) {
        const next = thDen[p] > 0 ? thNum[p] / thDen[p] : th[p];
        moved = Math.max(moved, Math.abs(next / after - th[p] / before));
        th[p] = next;
      }
      for (let k = 0; k < nKeys; k++) if (gDen[k] > 0) g[k] = gNum[k] / gDen[k];
      iterations++;
      converged = moved < opts.tolerance;
      progress?.tick();
    }
    return { iterations, converged, logLikelihood };
  };
  const normalised = (th: Float64Array) => Float64Array.from(th, (t) => t / th[0]);
  return {
    exposures: nExposures,
    observations,
    clicks,
    identified,
    estimate: (multiplicity) => {
      if (!multiplicity) {
        const progress = new Progress('position bias em', opts.maxIterations, 'iterations');
        const result = run(all.n, all.c, theta, gamma, progress);
        progress.finish(result);
        summary = { relevance: opts.relevance, keys: nKeys, ...result };
        if (!result.converged) log.warn(`position bias (em): not converged after ${result.iterations} iterations`);
        return normalised(theta);
      }
      // A replicate starts from the full-data fit: the same fixed point, reached in few iterations.
      const { n, c } = counts(multiplicity);
      const th = Float64Array.from(theta);
      run(n, c, th, Float64Array.from(gamma), null);
      return normalised(th);
    },
    em: () => {
      if (!summary) throw new Error('the EM summary is read before the full-data fit');
      return summary;
    },
  };
}

/** Per position, whether some chain of keys shown at two positions links it to position 1 (union-find over positions). */
function linkedToFirst(cellKey: readonly number[], cellPosition: readonly number[], nKeys: number, nPositions: number): boolean[] {
  const parent = Int32Array.from({ length: nPositions }, (_, p) => p);
  const root = (p: number): number => {
    while (parent[p] !== p) p = parent[p] = parent[parent[p]];
    return p;
  };
  const firstPosition = new Int32Array(nKeys).fill(-1);
  for (let x = 0; x < cellKey.length; x++) {
    const k = cellKey[x];
    if (firstPosition[k] < 0) firstPosition[k] = cellPosition[x];
    else parent[root(cellPosition[x])] = root(firstPosition[k]);
  }
  return Array.from({ length: nPositions }, (_, p) => root(p) === root(0));
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
  const alpha = (1 - opts.confidence) / 2;
  const low = new Float64Array(nPositions).fill(Number.NaN);
  const high = new Float64Array(nPositions).fill(Number.NaN);
  draws.forEach((d, p) => {
    if (d.length === 0) return;
    d.sort((a, b) => a - b);
    low[p] = quantile(d, alpha);
    high[p] = quantile(d, 1 - alpha);
  });
  return { low, high };
}

/** Linear interpolation between order statistics of sorted `xs` (type 7, as R and numpy by default). */
function quantile(xs: readonly number[], q: number): number {
  const h = (xs.length - 1) * q;
  const lo = Math.floor(h);
  return xs[lo] + (h - lo) * ((xs[Math.min(lo + 1, xs.length - 1)] ?? xs[lo]) - xs[lo]);
}
