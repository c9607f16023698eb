import type { AttributedExposure } from '../events/attribution.js';

/**
 * A position-based click model (docs/ope.md): P(click on item a at position p) = θ_p · γ_a, with
 * θ_p the chance a user examines position p and γ_a the chance they click a once they see it.
 * Fitted on logged exposures by expectation-maximisation (Chuklin et al. 2015, "Click Models for
 * Web Search", §4.3): a click means examined and attractive; a shown item without a click was
 * examined-and-unattractive or unexamined, in proportion to θ_p(1 − γ_a) : (1 − θ_p)γ_a.
 * θ and γ are identified only up to a common factor; products and ratios are what the
 * estimators use.
 */
export interface PositionBasedModel {
  /** θ_p at index p − 1, for positions 1..K. */
  readonly examination: Float64Array;
  /** γ_a by raw item id, for the items the logs showed. */
  readonly attraction: ReadonlyMap<number, number>;
  /** γ for an item the logs never showed: the attraction averaged over all shown slots. */
  readonly meanAttraction: number;
}

/** EM stops after this many iterations, or once no θ_p moves by more than EM_TOLERANCE. */
export const EM_ITERATIONS = 200;
export const EM_TOLERANCE = 1e-7;

export function attractionOf(model: PositionBasedModel, item: number): number {
  return model.attraction.get(item) ?? model.meanAttraction;
}

/** Fits θ for positions 1..k (slots beyond k are left out) and γ for every item shown there. */
export function fitPositionBasedModel(logs: readonly AttributedExposure[], k: number, iterations = EM_ITERATIONS): PositionBasedModel {
  const itemIndex = new Map<number, number>();
  const obsItem: number[] = [];
  const obsPosition: number[] = [];
  const obsClick: number[] = [];
  for (const { exposure, positive } of logs) {
    for (let p = 0; p < Math.min(k, exposure.items.length); p++) {
      const id = exposure.items[p].item_id;
      if (!itemIndex.has(id)) itemIndex.set(id, itemIndex.size);
      obsItem.push(itemIndex.get(id) as number);
      obsPosition.push(p);
      obsClick.push(positive[p]);
    }
  }
  let theta = new Float64Array(k).fill(0.5);
  let gamma = new Float64Array(itemIndex.size).fill(0.5);
  const slotsAt = new Float64Array(k);
  const slotsOf = new Float64Array(itemIndex.size);
  for (let o = 0; o < obsItem.length; o++) {
    slotsAt[obsPosition[o]]++;
    slotsOf[obsItem[o]]++;
  }
  for (let it = 0; it < iterations; it++) {
    const examined = new Float64Array(k);
    const attractive = new Float64Array(itemIndex.size);
    for (let o = 0; o < obsItem.length; o++) {
      const t = theta[obsPosition[o]];
      const g = gamma[obsItem[o]];
      if (obsClick[o]) {
        examined[obsPosition[o]]++;
        attractive[obsItem[o]]++;
      } else {
        const miss = Math.max(1 - t * g, 1e-12);
        examined[obsPosition[o]] += (t * (1 - g)) / miss;
        attractive[obsItem[o]] += ((1 - t) * g) / miss;
      }
    }
    const next = examined.map((e, p) => (slotsAt[p] > 0 ? e / slotsAt[p] : 0));
    gamma = attractive.map((a, i) => a / slotsOf[i]);
    const moved = next.reduce((m, t, p) => Math.max(m, Math.abs(t - theta[p])), 0);
    theta = next;
    if (moved < EM_TOLERANCE) break;
  }
  let weighted = 0;
  for (let o = 0; o < obsItem.length; o++) weighted += gamma[obsItem[o]];
  return {
    examination: theta,
    attraction: new Map([...itemIndex].map(([id, i]) => [id, gamma[i]])),
    meanAttraction: obsItem.length > 0 ? weighted / obsItem.length : 0,
  };
}
