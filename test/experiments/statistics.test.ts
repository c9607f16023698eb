import chisquareCdf from '@stdlib/stats-base-dists-chisquare-cdf';
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import { describe, expect, it } from 'vitest';
import { planSampleSize } from '../../src/experiments/plan.js';
import { chiSquareGoodnessOfFit, compare, cuped, ratioEstimate } from '../../src/experiments/statistics.js';
import { binomialBand } from '../../src/simulate/coverage.js';
import { Rng } from '../../src/util/rng.js';

const ones = (n: number): Float64Array => new Float64Array(n).fill(1);

describe('the delta method for a ratio of per-user sums', () => {
  it('gives Var(Σy/Σx) of a four-user table worked by hand, and agrees with the moment formula of Deng et al. 2018', () => {
    // clicks y and shown slots x of four users: R = 4/12 = 1/3, x̄ = 3.
    const y = [1, 0, 2, 1];
    const x = [2, 3, 5, 2];
    const r = ratioEstimate(y, x);
    expect(r.value).toBeCloseTo(1 / 3, 15);
    // ℓ = (y − x/3)/3 = 1/9, −1/3, 1/9, 1/9: Σℓ² = 12/81, sample variance 4/81, over n = 4: 1/81.
    expect(Array.from(r.linearised)).toEqual([1 / 9, -1 / 3, 1 / 9, 1 / 9].map((v) => expect.closeTo(v, 15)));
    expect(r.variance).toBeCloseTo(1 / 81, 15);
    // (1 / (n μx²)) (σy² − 2R σxy + R² σx²) with sample moments σy² = 2/3, σx² = 2, σxy = 2/3.
    const R = 1 / 3;
    expect(r.variance).toBeCloseTo((1 / (4 * 9)) * (2 / 3 - 2 * R * (2 / 3) + R * R * 2), 15);
  });

  it('reduces to the sample variance of the mean when every user has x = 1', () => {
    const r = ratioEstimate([2, 4, 6], ones(3));
    expect(r.value).toBe(4);
    expect(r.variance).toBeCloseTo(4 / 3, 15); // s² = 8/2 = 4, over n = 3
  });
});

describe('comparing a variant with the control', () => {
  it('gives the difference test and the delta-method interval of the lift, worked by hand', () => {
    const c = { value: 0.1, variance: 0.0001 };
    const t = { value: 0.12, variance: 0.0002 };
    const cmp = compare(c, t);
    const z = 0.02 / Math.sqrt(0.0003);
    expect(cmp.difference).toBeCloseTo(0.02, 15);
    expect(cmp.p_value).toBeCloseTo(2 * (1 - normalCdf(z, 0, 1)), 12);
    expect(cmp.p_value).toBeCloseTo(0.2482, 3); // z = 1.1547
    expect(cmp.difference_ci[0]).toBeCloseTo(0.02 - 1.959964 * Math.sqrt(0.0003), 6);
    // Var(t/c) = V_t/c² + t² V_c/c⁴ = 0.0002/0.01 + 0.0144 · 0.0001/0.0001 = 0.02 + 0.0144.
    expect(cmp.lift).toBeCloseTo(0.2, 12);
    const se = Math.sqrt(0.0344);
    expect(cmp.lift_ci?.[0]).toBeCloseTo(0.2 - 1.959964 * se, 6);
    expect(cmp.lift_ci?.[1]).toBeCloseTo(0.2 + 1.959964 * se, 6);
  });

  it('has no lift against a control of 0', () => {
    const cmp = compare({ value: 0, variance: 0 }, { value: 0.1, variance: 0.001 });
    expect(cmp.lift).toBeNull();
    expect(cmp.lift_ci).toBeNull();
  });
});

describe('the χ² test of a split', () => {
  it('computes Σ (O − E)²/E and its p-value from the χ² distribution', () => {
    // 1,000 users declared 50/50 observed 540/460: χ² = (40² + 40²)/500 = 6.4 on 1 df.
    const test = chiSquareGoodnessOfFit([540, 460], [0.5, 0.5]);
    expect(test.statistic).toBeCloseTo(6.4, 12);
    expect(test.df).toBe(1);
    expect(test.p_value).toBeCloseTo(1 - chisquareCdf(6.4, 1), 15);
    // With one df, χ² is a squared standard normal: p = 2 (1 − Φ(√6.4)).
    expect(test.p_value).toBeCloseTo(2 * (1 - normalCdf(Math.sqrt(6.4), 0, 1)), 10);
    // Three variants 0.2/0.3/0.5 of 2,000 users: E = 400/600/1000.
    const three = chiSquareGoodnessOfFit([380, 640, 980], [0.2, 0.3, 0.5]);
    expect(three.statistic).toBeCloseTo(400 / 400 + 1600 / 600 + 400 / 1000, 12);
    expect(three.df).toBe(2);
    // With two df, χ² is exponential with mean 2: p = exp(−χ²/2).
    expect(three.p_value).toBeCloseTo(Math.exp(-three.statistic / 2), 12);
  });
});

