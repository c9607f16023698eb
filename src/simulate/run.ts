import { join } from 'node:path';
import { LocalLogStore } from '../events/log-store.js';
import { loadExperiment, type Experiment } from '../experiments/experiment.js';
import { greedyPolicy, type Policy } from '../explore/policy.js';
import { servingSource, type ServeTarget } from '../pipeline/serving.js';
import { InputError } from '../util/errors.js';
import { writeJsonAtomic } from '../util/fs.js';
import { log } from '../util/log.js';
import { directoryKind, writeOutputDir } from '../util/output.js';
import { readDatasetMeta } from '../data/dataset.js';
import { groundTruth, type GroundTruth } from './ground-truth.js';
import { HttpAnswerer } from './http.js';
import { PrecomputedAnswerer, RankedLists, type ServedVariant } from './precomputed.js';
import { DAY_MS, simulate, type Answerer } from './simulator.js';
import { clickModel, Truth } from './truth.js';

/** `recsys simulate`'s output: the simulated users' log (the local log store's layout) and truth.json. */
export const LOGS_DIR = 'logs';
export const TRUTH_FILE = 'truth.json';
export const SIMULATION_OUTPUT = directoryKind('simulation output', TRUTH_FILE, [LOGS_DIR, TRUTH_FILE]);

export type SimulationTarget = { readonly serve: string } | ServeTarget;

export interface SimulateRequest {
  /** A dataset written by `recsys data synth`: its planted structure is the truth. */
  readonly data: string;
  /** Who answers: a running server (URL), or a model artifact / pipeline file answered in memory (the fast path). */
  readonly target: SimulationTarget;
  /** An experiment file splitting users between variants (each variant's `model` and `policy`). */
  readonly experiment?: string;
  /** The placement policy outside an experiment, or of variants naming none (fast path). Default greedy. */
  readonly policy?: string;
  readonly days: number;
  readonly usersPerDay: number;
  readonly k: number;
  readonly seed: number;
  /** The position curve θ_1..θ_k; default p^-0.7. */
  readonly positions?: readonly number[];
  readonly purchaseShare?: number;
  readonly out: string;
}

export interface SimulateReport {
  readonly out: string;
  readonly truth: GroundTruth;
  readonly seconds: number;
}

/**
 * Turns a policy's command-line spelling into a policy; `greedy` is always known, exploring
 * policies come from the explore module.
 */
function policyOf(spec: string | undefined): Policy {
  if (spec === undefined || spec === greedyPolicy.name) return greedyPolicy;
  throw new InputError(`policy ${spec}: unknown placement policy (known: greedy)`);
}

/** The fast path's variants: each variant's model (its own, else the target's) ranked for every user once. */
async function precomputed(target: ServeTarget, experiment: Experiment | null, req: SimulateRequest): Promise<PrecomputedAnswerer> {
  const cache = new Map<string, RankedLists>();
  const listsOf = async (t: ServeTarget): Promise<RankedLists> => {
    const key = JSON.stringify(t);
    let lists = cache.get(key);
    if (!lists) {
      const source = servingSource(t);
      const m = await source.load(source.resolve());
      const depth = policyDepths(experiment, req);
      lists = RankedLists.of(m.model, m.seen, depth, { name: m.name, version: m.version });
      await m.close();
      cache.set(key, lists);
    }
    return lists;
  };
  const variants: ServedVariant[] = [];
  if (!experiment) variants.push({ name: 'all', lists: await listsOf(target), policy: policyOf(req.policy) });
  else
    for (const v of experiment.variants) {
      variants.push({
        name: v.name,
        lists: await listsOf(v.model ? { model: v.model } : target),
        policy: policyOf(v.policy ?? req.policy),
      });
    }
  return new PrecomputedAnswerer(variants, { experiment, seed: req.seed });
}

/** The longest list any variant's policy asks for k positions. */
function policyDepths(experiment: Experiment | null, req: SimulateRequest): number {
  const specs = experiment ? experiment.variants.map((v) => v.policy ?? req.policy) : [req.policy];
  return Math.max(...specs.map((s) => policyOf(s).depth(req.k)));
}

/**
 * Runs the simulation into `out` (replacing only a previous simulation output): the log of what
 * the users were shown and did, and truth.json.
 */
export async function runSimulation(req: SimulateRequest): Promise<SimulateReport> {
  const started = performance.now();
  const truth = Truth.ofDataset(req.data, clickModel(req.k, { positions: req.positions, purchaseShare: req.purchaseShare }));
  const experiment = req.experiment ? loadExperiment(req.experiment) : null;
  const answerer: Answerer & { readonly counterfactual?: PrecomputedAnswerer } =
    'serve' in req.target ? new HttpAnswerer(req.target.serve) : await precomputed(req.target, experiment, req);
  const counterfactual = answerer instanceof PrecomputedAnswerer ? answerer : null;
  // The simulated days start at the experiment's start, else the day after the data ends.
  const dataEnd = (readDatasetMeta(req.data).time_range?.max ?? 0) * 1000;
  const start = experiment ? Date.parse(experiment.start) : (Math.floor(dataEnd / DAY_MS) + 1) * DAY_MS;
  const truthJson = await writeOutputDir(req.out, SIMULATION_OUTPUT, async (tmp) => {
    const sink = new LocalLogStore({ dir: join(tmp, LOGS_DIR) });
    let result: Awaited<ReturnType<typeof simulate>>;
    try {
      result = await simulate({ truth, answerer, sink, days: req.days, usersPerDay: req.usersPerDay, k: req.k, seed: req.seed, start });
    } finally {
      await sink.close();
    }
    const simulation = { days: req.days, users_per_day: req.usersPerDay, k: req.k, seed: req.seed, start: new Date(start).toISOString() };
    const ground = groundTruth({ truth, result, simulation, experiment, counterfactual });
    writeJsonAtomic(join(tmp, TRUTH_FILE), ground);
    return ground;
  });
  const seconds = (performance.now() - started) / 1000;
  log.event('simulate.done', { out: req.out, seconds });
  return { out: req.out, truth: truthJson, seconds };
}
