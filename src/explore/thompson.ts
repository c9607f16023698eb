import betaCdf from '@stdlib/stats-base-dists-beta-cdf';
import betaPdf from '@stdlib/stats-base-dists-beta-pdf';
import { DEFAULT_POSITIVE_TYPES, type UserEventRecord } from '../events/records.js';
import { betaDraw } from '../sampling/beta.js';
import type { PlacedItem, Policy } from './policy.js';
import type { PoolName } from './pools.js';

/** How many of a pool's items (its first ones: the newest, or the coldest) Thompson sampling plays. */
export const THOMPSON_ARMS = 20;

export const DEFAULT_REFRESH_EVERY = 100;

export interface ThompsonOptions {
  /**
   * Posterior updates (clicks and trials) gathered before the posteriors in use are refreshed
   * (batched Thompson sampling: a refresh of 20 arms' quadrature tables takes ~80 ms). Default 100.
   */
  readonly refreshEvery?: number;
  /** Event types that count as a click. Default: click, purchase. */
  readonly positiveTypes?: readonly string[];
}

/**
 * Thompson sampling for new items (docs/exploration.md): each arm (a pool item) has a
 * Beta(1 + clicks, 1 + trials − clicks) click posterior; a request draws one value per arm the
 * user may see (not excluded, not among the greedy items shown), and the arm with the highest
 * draw is inserted at position `slot` (the greedy items keep their order around it). Its
 * propensity is the exact probability of winning, P(j = argmax) = ∫ f_j(x) Π_{i≠j} F_i(x) dx,
 * by Gauss-Legendre quadrature (winProbabilities). A placement is a trial of the arm;
 * `observe` counts the arm's clicks.
 */
export interface ThompsonPolicy extends Policy {
  /** The arms (raw item ids) and the posteriors the next placement samples from. */
  readonly arms: readonly number[];
  posteriors(): ArmPosteriors;
}

export function thompsonPolicy(
  slot: number,
  pool: Exclude<PoolName, 'candidates'>,
  items: readonly number[],
  opts: ThompsonOptions = {},
): ThompsonPolicy {
  const arms = items.slice(0, THOMPSON_ARMS);
  const armOf = new Map(arms.map((id, a) => [id, a]));
  const clicks = new Float64Array(arms.length);
  const trials = new Float64Array(arms.length);
  const positive = new Set(opts.positiveTypes ?? DEFAULT_POSITIVE_TYPES);
  const refreshEvery = opts.refreshEvery ?? DEFAULT_REFRESH_EVERY;
  let pending = 0;
  let current: ArmPosteriors | null = null;
  const posteriors = (): ArmPosteriors => {
    current ??= new ArmPosteriors(clicks, trials);
    return current;
  };
  const update = (): void => {
    if (++pending < refreshEvery) return;
    pending = 0;
    current = null;
  };
  return {
    name: `thompson:${slot}:${pool}`,
    arms,
    posteriors,
    depth: (k) => k,
    place(ranked, ctx) {
      const greedy = ranked.slice(0, Math.min(ranked.length, ctx.k - 1));
      const shown = new Set(greedy.map((item) => item.item_id));
      const eligible = arms.map((id) => !shown.has(id) && !ctx.exclude?.(id));
      const posterior = posteriors();
      let winner = -1;
      let best = Number.NEGATIVE_INFINITY;
      for (let a = 0; a < arms.length; a++) {
        if (!eligible[a]) continue;
        const x = betaDraw(posterior.alpha[a], posterior.beta[a], ctx.random);
        if (x > best) [winner, best] = [a, x];
      }
      const placed: PlacedItem[] = greedy.map((item) => ({ ...item, propensity: 1 }));
      if (winner < 0 || ctx.k < 1) return ranked.slice(0, ctx.k).map((item) => ({ ...item, propensity: 1 }));
      const id = arms[winner];
      const score = ranked.find((item) => item.item_id === id)?.score ?? 0;
      const propensity = posterior.winProbability(winner, eligible);
      placed.splice(Math.min(slot, greedy.length + 1) - 1, 0, { item_id: id, score, channel: `explore:${pool}`, propensity });
      trials[winner]++;
      update();
      return placed;
    },
    observe(event: UserEventRecord) {
      const a = armOf.get(event.item_id);
      if (a === undefined || !positive.has(event.type)) return;
      clicks[a]++;
      update();
    },
  };
}

