import betaCdf from '@stdlib/stats-base-dists-beta-cdf';

/**
 * How many of n independent checks that each hold with probability p should hold: the central
 * binomial band [lo, hi] with P(X < lo) ≤ (1 − level)/2 and P(X > hi) ≤ (1 − level)/2, through
 * the identity P(X ≤ k) = I_{1−p}(n − k, k + 1) (the regularised incomplete beta function).
 * A test that rejects in 5 % of seeds, or an interval that covers in 95 %, is sound when its
 * count over n seeds falls inside the band.
 */
export function binomialBand(n: number, p: number, level = 0.95): [number, number] {
  const tail = (1 - level) / 2;
  const cdf = (k: number): number => (k < 0 ? 0 : k >= n ? 1 : betaCdf(1 - p, n - k, k + 1));
  let lo = 0;
  while (lo < n && cdf(lo) <= tail) lo++;
  let hi = n;
  while (hi > 0 && 1 - cdf(hi - 1) <= tail) hi--;
  return [lo, hi];
}
