import type { ExposureRecord, UserEventRecord } from '../events/records.js';
import { assignVariant, type Experiment } from '../experiments/experiment.js';
import { type Csr, csrHas } from '../matrix/csr.js';
import { recommendSourced, type Recommender } from '../models/model.js';
import { greedyPolicy, type PlacedItem, type Policy, type RankedItem } from '../explore/policy.js';
import { Rng } from '../util/rng.js';
import { RecordCollector } from './collector.js';
import { type Counterfactual, groundTruth, type GroundTruth } from './ground-truth.js';
import { simulate, type Answerer, type SimulationResult } from './simulator.js';
import type { Truth } from './truth.js';

/**
 * The simulator's fast path: each variant's model ranks every user once (its batch recommend,
 * seen items filtered, exactly as the batch export), and requests are answered from those lists
 * through the variant's placement policy, in memory. The exposures it writes have the shape the
 * server logs, so everything downstream reads them the same way.
 */

/** Where simulated days start when nothing says otherwise. */
export const DEFAULT_START = Date.UTC(2030, 0, 1);

/** Every user's ranked list of one model, raw ids, `depth` long. */
export class RankedLists {
  private constructor(
    readonly model: string,
    readonly version: string,
    readonly depth: number,
    private readonly rowOf: (userId: number) => number,
    private readonly items: Int32Array,
    private readonly scores: Float32Array,
    private readonly channels: Uint8Array,
    private readonly channelNames: readonly string[],
    /** The answer for a user the model does not know: the most seen training items. */
    private readonly fallback: RankedItem[],
    /** Whether the user interacted with the item in training (exploration pools leave those out). */
    readonly seen: (userId: number, itemId: number) => boolean,
  ) {}

  /**
   * Ranks every user of `model` (`seen`: its training matrix, whose items are not recommended;
   * null to allow them), in batches of `batch` users.
   */
  static of(
    model: Recommender,
    seen: Csr | null,
    depth: number,
    opts: { name?: string; version?: string; batch?: number } = {},
  ): RankedLists {
    const n = model.users.size;
    const items = new Int32Array(n * depth).fill(-1);
    const scores = new Float32Array(n * depth);
    const channels = new Uint8Array(n * depth);
    let names: readonly string[] = [model.kind];
    const batch = opts.batch ?? 2048;
    for (let start = 0; start < n; start += batch) {
      const users = Int32Array.from({ length: Math.min(batch, n - start) }, (_, j) => start + j);
      const sourced = recommendSourced(model, users, depth, seen);
      names = sourced.sources;
      for (let j = 0; j < sourced.top.items.length; j++) {
        const item = sourced.top.items[j];
        items[start * depth + j] = item < 0 ? -1 : model.items.ids[item];
        scores[start * depth + j] = sourced.top.scores[j];
        channels[start * depth + j] = sourced.source[j];
      }
    }
    const counts = new Float64Array(model.items.size);
    if (seen) for (let e = 0; e < seen.indices.length; e++) counts[seen.indices[e]]++;
    const byCount = Array.from({ length: model.items.size }, (_, i) => i).sort((a, b) => counts[b] - counts[a] || a - b);
    const fallback = byCount.slice(0, depth).map((i) => ({ item_id: model.items.ids[i], score: counts[i], channel: 'popularity' }));
    return new RankedLists(
      opts.name ?? model.kind,
      opts.version ?? 'simulated',
      depth,
      (userId) => model.users.indexOf(userId),
      items,
      scores,
      channels,
      names,
      fallback,
      (userId, itemId) => {
        const row = model.users.indexOf(userId);
        const item = model.items.indexOf(itemId);
        return seen !== null && row >= 0 && item >= 0 && csrHas(seen, row, item);
      },
    );
  }

  /** The user's ranked list (the fallback for a user the model does not know), at most `depth` long. */
  ranked(userId: number): RankedItem[] {
    const row = this.rowOf(userId);
    if (row < 0) return this.fallback;
    const out: RankedItem[] = [];
    for (let j = row * this.depth; j < (row + 1) * this.depth && this.items[j] >= 0; j++) {
      out.push({ item_id: this.items[j], score: this.scores[j], channel: this.channelNames[this.channels[j]] });
    }
    return out;
  }
}

/** One variant served from precomputed lists. */
export interface ServedVariant {
  /** The variant's name in the experiment (ignored without one). */
  readonly name: string;
  readonly lists: RankedLists;
  readonly policy: Policy;
}

export interface PrecomputedOptions {
  /** Splits users between the variants by name; null: one variant serves everybody. */
  readonly experiment: Experiment | null;
  /** Seed of the policies' draws. */
  readonly seed: number;
}

/** Answers simulated requests from precomputed lists, logging what a server would. */
export class PrecomputedAnswerer implements Answerer, Counterfactual {
  private readonly rng: Rng;
  private requests = 0;

  private readonly variants: ServedVariant[];

  constructor(
    variants: readonly ServedVariant[],
    private readonly opts: PrecomputedOptions,
  ) {
    this.variants = [...variants];
    if (variants.length === 0) throw new Error('PrecomputedAnswerer: no variant');
    if (opts.experiment) {
      const missing = opts.experiment.variants.find((v) => !variants.some((s) => s.name === v.name));
      if (missing) throw new Error(`PrecomputedAnswerer: no lists for variant ${missing.name} of ${opts.experiment.id}`);
    } else if (variants.length > 1) {
      throw new Error('PrecomputedAnswerer: several variants need an experiment to split users');
    }
    this.rng = new Rng(opts.seed);
  }

