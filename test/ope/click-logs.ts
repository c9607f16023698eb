import { attributeEvents, type AttributedExposure } from '../../src/events/attribution.js';
import type { ExposureRecord, LogRecord, UserEventRecord } from '../../src/events/records.js';
import type { PlacedItem } from '../../src/explore/policy.js';
import type { Rng } from '../../src/util/rng.js';

/** A planted examination curve: θ_1 = 1, falling with the position. */
export const PLANTED_THETA = [1, 0.6, 0.45, 0.35, 0.3, 0.26, 0.23, 0.2, 0.18, 0.16];

/**
 * Logs of a position-based click model: each request shows `placed` items to `user`; the item at
 * position p is clicked with probability θ_p · relevance(user, item). The clicks go through the
 * real attribution (by request id), as the estimators read them.
 */
export class ClickLog {
  private readonly exposures: ExposureRecord[] = [];
  private readonly events: UserEventRecord[] = [];

  constructor(
    private readonly theta: readonly number[],
    private readonly relevance: (user: number, item: number) => number,
    private readonly rng: Rng,
  ) {}

  show(user: number, placed: readonly PlacedItem[], policy: string): void {
    const request_id = `r${this.exposures.length}`;
    const time = this.exposures.length * 1000;
    this.exposures.push({
      kind: 'exposure',
      request_id,
      time,
      user_id: user,
      route: 'user',
      model: 'test',
      version: 'v1',
      path: 'live',
      experiment: null,
      variant: null,
      policy,
      items: placed.map((item, j) => ({ ...item, position: j + 1 })),
    });
    placed.forEach((item, j) => {
      if (this.rng.next() < this.theta[j] * this.relevance(user, item.item_id))
        this.events.push({ kind: 'event', user_id: user, item_id: item.item_id, type: 'click', request_id, time: time + 1 });
    });
  }

  /** Everything logged, as a log store holds it. */
  records(): LogRecord[] {
    return [...this.exposures, ...this.events];
  }

  attributed(): AttributedExposure[] {
    return attributeEvents(this.exposures, this.events).exposures;
  }
}

/** `n` distinct items of 0..nItems-1 in a uniformly random order (the distinct values of uniform draws, in draw order). */
export function randomItems(rng: Rng, nItems: number, n: number): number[] {
  const chosen = new Set<number>();
  while (chosen.size < n) chosen.add(rng.int(nItems));
  return [...chosen];
}

/** Items in the order shown, each placed with the given propensity (1 for a deterministic policy). */
export const asPlaced = (items: readonly number[], propensity: number, channel = 'test'): PlacedItem[] =>
  items.map((item_id, j) => ({ item_id, score: -j, channel, propensity }));
