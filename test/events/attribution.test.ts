import { describe, expect, it } from 'vitest';
import { attributeEvents } from '../../src/events/attribution.js';
import type { ExposureRecord, UserEventRecord } from '../../src/events/records.js';
import { exposureRecord, event as logEvent, shownItems } from './log-records.js';

const MIN = 60_000;

function exposure(request_id: string, user_id: number, time: number, items: number[]): ExposureRecord {
  return exposureRecord({ request_id, user_id, time, items: shownItems(items) });
}

function event(user_id: number, item_id: number, time: number, type = 'click', request_id: string | null = null): UserEventRecord {
  return logEvent(user_id, item_id, type, time, request_id);
}

describe('attributeEvents', () => {
  const exposures = [exposure('a', 1, 0, [10, 11, 12]), exposure('b', 1, 10 * MIN, [12, 13, 10]), exposure('c', 2, 0, [10, 20])];

  it('credits an event naming its request to that exposure, even when a later one showed the item too', () => {
    const { exposures: out, unattributed } = attributeEvents(exposures, [event(1, 10, 11 * MIN, 'click', 'a')]);
    expect([...out[0].positive]).toEqual([1, 0, 0]);
    expect([...out[1].positive]).toEqual([0, 0, 0]);
    expect(unattributed).toBe(0);
  });

  it("credits an event without a request to the user's latest exposure of the item before it", () => {
    const { exposures: out } = attributeEvents(exposures, [event(1, 10, 11 * MIN), event(1, 11, 11 * MIN), event(2, 20, 1)]);
    expect([...out[0].positive]).toEqual([0, 1, 0]);
    expect([...out[1].positive]).toEqual([0, 0, 1]);
    expect([...out[2].positive]).toEqual([0, 1]);
  });

  it('counts what no exposure explains: another user, an item not shown, too late, before the exposure, not positive', () => {
    const events = [event(3, 10, MIN), event(1, 99, MIN), event(2, 10, 31 * MIN), event(2, 20, -1), event(2, 10, MIN, 'view')];
    const { exposures: out, unattributed } = attributeEvents(exposures, events);
    expect(unattributed).toBe(4);
    expect(out.every((a) => a.positive.every((p) => p === 0))).toBe(true);
  });

  it('counts a position once however many positive events it gets, and takes the positive types asked for', () => {
    const events = [event(2, 10, 1), event(2, 10, 2, 'purchase'), event(2, 20, 3, 'view')];
    expect([...attributeEvents(exposures, events).exposures[2].positive]).toEqual([1, 0]);
    expect([...attributeEvents(exposures, events, { positiveTypes: ['view'] }).exposures[2].positive]).toEqual([0, 1]);
  });
});
