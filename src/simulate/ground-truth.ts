import type { Experiment } from '../experiments/experiment.js';
import { controlOf } from '../experiments/experiment.js';
import { Rng } from '../util/rng.js';
import type { SimulationResult, VariantOutcome } from './simulator.js';
import type { Truth } from './truth.js';

/**
 * truth.json (docs/simulator.md, "The truth"): what the simulated users' clicks were drawn from,
 * and each variant's true click rates, for checking what the logs' estimators report.
 */
export interface GroundTruth {
  readonly format_version: 1;
  readonly dataset: Record<string, unknown>;
  readonly click_model: {
    readonly offset: number;
    readonly slope: number;
    readonly positions: readonly number[];
    readonly purchase_share: number;
  };
  readonly simulation: {
    readonly days: number;
    readonly users_per_day: number;
    readonly k: number;
    readonly seed: number;
    readonly start: string;
  };
  readonly control: string | null;
  readonly variants: Record<string, VariantTruth>;
  /** Relative lift of each non-control variant's CTR over the control's: shown and, when known, population. */
  readonly lift: Record<string, { readonly shown: number; readonly population: number | null }>;
  readonly days: { readonly day: number; readonly ctr_true: number; readonly ctr_observed: number }[];
}

export interface VariantTruth {
  /** Over the answers this variant gave: expected clicks of the shown lists (no click noise), and the clicks drawn. */
  readonly shown: {
    readonly arrivals: number;
    readonly users: number;
    readonly slots: number;
    readonly expected_clicks: number;
    readonly clicks: number;
    readonly purchases: number;
    /** expected clicks / slots. */
    readonly ctr: number;
    readonly clicks_per_request: number;
  };
  /**
   * Over every user of the dataset served by this variant (arrivals are uniform over users, so
   * this is the variant's expected CTR over the arrival distribution): what an A/B test estimates.
   * Null when the answerer cannot answer counterfactually (a running server).
   */
  readonly population: {
    readonly ctr: number;
    readonly clicks_per_request: number;
    /** Expected clicks of a user who arrived at least once in the simulation. */
    readonly clicks_per_user: number;
    /** False when the policy randomises and its expectation is a Monte Carlo mean (`replicates` placements per user). */
    readonly exact: boolean;
    readonly replicates: number;
  } | null;
}

/** Answers any user from any variant, whatever variant the user is in. */
export interface Counterfactual {
  /** Expected clicks and items shown of one request of `userId` to `variant`; `exact` false for a Monte Carlo mean. */
  expectedClicks(
    truth: Truth,
    variant: string,
    userId: number,
    k: number,
    replicates: number,
    rng: Rng,
  ): { clicks: number; slots: number; exact: boolean };
}

export interface GroundTruthInput {
  readonly truth: Truth;
  readonly result: SimulationResult;
  readonly simulation: GroundTruth['simulation'];
  readonly experiment: Experiment | null;
  /** The fast path's answerer, which can serve any user from any variant. */
  readonly counterfactual: Counterfactual | null;
  /** Placements per user averaged for a randomised policy's population truth. Default 20. */
  readonly replicates?: number;
}

/** Every user's expected clicks and list length under one variant, over all users of the truth. */
function populationOf(input: GroundTruthInput, variant: string): VariantTruth['population'] {
  const { truth, counterfactual, simulation } = input;
  if (!counterfactual) return null;
  const replicates = input.replicates ?? 20;
  const rng = new Rng(simulation.seed ^ 0x5eed);
  let clicks = 0;
  let slots = 0;
  let exact = true;
  for (let u = 1; u <= truth.users; u++) {
    const r = counterfactual.expectedClicks(truth, variant, u, simulation.k, replicates, rng);
    clicks += r.clicks;
    slots += r.slots;
    exact &&= r.exact;
  }
  const perRequest = clicks / truth.users;
  const arrivals = simulation.days * simulation.users_per_day;
  // Arrivals are uniform with replacement: a user's arrivals N ~ Binomial(A, 1/U), E[N | N ≥ 1] = (A/U) / (1 − (1 − 1/U)^A).
  const perArrivedUser = arrivals / truth.users / (1 - (1 - 1 / truth.users) ** arrivals);
  return {
    ctr: clicks / slots,
    clicks_per_request: perRequest,
    clicks_per_user: perRequest * perArrivedUser,
    exact,
    replicates: exact ? 0 : replicates,
  };
}

function shownOf(o: VariantOutcome): VariantTruth['shown'] {
  return {
    arrivals: o.arrivals,
    users: o.users,
    slots: o.slots,
    expected_clicks: o.expectedClicks,
    clicks: o.clicks,
    purchases: o.purchases,
    ctr: o.slots > 0 ? o.expectedClicks / o.slots : 0,
    clicks_per_request: o.arrivals > 0 ? o.expectedClicks / o.arrivals : 0,
  };
}

export function groundTruth(input: GroundTruthInput): GroundTruth {
  const { truth, result, experiment } = input;
  const names = experiment ? experiment.variants.map((v) => v.name) : Object.keys(result.variants);
  const variants: Record<string, VariantTruth> = {};
  for (const name of names) {
    const outcome = result.variants[name] ?? { arrivals: 0, users: 0, slots: 0, expectedClicks: 0, clicks: 0, purchases: 0 };
    variants[name] = { shown: shownOf(outcome), population: populationOf(input, experiment ? name : 'all') };
  }
  const control = experiment ? controlOf(experiment) : null;
  const lift: GroundTruth['lift'] = {};
  if (control !== null) {
    const base = variants[control];
    for (const name of names) {
      if (name === control) continue;
      const v = variants[name];
      lift[name] = {
        shown: v.shown.ctr / base.shown.ctr - 1,
        population: v.population && base.population ? v.population.ctr / base.population.ctr - 1 : null,
      };
    }
  }
  return {
    format_version: 1,
    dataset: { ...truth.params },
    click_model: {
      offset: truth.model.offset,
      slope: truth.model.slope,
      positions: truth.model.positions,
      purchase_share: truth.model.purchaseShare,
    },
    simulation: input.simulation,
    control,
    variants,
    lift,
    days: result.days.map((d) => ({
      day: d.day,
      ctr_true: d.slots > 0 ? d.expectedClicks / d.slots : 0,
      ctr_observed: d.slots > 0 ? d.clicks / d.slots : 0,
    })),
  };
}
