import type { UserEventRecord } from '../events/records.js';

/**
 * Placement policies (docs/exploration.md): given the model's ranked list for one request, which
 * items are shown at which positions, and with what probability each was placed there. The
 * greedy policy shows the model's list as it is; exploring policies (ε-greedy slots, Thompson
 * sampling for new items) replace some positions, seeded, and report exact propensities, which
 * the exposure log keeps for off-policy evaluation and unbiased learning.
 */

/** One entry of a ranked list, as a policy sees it. */
export interface RankedItem {
  readonly item_id: number;
  readonly score: number;
  readonly channel: string;
}

export interface PlacedItem extends RankedItem {
  /** Marginal probability that this item is at this position for this request, given the ranked list. */
  readonly propensity: number;
}

export interface PlacementContext {
  /** Positions to fill. */
  readonly k: number;
  /** The raw user id, or null. */
  readonly userId: number | null;
  /** Uniform [0, 1) draws from the request's own seeded stream. */
  readonly random: () => number;
  /**
   * Items this user must not be shown (their seen items). The ranked list already leaves them
   * out; pools of fresh or cold items are filtered with it. Absent: nothing is excluded.
   */
  readonly exclude?: (itemId: number) => boolean;
}

export interface Policy {
  /** As logged in each exposure (the command-line spelling, parameters included). */
  readonly name: string;
  /** How long a ranked list `place` wants for k positions (the service asks the model for that many). */
  depth(k: number): number;
  /** The k (or fewer, when the list and pools run out) items shown, best position first. */
  place(ranked: readonly RankedItem[], ctx: PlacementContext): PlacedItem[];
  /** Learns from a user event (Thompson sampling's click posteriors); absent for policies that do not learn. */
  observe?(event: UserEventRecord): void;
}

/** The model's list as it is: deterministic, every propensity 1. */
export const greedyPolicy: Policy = {
  name: 'greedy',
  depth: (k) => k,
  place: (ranked, ctx) => ranked.slice(0, ctx.k).map((item) => ({ ...item, propensity: 1 })),
};