describe('CUPED', () => {
  it('gives θ, the adjusted means and the variance reduction of a two-group table worked by hand', () => {
    // Clicks per user during (y) and before (x) the experiment.
    const a = { during: ratioEstimate([2, 4, 6], ones(3)), before: ratioEstimate([1, 2, 3], ones(3)) };
    const b = { during: ratioEstimate([3, 5, 10], ones(3)), before: ratioEstimate([2, 2, 5], ones(3)) };
    // Within-group cross products: A (−2,0,2)·(−1,0,1) = 4, B (−3,−1,4)·(−1,−1,2) = 12;
    // squares of x: A 2, B 6. θ = 16/8 = 2. Pooled pre-period mean 15/6 = 2.5.
    const result = cuped([a, b], 2.5);
    expect(result?.theta).toBeCloseTo(2, 15);
    // A: 4 − 2 (2 − 2.5) = 5; B: 6 − 2 (3 − 2.5) = 5.
    expect(result?.adjusted.map((e) => e.value)).toEqual([expect.closeTo(5, 14), expect.closeTo(5, 14)]);
    // Residuals y − ȳ − θ(x − x̄): A 0,0,0; B −1,1,0 → variance (2/2)/3 = 1/3.
    expect(result?.adjusted[0].variance).toBeCloseTo(0, 15);
    expect(result?.adjusted[1].variance).toBeCloseTo(1 / 3, 15);
    // Raw variances 4/3 and 13/3: reduction 1 − (1/3)/(17/3) = 16/17.
    expect(result?.variance_reduction).toBeCloseTo(16 / 17, 14);
  });

  it('is not applied when the pre-period carries no variation', () => {
    const flat = { during: ratioEstimate([1, 2, 3], ones(3)), before: ratioEstimate([0, 0, 0], ones(3)) };
    expect(cuped([flat, flat], 0)).toBeNull();
  });

  it('removes most of the variance when the pre-period predicts the metric, and leaves the means unbiased', () => {
    const rng = new Rng(7);
    const group = (n: number) => {
      const x = new Float64Array(n);
      const y = new Float64Array(n);
      for (let u = 0; u < n; u++) {
        const taste = 5 * rng.next();
        x[u] = taste + rng.normal() * 0.5;
        y[u] = taste + rng.normal() * 0.5;
      }
      return { during: ratioEstimate(y, ones(n)), before: ratioEstimate(x, ones(n)) };
    };
    const groups = [group(2000), group(2000)];
    const pooled = (groups[0].before.value + groups[1].before.value) / 2;
    const result = cuped(groups, pooled);
    // Var(taste) = 25/12 ≈ 2.08 shared, noise 0.25 each: ρ = 2.08/2.33, reduction ρ² ≈ 0.80.
    const rho = 25 / 12 / (25 / 12 + 0.25);
    expect(result?.variance_reduction).toBeGreaterThan(rho * rho - 0.05);
    expect(result?.variance_reduction).toBeLessThan(rho * rho + 0.05);
    // Both groups were drawn alike: their adjusted means differ by less than 3 standard errors.
    const [a, b] = result?.adjusted ?? [];
    expect(Math.abs(a.value - b.value)).toBeLessThan(3 * Math.sqrt(a.variance + b.variance));
  });
});

describe('an A/A test of CTR over 200 seeds', () => {
  /** One variant's users: clicks and shown slots, with per-user click rates as unequal as real users'. */
  function users(rng: Rng, n: number): { clicks: Float64Array; shown: Float64Array } {
    const clicks = new Float64Array(n);
    const shown = new Float64Array(n);
    for (let u = 0; u < n; u++) {
      const rate = 0.3 * rng.next() ** 2; // mean 0.1
      shown[u] = 5 * (1 + rng.int(5));
      for (let s = 0; s < shown[u]; s++) if (rng.next() < rate) clicks[u]++;
    }
    return { clicks, shown };
  }

  it('rejects at p < 0.05 inside the binomial 95 % band around 5 %; a per-impression test does not', () => {
    const seeds = 200;
    let rejected = 0;
    let naiveRejected = 0;
    for (let seed = 1; seed <= seeds; seed++) {
      const rng = new Rng(seed);
      const a = users(rng, 400);
      const b = users(rng, 400);
      if (compare(ratioEstimate(a.clicks, a.shown), ratioEstimate(b.clicks, b.shown)).p_value < 0.05) rejected++;
      // Impressions as independent Bernoulli trials: Var = p(1 − p)/impressions.
      const naive = (g: typeof a) => {
        const n = g.shown.reduce((s, v) => s + v, 0);
        const p = g.clicks.reduce((s, v) => s + v, 0) / n;
        return { value: p, variance: (p * (1 - p)) / n };
      };
      if (compare(naive(a), naive(b)).p_value < 0.05) naiveRejected++;
    }
    const [lo, hi] = binomialBand(seeds, 0.05);
    // Summed by hand from the binomial pmf: P(X ≤ 3) = 0.0090, P(X ≤ 4) = 0.0264; P(X ≥ 17) = 0.0238, P(X ≥ 16) = 0.0444.
    expect([lo, hi]).toEqual([4, 16]);
    expect(rejected).toBeGreaterThanOrEqual(lo);
    expect(rejected).toBeLessThanOrEqual(hi);
    // The same clicks counted per impression ignore that a user's impressions share the user's rate.
    expect(naiveRejected).toBeGreaterThan(hi);
  });
});

