import type { ExposureRecord, ShownItem, UserEventRecord } from '../../src/events/records.js';

/** Items shown at positions 1..n by a deterministic policy (propensity 1), scores falling with the position. */
export function shownItems(itemIds: readonly number[], channel = 'als'): ShownItem[] {
  return itemIds.map((item_id, i) => ({ item_id, position: i + 1, score: 1 - i / 10, channel, propensity: 1 }));
}

/** An exposure record for the tests: a user answer by model als v1, greedy, outside any experiment, unless `fields` say otherwise. */
export function exposureRecord(fields: Partial<ExposureRecord>): ExposureRecord {
  return {
    kind: 'exposure',
    request_id: 'r0',
    time: 0,
    user_id: 1,
    route: 'user',
    model: 'als',
    version: 'v1',
    path: 'live',
    experiment: null,
    variant: null,
    policy: 'greedy',
    items: [],
    ...fields,
  };
}

/** An exposure of `items` (positions 1..n, deterministic policy) in variant control of exp1, for the log tests. */
export function exposure(requestId: string, time: number, user: number | null, items: readonly number[]): ExposureRecord {
  return exposureRecord({ request_id: requestId, time, user_id: user, experiment: 'exp1', variant: 'control', items: shownItems(items) });
}

export function event(user: number, item: number, type: string, time: number, requestId: string | null = null): UserEventRecord {
  return { kind: 'event', user_id: user, item_id: item, type, request_id: requestId, time };
}
