import type { ExposureRecord, LogSink, UserEventRecord } from '../events/records.js';
import { Progress } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import type { Truth } from './truth.js';

/**
 * The click simulator (docs/simulator.md): simulated days in which users of a synth dataset
 * arrive, ask for k recommendations, click what they are shown with the truth's probability
 * θ_p × rel(u, i), and send their clicks back as events. Everything random is drawn from the
 * seed, so the same seed (and the same answers) gives the same logs.
 */

/** Whoever answers the simulated users: the serving library, a running `recsys serve`, or precomputed lists. */
export interface Answerer {
  /** One request of `userId` for k items at simulated time `time` (ms since the epoch): the exposure as shown. */
  answer(userId: number, k: number, time: number): Promise<ExposureRecord>;
  /** One user event back to the answering side (POST /events); the simulator logs it itself. */
  send(event: UserEventRecord): Promise<void>;
}

export interface SimulationOptions {
  readonly truth: Truth;
  readonly answerer: Answerer;
  /** Where the exposures and events go (the simulator's own log). */
  readonly sink: LogSink;
  readonly days: number;
  readonly usersPerDay: number;
  readonly k: number;
  readonly seed: number;
  /** Simulated time of the first day's start, ms since the epoch. */
  readonly start: number;
  /** Called after each simulated day (0-based) once its records are flushed: nightly retraining goes here. */
  readonly onDayEnd?: (day: number) => Promise<void>;
}

export const DAY_MS = 86_400_000;
/** Seconds between an answer and a click on its position p: p seconds (events stay in position order). */
const CLICK_DELAY_MS = 1000;
/** Requests between flushes of the sink. */
const FLUSH_EVERY = 1000;

/** What the users who arrived were shown and did, for one variant (or for all, outside an experiment). */
export interface VariantOutcome {
  readonly arrivals: number;
  /** Distinct users who arrived. */
  readonly users: number;
  /** Items shown in all (arrivals × k when every answer is full). */
  readonly slots: number;
  /** Σ over answers of Σ_p θ_p rel(u, a_p): the clicks the shown lists were expected to get. */
  readonly expectedClicks: number;
  /** Clicks drawn. */
  readonly clicks: number;
  readonly purchases: number;
}

export interface DayOutcome {
  readonly day: number;
  readonly slots: number;
  readonly expectedClicks: number;
  readonly clicks: number;
}

export interface SimulationResult {
  /** By variant (`exposure.variant`, or `all` outside an experiment), in order of first appearance. */
  readonly variants: Record<string, VariantOutcome>;
  readonly days: DayOutcome[];
  /** Raw user ids of every arrival, in order. */
  readonly arrivals: Int32Array;
  /** Distinct raw item ids ever shown, by variant. */
  readonly shownItems: Record<string, Set<number>>;
}

/** The variant key of an exposure. */
export function variantOf(exposure: ExposureRecord): string {
  return exposure.variant ?? 'all';
}

interface Tally {
  arrivals: number;
  users: Set<number>;
  slots: number;
  expectedClicks: number;
  clicks: number;
  purchases: number;
}

/** Runs the simulated days; records go to `opts.sink` in time order. */
export async function simulate(opts: SimulationOptions): Promise<SimulationResult> {
  const { truth, answerer, sink, k } = opts;
  const root = new Rng(opts.seed);
  const arrivalRng = root.fork();
  const clickRng = root.fork();
  const tallies = new Map<string, Tally>();
  const shownItems: Record<string, Set<number>> = {};
  const days: DayOutcome[] = [];
  const arrivals = new Int32Array(opts.days * opts.usersPerDay);
  const progress = new Progress('simulate', arrivals.length, 'requests');
  let n = 0;
  for (let day = 0; day < opts.days; day++) {
    const dayStart = opts.start + day * DAY_MS;
    const times = Float64Array.from({ length: opts.usersPerDay }, () => dayStart + Math.floor(arrivalRng.next() * DAY_MS)).sort();
    const dayTally = { slots: 0, expectedClicks: 0, clicks: 0 };
    for (const time of times) {
      const userId = 1 + arrivalRng.int(truth.users);
      arrivals[n++] = userId;
      const exposure = await answerer.answer(userId, k, time);
      sink.append(exposure);
      const key = variantOf(exposure);
      let tally = tallies.get(key);
      if (!tally) {
        tally = { arrivals: 0, users: new Set(), slots: 0, expectedClicks: 0, clicks: 0, purchases: 0 };
        tallies.set(key, tally);
        shownItems[key] = new Set();
      }
      tally.arrivals++;
      tally.users.add(userId);
      for (const shown of exposure.items) {
        const p = truth.clickProbability(userId, shown.item_id, shown.position);
        tally.slots++;
        tally.expectedClicks += p;
        dayTally.slots++;
        dayTally.expectedClicks += p;
        shownItems[key].add(shown.item_id);
        if (clickRng.next() >= p) continue;
        tally.clicks++;
        dayTally.clicks++;
        const click = event(userId, shown.item_id, 'click', exposure, shown.position);
        sink.append(click);
        await answerer.send(click);
        if (clickRng.next() < truth.model.purchaseShare) {
          tally.purchases++;
          const purchase = event(userId, shown.item_id, 'purchase', exposure, shown.position);
          sink.append(purchase);
          await answerer.send(purchase);
        }
      }
      progress.tick();
      // A sink writes on its own timer, which a loop of resolved promises never yields to: flush as we go.
      if (n % FLUSH_EVERY === 0) await sink.flush();
    }
    days.push({ day, ...dayTally });
    await sink.flush();
    await opts.onDayEnd?.(day);
  }
  progress.finish();
  const variants: Record<string, VariantOutcome> = {};
  for (const [key, t] of tallies) {
    variants[key] = {
      arrivals: t.arrivals,
      users: t.users.size,
      slots: t.slots,
      expectedClicks: t.expectedClicks,
      clicks: t.clicks,
      purchases: t.purchases,
    };
  }
  return { variants, days, arrivals, shownItems };
}

function event(userId: number, itemId: number, type: string, exposure: ExposureRecord, position: number): UserEventRecord {
  return {
    kind: 'event',
    user_id: userId,
    item_id: itemId,
    type,
    request_id: exposure.request_id,
    time: exposure.time + position * CLICK_DELAY_MS,
  };
}
