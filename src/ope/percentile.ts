/**
 * The percentile bootstrap interval: the (1 − level)/2 and (1 + level)/2 quantiles of the
 * replicates, interpolated linearly between order statistics (type 7, as R and numpy by
 * default); NaNs without any replicate.
 */
export function percentileInterval(replicates: ArrayLike<number>, level: number): [number, number] {
  if (replicates.length === 0) return [Number.NaN, Number.NaN];
  const sorted = Float64Array.from(replicates).sort();
  const at = (q: number): number => {
    const x = q * (sorted.length - 1);
    const lo = Math.floor(x);
    return sorted[lo] + (sorted[Math.min(lo + 1, sorted.length - 1)] - sorted[lo]) * (x - lo);
  };
  return [at((1 - level) / 2), at((1 + level) / 2)];
}
