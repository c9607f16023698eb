/**
 * Gamma and beta draws from a uniform stream (so a caller's seeded stream decides them):
 * Marsaglia & Tsang (2000) for Gamma(shape ≥ 1), boosted by U^(1/shape) below 1, and
 * Beta(a, b) = X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b).
 */
export function gammaDraw(shape: number, random: () => number): number {
  if (shape < 1) return gammaDraw(shape + 1, random) * positive(random) ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const z = normalDraw(random);
    const t = 1 + c * z;
    if (t <= 0) continue;
    const v = t * t * t;
    const u = positive(random);
    if (Math.log(u) < 0.5 * z * z + d - d * v + d * Math.log(v)) return d * v;
  }
}

export function betaDraw(a: number, b: number, random: () => number): number {
  const x = gammaDraw(a, random);
  return x / (x + gammaDraw(b, random));
}

/** Standard normal by Box-Muller (one of the pair). */
function normalDraw(random: () => number): number {
  return Math.sqrt(-2 * Math.log(positive(random))) * Math.cos(2 * Math.PI * random());
}

/** A uniform draw in (0, 1). */
function positive(random: () => number): number {
  let u = random();
  while (u === 0) u = random();
  return u;
}
