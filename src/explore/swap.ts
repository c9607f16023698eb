import type { PlacedItem, Policy } from './policy.js';

/** The channel logged for the two items a swap moved; the position-bias estimator finds the swap by it. */
export const SWAP_CHANNEL = 'swap';

/**
 * The randomised swap intervention of Joachims et al. (2017, "Unbiased Learning-to-Rank with
 * Biased Feedback"), docs/position-bias.md: per request, with probability `q`, the item the
 * model ranked first is swapped with the item at a position p drawn uniformly from 2..n (n the
 * positions shown); the rest stay where the model put them. The first item's click rate at p
 * against at 1 is then θ_p / θ_1, whatever its relevance, since the swap is random.
 *
 * Exact marginal propensities given the ranked list (n ≥ 2): the first item is at 1 with
 * probability 1 − q and at each p ≥ 2 with q / (n − 1); the item ranked p ≥ 2 is at p with
 * 1 − q / (n − 1) and at 1 with q / (n − 1).
 */
export function swapPolicy(q: number): Policy {
  if (!(q > 0 && q < 1)) throw new RangeError(`swap probability ${q} is not in (0, 1)`);
  return {
    name: `swap:${q}`,
    depth: (k) => k,
    place(ranked, ctx) {
      const n = Math.min(ctx.k, ranked.length);
      const shown: PlacedItem[] = ranked.slice(0, n).map((item) => ({ ...item, propensity: 1 }));
      if (n < 2) return shown;
      const moved = q / (n - 1);
      const swapped = ctx.random() < q;
      const p = swapped ? 2 + Math.min(n - 2, Math.floor(ctx.random() * (n - 1))) : 1;
      for (let j = 1; j < n; j++) shown[j] = { ...shown[j], propensity: 1 - moved };
      if (!swapped) {
        shown[0] = { ...shown[0], propensity: 1 - q };
        return shown;
      }
      const first = ranked[0];
      const other = ranked[p - 1];
      shown[0] = { ...other, channel: SWAP_CHANNEL, propensity: moved };
      shown[p - 1] = { ...first, channel: SWAP_CHANNEL, propensity: moved };
      return shown;
    },
  };
}