describe('an A/B test of CTR over 200 seeds', () => {
  it('covers the true lift with the 95 % interval inside the binomial band around 95 %, with and without CUPED', () => {
    // Each user's click rate r (mean 0.1) is the same before and during the test; the treatment
    // multiplies it by 1.2. The rate is independent of the slots shown, so the true CTRs are
    // E[r] = 0.1 and 0.12: a true lift of exactly 20 %.
    const group = (rng: Rng, n: number, factor: number) => {
      const during = { clicks: new Float64Array(n), shown: new Float64Array(n) };
      const before = { clicks: new Float64Array(n), shown: new Float64Array(n) };
      for (let u = 0; u < n; u++) {
        const rate = 0.3 * rng.next() ** 2;
        for (const [period, r] of [
          [before, rate],
          [during, rate * factor],
        ] as const) {
          period.shown[u] = 5 * (1 + rng.int(5));
          for (let s = 0; s < period.shown[u]; s++) if (rng.next() < r) period.clicks[u]++;
        }
      }
      return {
        during: ratioEstimate(during.clicks, during.shown),
        before: ratioEstimate(before.clicks, before.shown),
        before_sums: before,
      };
    };
    const seeds = 200;
    let covered = 0;
    let coveredCuped = 0;
    let reduction = 0;
    const inside = (ci: readonly [number, number] | null): boolean => ci !== null && ci[0] <= 0.2 && 0.2 <= ci[1];
    for (let seed = 1; seed <= seeds; seed++) {
      const rng = new Rng(1000 + seed);
      const c = group(rng, 400, 1);
      const t = group(rng, 400, 1.2);
      if (inside(compare(c.during, t.during).lift_ci)) covered++;
      const pooled = ratioEstimate(
        [...c.before_sums.clicks, ...t.before_sums.clicks],
        [...c.before_sums.shown, ...t.before_sums.shown],
      ).value;
      const adjusted = cuped([c, t], pooled);
      if (adjusted && inside(compare(adjusted.adjusted[0], adjusted.adjusted[1]).lift_ci)) coveredCuped++;
      reduction += (adjusted?.variance_reduction ?? 0) / seeds;
    }
    const [lo, hi] = binomialBand(seeds, 0.95);
    expect(covered).toBeGreaterThanOrEqual(lo);
    expect(covered).toBeLessThanOrEqual(hi);
    expect(coveredCuped).toBeGreaterThanOrEqual(lo);
    expect(coveredCuped).toBeLessThanOrEqual(hi);
    // The pre-period shares the users' rates: CUPED removes a real part of the variance.
    expect(reduction).toBeGreaterThan(0.1);
  });
});

describe('the sample-size planner', () => {
  it("matches R's power.prop.test(p1 = .50, p2 = .75, power = .90): n = 76.7 per group", () => {
    const plan = planSampleSize({ baseline: 0.5, mde: 0.25, power: 0.9 });
    expect(plan.exact).toBeCloseTo(76.7, 1);
    expect(plan.users_per_variant).toBe(77);
  });

  it('reads the mde as absolute unless told relative', () => {
    expect(planSampleSize({ baseline: 0.05, mde: 0.02 }).target).toBeCloseTo(0.07, 15);
    const relative = planSampleSize({ baseline: 0.05, mde: 0.02, relative: true });
    expect(relative.target).toBeCloseTo(0.051, 15);
    // The formula worked by hand for 0.05 → 0.07, α = 0.05, power 0.8.
    const root = 1.959964 * Math.sqrt(2 * 0.06 * 0.94) + 0.841621 * Math.sqrt(0.05 * 0.95 + 0.07 * 0.93);
    expect(planSampleSize({ baseline: 0.05, mde: 0.02 }).exact).toBeCloseTo((root * root) / 0.0004, 1);
    expect(relative.users_per_variant).toBeGreaterThan(700_000);
  });

  it('refuses rates outside (0, 1) naming the option', () => {
    expect(() => planSampleSize({ baseline: 0, mde: 0.02 })).toThrow(/--baseline/);
    expect(() => planSampleSize({ baseline: 0.99, mde: 0.02 })).toThrow(/--mde/);
    expect(() => planSampleSize({ baseline: 0.05, mde: 0.02, power: 1 })).toThrow(/--power/);
  });
});