/** Gauss-Legendre nodes and weights on [-1, 1], 8 points (exact for polynomials of degree 15). */
const GL_NODES = [
  -0.960289856497536, -0.7966664774136267, -0.525532409916329, -0.1834346424956498, 0.1834346424956498, 0.525532409916329,
  0.7966664774136267, 0.960289856497536,
];
const GL_WEIGHTS = [
  0.1012285362903763, 0.2223810344533745, 0.3137066458778873, 0.362683783378362, 0.362683783378362, 0.3137066458778873, 0.2223810344533745,
  0.1012285362903763,
];

/** Where each arm's density changes fastest: its mean plus these multiples of its standard deviation. */
const BREAKS_SD = [-6, -3, -1.5, 0, 1.5, 3, 6, 12];

/**
 * A snapshot of the arms' posteriors with what the win probabilities need: the quadrature nodes
 * (8-point Gauss-Legendre on every segment between the arms' breakpoints, so a narrow posterior
 * gets nodes of its own scale) and each arm's density and CDF there.
 */
export class ArmPosteriors {
  readonly alpha: Float64Array;
  readonly beta: Float64Array;
  private readonly weights: Float64Array;
  private readonly pdf: Float64Array[];
  private readonly cdf: Float64Array[];
  private all: Float64Array | null = null;

  constructor(clicks: Float64Array, trials: Float64Array) {
    const n = clicks.length;
    this.alpha = clicks.map((c) => 1 + c);
    this.beta = trials.map((t, a) => 1 + Math.max(0, t - clicks[a]));
    const breaks = new Set([0, 1]);
    for (let a = 0; a < n; a++) {
      const s = this.alpha[a] + this.beta[a];
      const mean = this.alpha[a] / s;
      const sd = Math.sqrt((this.alpha[a] * this.beta[a]) / (s * s * (s + 1)));
      for (const z of BREAKS_SD) breaks.add(Math.min(1, Math.max(0, mean + z * sd)));
    }
    const edges = [...breaks].sort((x, y) => x - y);
    const nodes: number[] = [];
    const weights: number[] = [];
    for (let e = 0; e + 1 < edges.length; e++) {
      const half = (edges[e + 1] - edges[e]) / 2;
      const mid = (edges[e + 1] + edges[e]) / 2;
      for (let g = 0; g < GL_NODES.length; g++) {
        nodes.push(mid + half * GL_NODES[g]);
        weights.push(half * GL_WEIGHTS[g]);
      }
    }
    this.weights = Float64Array.from(weights);
    this.pdf = Array.from({ length: n }, (_, a) => Float64Array.from(nodes, (x) => betaPdf(x, this.alpha[a], this.beta[a])));
    this.cdf = Array.from({ length: n }, (_, a) => Float64Array.from(nodes, (x) => betaCdf(x, this.alpha[a], this.beta[a])));
  }

  /** P(arm j has the highest draw among the eligible arms); j must be eligible. */
  winProbability(j: number, eligible: readonly boolean[]): number {
    if (eligible.every(Boolean)) {
      this.all ??= Float64Array.from(eligible, (_, a) => this.integrate(a, eligible));
      return this.all[j];
    }
    return this.integrate(j, eligible);
  }

  private integrate(j: number, eligible: readonly boolean[]): number {
    let sum = 0;
    for (let g = 0; g < this.weights.length; g++) {
      let term = this.weights[g] * this.pdf[j][g];
      for (let a = 0; a < eligible.length && term > 0; a++) if (a !== j && eligible[a]) term *= this.cdf[a][g];
      sum += term;
    }
    return sum;
  }
}
