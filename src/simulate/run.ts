import { join } from 'node:path';
import { LocalLogStore } from '../events/log-store.js';
import { loadExperiment, type Experiment } from '../experiments/experiment.js';
import { parsePolicy } from '../explore/parse.js';
import { greedyPolicy } from '../explore/policy.js';
import { buildItemPools, type ItemPools } from '../explore/pools.js';
import { seenMatrix } from '../eval/evaluate.js';
import type { Csr } from '../matrix/csr.js';
import type { Recommender } from '../models/model.js';
import { checkTrainedOn, prepareExperiment, trainedOn } from '../pipeline/experiment.js';
import { loadModelArtifact } from '../pipeline/index-model.js';
import { servingSource, type ServeTarget } from '../pipeline/serving.js';
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

/** A model artifact with what the fast path needs of its training: the seen items (filtered) and the exploration pools. */
async function loadTrained(
  target: ServeTarget,
): Promise<{ name: string; version: string; model: Recommender; seen: Csr; pools: ItemPools }> {
  const { dir, manifest, model } = await loadModelArtifact(servingSource(target).resolve());
  const trained = trainedOn(dir, manifest);
  const exp = await prepareExperiment(trained.dataset.dir, trained.params);
  checkTrainedOn(dir, exp, trained);
  return { name: manifest.name, version: manifest.version, model, seen: seenMatrix(model, exp.train), pools: buildItemPools(exp.training) };
}

/**
 * The fast path's variants: each variant's model (its own, else the target's), with its policy
 * (its own, else `req.policy`), ranked for every user once, as deep as its policies ask.
 */
async function precomputed(target: ServeTarget, experiment: Experiment | null, req: SimulateRequest): Promise<PrecomputedAnswerer> {
  const wanted = experiment
    ? experiment.variants.map((v) => ({ name: v.name, target: v.model ? { model: v.model } : target, policy: v.policy ?? req.policy }))
    : [{ name: 'all', target, policy: req.policy }];
  const byModel = new Map<string, typeof wanted>();
  for (const w of wanted) {
    const key = JSON.stringify(w.target);
    byModel.set(key, [...(byModel.get(key) ?? []), w]);
  }
  const variants = new Map<string, ServedVariant>();
  for (const group of byModel.values()) {
    const m = await loadTrained(group[0].target);
    const policies = group.map((w) => parsePolicy(w.policy ?? greedyPolicy.name, m.pools));
    const depth = Math.max(...policies.map((p) => p.depth(req.k)));
    const lists = RankedLists.of(m.model, m.seen, depth, { name: m.name, version: m.version });
    group.forEach((w, j) => variants.set(w.name, { name: w.name, lists, policy: policies[j] }));
  }
  return new PrecomputedAnswerer(
    wanted.map((w) => variants.get(w.name) as ServedVariant),
    { experiment, seed: req.seed },
  );
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
