import type { Interactions } from '../interactions.js';
import type { Rng } from '../../util/rng.js';
import type { SynthItems } from './items.js';
import type { SynthUsers } from './users.js';

/**
 * Star ratings from the planted affinity: mean + user bias + item quality + a share of the
 * standardised affinity + noise, clamped and rounded to the scale. The constants give a
 * MovieLens-like spread (mean near 3.5, standard deviation near 1, 4 stars the most common).
 */
const RATING_MEAN = 3.55;
const AFFINITY_WEIGHT = 0.55;
const NOISE_SD = 0.6;
/** MovieLens allowed half stars from February 2003; before, whole stars 1..5 only. */
export const HALF_STARS_FROM = Date.UTC(2003, 1, 18) / 1000;

/** Fills `x.rating` (whose users, items and times are set) from each event's affinity. */
export function assignRatings(rng: Rng, x: Interactions, affinity: Float32Array, users: SynthUsers, items: SynthItems): void {
  const n = affinity.length;
  let sum = 0;
  let sumSquares = 0;
  for (let r = 0; r < n; r++) {
    sum += affinity[r];
    sumSquares += affinity[r] * affinity[r];
  }
  const mean = n > 0 ? sum / n : 0;
  const sd = n > 1 ? Math.sqrt(Math.max(sumSquares / n - mean * mean, 0)) : 0;
  const scale = sd > 0 ? AFFINITY_WEIGHT / sd : 0;
  for (let r = 0; r < n; r++) {
    const u = x.userId[r] - 1;
    const raw = RATING_MEAN + users.ratingBias[u] + items.quality[x.itemId[r] - 1] + scale * (affinity[r] - mean) + NOISE_SD * rng.normal();
    x.rating[r] =
      users.halfStars[u] === 1 && x.timestamp[r] >= HALF_STARS_FROM
        ? Math.min(5, Math.max(0.5, Math.round(raw * 2) / 2))
        : Math.min(5, Math.max(1, Math.round(raw)));
  }
}
