import { DEFAULT_POSITIVE_TYPES, type ExposureRecord, type UserEventRecord } from './records.js';

/** An exposure with what users did with each position it showed. */
export interface AttributedExposure {
  readonly exposure: ExposureRecord;
  /** 1 at index p when the item at position p + 1 got a positive event (click, purchase, ...). */
  readonly positive: Uint8Array;
}

export interface Attribution {
  readonly exposures: AttributedExposure[];
  /** Positive events no exposure explains (the item was not shown to the user within the window). */
  readonly unattributed: number;
}

export interface AttributionOptions {
  /** Event types that count as positive feedback. Default: click, purchase. */
  readonly positiveTypes?: readonly string[];
  /** How long after an exposure an event without request_id is still credited to it, ms. Default 30 min. */
  readonly windowMs?: number;
}

export const DEFAULT_ATTRIBUTION_WINDOW_MS = 30 * 60 * 1000;

/**
 * Credits positive events to the exposures that caused them: an event naming its request_id goes
 * to that exposure (when it showed the item); any other goes to the user's latest exposure that
 * showed the item no later than the event and within the window. A position counts once however
 * many positive events it got, so click-through rates stay rates.
 */
export function attributeEvents(
  exposures: readonly ExposureRecord[],
  events: readonly UserEventRecord[],
  opts: AttributionOptions = {},
): Attribution {
  const positiveTypes = new Set(opts.positiveTypes ?? DEFAULT_POSITIVE_TYPES);
  const windowMs = opts.windowMs ?? DEFAULT_ATTRIBUTION_WINDOW_MS;
  const attributed = exposures.map((exposure) => ({ exposure, positive: new Uint8Array(exposure.items.length) }));
  const byRequest = new Map<string, AttributedExposure>();
  const byUser = new Map<number, AttributedExposure[]>();
  for (const a of attributed) {
    byRequest.set(a.exposure.request_id, a);
    if (a.exposure.user_id === null) continue;
    const list = byUser.get(a.exposure.user_id);
    if (list) list.push(a);
    else byUser.set(a.exposure.user_id, [a]);
  }
  for (const list of byUser.values()) list.sort((x, y) => x.exposure.time - y.exposure.time);
  const credit = (a: AttributedExposure | undefined, item: number): boolean => {
    const p = a ? a.exposure.items.findIndex((i) => i.item_id === item) : -1;
    if (!a || p < 0) return false;
    a.positive[p] = 1;
    return true;
  };
  let unattributed = 0;
  for (const e of events) {
    if (!positiveTypes.has(e.type)) continue;
    if (e.request_id !== null && credit(byRequest.get(e.request_id), e.item_id)) continue;
    const list = byUser.get(e.user_id) ?? [];
    let found = false;
    for (let j = upperBound(list, e.time) - 1; j >= 0 && e.time - list[j].exposure.time <= windowMs; j--) {
      if (credit(list[j], e.item_id)) {
        found = true;
        break;
      }
    }
    if (!found) unattributed++;
  }
  return { exposures: attributed, unattributed };
}

/** The number of exposures in time-sorted `list` at or before `time`. */
function upperBound(list: readonly AttributedExposure[], time: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid].exposure.time <= time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
