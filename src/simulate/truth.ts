import { join } from 'node:path';
import { META_FILE, readDatasetMeta } from '../data/dataset.js';
import { plantSynthetic, type SynthParams } from '../data/synth.js';
import { InputError } from '../util/errors.js';

/**
 * The click simulator's ground truth (docs/simulator.md): how likely a user is to click an item
 * shown at a position. Relevance comes from the planted structure of a `recsys data synth`
 * dataset, regenerated exactly from the parameters in its dataset.json:
 *
 *   rel(u, i)   = σ(offset + slope × taste_u · item_i)      (σ the logistic function)
 *   P(click)    = θ_p × rel(u, i)                            (θ the position curve, θ_1 = 1)
 *
 * taste_u is the user's current taste (the planted end taste, after their drift), item_i the
 * planted item vector (both unit vectors, so the affinity lies in [-1, 1]).
 */
export interface ClickModel {
  /** Logit of relevance at affinity 0. Default -5.5. */
  readonly offset: number;
  /** Logit per unit of affinity. Default 6. */
  readonly slope: number;
  /** Examination probability by position (1-based position p at index p − 1), each in (0, 1]. */
  readonly positions: readonly number[];
  /** Share of clicks that are followed by a purchase. Default 0. */
  readonly purchaseShare: number;
}

/**
 * With these constants, on the synth data's planted structure (median affinity of a random pair
 * about 0.29, of a user's 10th-best item about 0.80): a random item's relevance is about 0.02,
 * the 10th best item's about 0.33, the best item's about 0.45.
 */
export const DEFAULT_OFFSET = -5.5;
export const DEFAULT_SLOPE = 6;
/** The default position curve: θ_p = p^−0.7 (0.62 at position 2, 0.20 at position 10). */
export const DEFAULT_POSITION_EXPONENT = 0.7;

/** θ_p = p^−exponent for p = 1..k. */
export function powerPositionCurve(k: number, exponent = DEFAULT_POSITION_EXPONENT): number[] {
  return Array.from({ length: k }, (_, p) => (p + 1) ** -exponent);
}

/**
 * The position curve for k positions: an explicit list (`--positions 1,0.6,...`, at least k
 * values, each in (0, 1]) or the default power curve.
 */
export function positionCurve(k: number, given?: readonly number[]): number[] {
  if (given === undefined) return powerPositionCurve(k);
  if (given.length < k) throw new InputError(`--positions: ${given.length} values for k = ${k} positions; give at least ${k}`);
  given.forEach((v, i) => {
    if (!Number.isFinite(v) || v <= 0 || v > 1) throw new InputError(`--positions: value ${i + 1} must be in (0, 1], got ${v}`);
  });
  return given.slice(0, k);
}

export function clickModel(k: number, opts: Partial<ClickModel> = {}): ClickModel {
  const purchaseShare = opts.purchaseShare ?? 0;
  if (!(purchaseShare >= 0 && purchaseShare <= 1)) throw new InputError(`purchase share must be in 0..1, got ${purchaseShare}`);
  return {
    offset: opts.offset ?? DEFAULT_OFFSET,
    slope: opts.slope ?? DEFAULT_SLOPE,
    positions: positionCurve(k, opts.positions),
    purchaseShare,
  };
}

/** One item at one position with the probability that the answer put it there. */
export interface Placement {
  readonly item_id: number;
  /** 1-based. */
  readonly position: number;
  readonly propensity: number;
}

/** Relevance of raw item ids for raw user ids, from a synth dataset's planted vectors. */
export class Truth {
  private constructor(
    readonly params: SynthParams,
    private readonly taste: Float32Array,
    private readonly itemVectors: Float32Array,
    readonly model: ClickModel,
  ) {}

  /** The truth of a dataset written by `recsys data synth`; any other dataset is an InputError. */
  static ofDataset(dir: string, model: ClickModel): Truth {
    const meta = readDatasetMeta(dir);
    if (meta.source.kind !== 'synth' || meta.source.params === undefined) {
      throw new InputError(
        `${join(dir, META_FILE)}: not a synthetic dataset (source ${meta.source.kind}); the simulator needs \`recsys data synth\` data`,
      );
    }
    return Truth.ofParams(meta.source.params as Partial<SynthParams>, model);
  }

  static ofParams(params: Partial<SynthParams>, model: ClickModel): Truth {
    const planted = plantSynthetic(params);
    return new Truth(planted.params, planted.planted.tasteEnd, planted.planted.items, model);
  }

  /** Users are raw ids 1..users. */
  get users(): number {
    return this.params.users;
  }

  get items(): number {
    return this.params.items;
  }

  /** The planted affinity taste_u · item_i (raw ids). */
  affinity(userId: number, itemId: number): number {
    const dim = this.params.dim;
    const u = (userId - 1) * dim;
    const i = (itemId - 1) * dim;
    if (userId < 1 || userId > this.params.users || itemId < 1 || itemId > this.params.items) {
      throw new RangeError(`truth: no planted user ${userId} or item ${itemId}`);
    }
    let dot = 0;
    for (let j = 0; j < dim; j++) dot += this.taste[u + j] * this.itemVectors[i + j];
    return dot;
  }

  /** rel(u, i) = σ(offset + slope × affinity). */
  relevance(userId: number, itemId: number): number {
    return 1 / (1 + Math.exp(-(this.model.offset + this.model.slope * this.affinity(userId, itemId))));
  }

  /** θ_p × rel(u, i). */
  clickProbability(userId: number, itemId: number, position: number): number {
    return this.theta(position) * this.relevance(userId, itemId);
  }

  /**
   * Expected clicks of an answer from its placements: Σ over (item, position) of
   * P(item at position) × θ_position × rel(u, item). For a deterministic list (propensities 1)
   * this is Σ_p θ_p rel(u, a_p); for a randomised policy, pass every (item, position) pair it
   * could produce with its marginal probability.
   */
  expectedClicks(userId: number, placements: readonly Placement[]): number {
    let sum = 0;
    for (const p of placements) sum += p.propensity * this.clickProbability(userId, p.item_id, p.position);
    return sum;
  }

  /** Expected clicks of a deterministic list of raw item ids, best first (−1 entries show nothing). */
  listClicks(userId: number, items: ArrayLike<number>): number {
    let sum = 0;
    for (let p = 0; p < items.length && p < this.model.positions.length; p++) {
      if (items[p] >= 0) sum += this.model.positions[p] * this.relevance(userId, items[p]);
    }
    return sum;
  }

  private theta(position: number): number {
    const t = this.model.positions[position - 1];
    if (t === undefined) throw new RangeError(`truth: no examination probability for position ${position}`);
    return t;
  }
}
