import type { ExposureRecord, UserEventRecord } from '../../src/events/records.js';

/** An exposure of `items` (positions 1..n, deterministic policy) for the log tests. */
export function exposure(requestId: string, time: number, user: number | null, items: readonly number[]): ExposureRecord {
  return {
    kind: 'exposure',
    request_id: requestId,
    time,
    user_id: user,
    route: 'user',
    model: 'als',
    version: 'v1',
    path: 'live',
    experiment: 'exp1',
    variant: 'control',
    policy: 'greedy',
    items: items.map((item_id, i) => ({ item_id, position: i + 1, score: 1 - i / 10, channel: 'als', propensity: 1 })),
  };
}

export function event(user: number, item: number, type: string, time: number, requestId: string | null = null): UserEventRecord {
  return { kind: 'event', user_id: user, item_id: item, type, request_id: requestId, time };
}