  /** Serves a variant's users from new lists from now on (a model retrained overnight). */
  replaceLists(variant: string, lists: RankedLists): void {
    const j = this.variants.findIndex((v) => v.name === variant);
    if (j < 0) throw new Error(`PrecomputedAnswerer: no variant ${variant}`);
    this.variants[j] = { ...this.variants[j], lists };
  }

  /** The variant serving `userId`. */
  variantOf(userId: number): ServedVariant {
    const exp = this.opts.experiment;
    if (!exp) return this.variants[0];
    const name = assignVariant(exp, userId).name;
    return this.variants.find((v) => v.name === name) as ServedVariant;
  }

  async answer(userId: number, k: number, time: number): Promise<ExposureRecord> {
    const served = this.variantOf(userId);
    const placed = placeFor(served, userId, k, this.rng);
    this.requests++;
    return {
      kind: 'exposure',
      request_id: `sim-${this.opts.seed}-${this.requests}`,
      time,
      user_id: userId,
      route: 'user',
      model: served.lists.model,
      version: served.lists.version,
      path: 'live',
      experiment: this.opts.experiment?.id ?? null,
      variant: this.opts.experiment ? served.name : null,
      policy: served.policy.name,
      items: placed.map((p, j) => ({ item_id: p.item_id, position: j + 1, score: p.score, channel: p.channel, propensity: p.propensity })),
    };
  }

  async send(event: UserEventRecord): Promise<void> {
    this.variantOf(event.user_id).policy.observe?.(event);
  }

  /**
   * The clicks `userId` is expected to get from one request to `variant` (counterfactually, in
   * whichever variant the user is; outside an experiment, the one variant), and the items shown:
   * exact for a greedy policy, Σ_p θ_p rel(u, a_p); for a randomised one, the mean over
   * `replicates` placements drawn from `rng` (its marginals are not enumerable in general).
   */
  expectedClicks(
    truth: Truth,
    variant: string,
    userId: number,
    k: number,
    replicates: number,
    rng: Rng,
  ): { clicks: number; slots: number; exact: boolean } {
    const served = this.opts.experiment ? this.variants.find((v) => v.name === variant) : this.variants[0];
    if (!served) throw new Error(`PrecomputedAnswerer: no variant ${variant}`);
    if (served.policy.name === greedyPolicy.name) {
      const shown = served.lists
        .ranked(userId)
        .slice(0, k)
        .map((r) => r.item_id);
      return { clicks: truth.listClicks(userId, shown), slots: shown.length, exact: true };
    }
    let clicks = 0;
    let slots = 0;
    for (let r = 0; r < replicates; r++) {
      const placed = placeFor(served, userId, k, rng);
      clicks += truth.listClicks(
        userId,
        placed.map((p) => p.item_id),
      );
      slots += placed.length;
    }
    return { clicks: clicks / replicates, slots: slots / replicates, exact: false };
  }
}

/** The variant's policy placing k items from the user's precomputed list, never one the user has seen. */
function placeFor(served: ServedVariant, userId: number, k: number, rng: Rng): PlacedItem[] {
  const ranked = served.lists.ranked(userId).slice(0, served.policy.depth(k));
  return served.policy.place(ranked, { k, userId, random: () => rng.next(), exclude: (item) => served.lists.seen(userId, item) });
}

export interface InMemorySimulation {
  readonly truth: Truth;
  readonly variants: readonly ServedVariant[];
  readonly experiment: Experiment | null;
  readonly days: number;
  readonly usersPerDay: number;
  readonly k: number;
  readonly seed: number;
  /** Simulated time of the first day; default the experiment's start (else 2030-01-01). */
  readonly start?: number;
  /** After each day: e.g. retrain on `logs` and `answerer.replaceLists`. */
  readonly onDayEnd?: (day: number, logs: RecordCollector, answerer: PrecomputedAnswerer) => Promise<void>;
}

/** The fast path end to end: the logs in memory and the ground truth, for checks over many seeds. */
export async function simulateInMemory(
  opts: InMemorySimulation,
): Promise<{ logs: RecordCollector; result: SimulationResult; ground: GroundTruth; answerer: PrecomputedAnswerer }> {
  const { truth, experiment, k, seed } = opts;
  const answerer = new PrecomputedAnswerer(opts.variants, { experiment, seed });
  const logs = new RecordCollector();
  const start = opts.start ?? (experiment ? Date.parse(experiment.start) : DEFAULT_START);
  const onDayEnd = opts.onDayEnd;
  const result = await simulate({
    truth,
    answerer,
    sink: logs,
    days: opts.days,
    usersPerDay: opts.usersPerDay,
    k,
    seed,
    start,
    onDayEnd: onDayEnd ? (day) => onDayEnd(day, logs, answerer) : undefined,
  });
  const simulation = { days: opts.days, users_per_day: opts.usersPerDay, k, seed, start: new Date(start).toISOString() };
  return { logs, result, answerer, ground: groundTruth({ truth, result, simulation, experiment, counterfactual: answerer }) };
}
