import { describe, expect, it } from 'vitest';
import type { ExposureRecord, UserEventRecord } from '../../src/events/records.js';
import { parseExperiment } from '../../src/experiments/experiment.js';
import { abReport } from '../../src/experiments/report.js';
import { compare, cuped, ratioEstimate } from '../../src/experiments/statistics.js';
import { exposureRecord, event as logEvent, shownItems } from '../events/log-records.js';

const START = Date.parse('2026-01-01T00:00:00Z');
const HOUR = 3_600_000;

/** An experiment exp1 starting at START with variants A, B, ... of these shares. */
const experimentOf = (shares: number[], end?: string) =>
  parseExperiment(
    { id: 'exp1', salt: 's1', start: '2026-01-01T00:00:00Z', end, variants: shares.map((share, i) => ({ name: 'ABC'[i], share })) },
    'test',
  );

const experiment = experimentOf([0.5, 0.5], '2026-01-08T00:00:00Z');

let requests = 0;
function exposure(user: number | null, time: number, items: number[], variant: string | null = null, id = 'exp1'): ExposureRecord {
  return exposureRecord({
    request_id: `r${++requests}`,
    time,
    user_id: user,
    experiment: variant === null ? null : id,
    variant,
    items: shownItems(items),
  });
}

function event(user: number, item: number, type: string, time: number, request: ExposureRecord | null = null): UserEventRecord {
  return logEvent(user, item, type, time, request?.request_id ?? null);
}

describe('the A/B report over logs built by hand', () => {
  const pre1 = exposure(1, START - HOUR, [10, 11]);
  const a1 = exposure(1, START + HOUR, [1, 2, 3], 'A');
  const a2 = exposure(1, START + 2 * HOUR, [4, 5, 6], 'A');
  const a3 = exposure(2, START + HOUR, [1, 2, 3], 'A');
  const b1 = exposure(3, START + HOUR, [7, 8], 'B');
  const b2 = exposure(4, START + HOUR, [1, 2, 3, 4], 'B');
  const b2mixed = exposure(4, START + 3 * HOUR, [9], 'A');
  const exposures = [
    pre1,
    a1,
    a2,
    a3,
    b1,
    b2,
    b2mixed,
    exposure(3, START + 8 * 24 * HOUR, [7], 'B'), // after the end
    exposure(5, START + HOUR, [7], 'X', 'other-experiment'),
    exposure(null, START + HOUR, [7], 'A'),
  ];
  const events = [
    event(1, 10, 'click', START - HOUR + 1000, pre1), // pre-period click
    event(1, 2, 'click', START + HOUR + 1000, a1), // by request id
    event(1, 5, 'click', START + 2 * HOUR + 1000), // by time: the latest exposure showing item 5
    event(1, 5, 'view', START + 2 * HOUR + 2000, a2), // not a positive
    event(2, 3, 'purchase', START + HOUR + 60_000), // a conversion, and an attributed positive on a3
    event(3, 7, 'click', START + HOUR + 10, b1),
    event(3, 8, 'click', START + HOUR + 20, b1),
    event(3, 8, 'click', START + HOUR + 30, b1), // the same position again: counts once
    event(4, 99, 'click', START + HOUR), // an item never shown to user 4
  ];
  const report = abReport(experiment, { exposures, events });

  it('counts users, exposures, shown slots and attributed clicks per variant', () => {
    expect(report.experiment).toBe('exp1');
    expect(report.control).toBe('A');
    // A: user 1 (a1, a2: 6 slots, clicks on 2 and 5), user 2 (a3: 3 slots, the purchase of 3).
    // B: user 3 (b1: 2 slots, 2 clicks), user 4 (b2: 4 slots; b2mixed, in A, is left out).
    expect(report.variants).toEqual([
      {
        name: 'A',
        share: 0.5,
        users: 2,
        exposures: 3,
        shown: 9,
        clicks: 3,
        ctr: 3 / 9,
        clicks_per_user: 1.5,
        conversion: 0.5,
        users_with_pre_period: 1,
      },
      {
        name: 'B',
        share: 0.5,
        users: 2,
        exposures: 2,
        shown: 6,
        clicks: 2,
        ctr: 2 / 6,
        clicks_per_user: 1,
        conversion: 0,
        users_with_pre_period: 0,
      },
    ]);
    expect(report.mixed_users).toBe(1);
    expect(report.unattributed_events).toBe(1);
    expect(report.conversion_event).toBe('purchase');
  });

  it('compares per-user sums: the CTR test is the delta method over users, not over impressions', () => {
    const ctr = report.comparisons.find((c) => c.metric === 'ctr');
    // Per user (clicks, shown): A (2, 6), (1, 3); B (2, 2), (0, 4).
    const expected = compare(ratioEstimate([2, 1], [6, 3]), ratioEstimate([2, 0], [2, 4]));
    expect(ctr).toMatchObject({ variant: 'B', ...expected });
    // A: R = 1/3 and every user's ℓ is 0, so the variance is B's alone: ℓ = (2 − 2/3)/3, (0 − 4/3)/3.
    expect(ctr?.difference).toBeCloseTo(0, 15);
    const l = [(2 - 2 / 3) / 3, (0 - 4 / 3) / 3];
    const varB = (l[0] ** 2 + l[1] ** 2) / 1 / 2;
    expect(ctr?.difference_ci[1]).toBeCloseTo(1.959964 * Math.sqrt(varB), 5);
    expect(ctr?.p_value).toBe(1);
  });

  it('adjusts by the pre-period value of the same metric (CUPED), users without one at 0', () => {
    const cpu = report.comparisons.find((c) => c.metric === 'clicks_per_user');
    // Clicks per user during: A 2, 1; B 2, 0. Before: user 1 clicked once; everyone else 0.
    const groups = [
      { during: ratioEstimate([2, 1], [1, 1]), before: ratioEstimate([1, 0], [1, 1]) },
      { during: ratioEstimate([2, 0], [1, 1]), before: ratioEstimate([0, 0], [1, 1]) },
    ];
    const byHand = cuped(groups, 1 / 4);
    // Within-group: A ℓ = 0.5, −0.5 and ℓ' = 0.5, −0.5; B ℓ' = 0: θ = 0.5 / 0.5 = 1.
    expect(byHand?.theta).toBeCloseTo(1, 15);
    expect(cpu?.cuped?.theta).toBeCloseTo(1, 15);
    // Adjusted A = 1.5 − (0.5 − 0.25) = 1.25; B = 1 − (0 − 0.25) = 1.25.
    expect(cpu?.cuped?.control).toBeCloseTo(1.25, 15);
    expect(cpu?.cuped?.treatment).toBeCloseTo(1.25, 15);
    expect(cpu?.cuped?.variance_reduction).toBeCloseTo(byHand?.variance_reduction ?? Number.NaN, 15);
    // B has no pre-period exposures: its pre-period CTR is undefined, so CTR gets no CUPED.
    expect(report.comparisons.find((c) => c.metric === 'ctr')?.cuped).toBeNull();
  });

  it('counts a click as the conversion when the window holds no purchase', () => {
    const clicksOnly = abReport(experiment, { exposures, events: events.filter((e) => e.type !== 'purchase') });
    expect(clicksOnly.conversion_event).toBe('click');
    // A: user 1 clicked, user 2 did not; B: user 3 clicked, user 4 did not.
    expect(clicksOnly.variants.map((v) => v.conversion)).toEqual([0.5, 0.5]);
  });

  it('reports only the metrics asked for', () => {
    const only = abReport(experiment, { exposures, events }, { metrics: ['conversion'] });
    expect(only.comparisons.map((c) => c.metric)).toEqual(['conversion']);
  });

  it('refuses a variant the experiment file does not declare, and logs without the experiment', () => {
    expect(() => abReport(experiment, { exposures: [exposure(1, START + HOUR, [1], 'C')], events: [] }, { source: 'logs/' })).toThrow(
      /^logs\/: variant "C" of experiment exp1 \(request r\d+\) is not in the experiment file$/,
    );
    expect(() => abReport(experiment, { exposures: [pre1], events: [] }, { source: 'logs/' })).toThrow(
      'logs/: no exposures of experiment exp1 between 2026-01-01T00:00:00Z and 2026-01-08T00:00:00Z',
    );
  });
});

describe('CUPED with three variants', () => {
  const three = experimentOf([0.5, 0.25, 0.25]);
  // Per user: variant, clicks before the start, clicks during (each on its own shown item).
  const plan: Array<[string, number, number]> = [
    ['A', 1, 2],
    ['A', 0, 1],
    ['B', 2, 3],
    ['B', 1, 1],
    ['C', 0, 0],
    ['C', 3, 2],
  ];
  const exposures: ExposureRecord[] = [];
  const events: UserEventRecord[] = [];
  plan.forEach(([variant, before, during], user) => {
    for (const [x, clicks] of [
      [exposure(user, START - HOUR, [1, 2, 3]), before],
      [exposure(user, START + HOUR, [1, 2, 3], variant), during],
    ] as const) {
      exposures.push(x);
      for (let k = 0; k < clicks; k++) events.push(event(user, x.items[k].item_id, 'click', x.time + 1, x));
    }
  });

  it('pools θ within all variants and adjusts the control once for every comparison', () => {
    const cpu = abReport(three, { exposures, events }, { metrics: ['clicks_per_user'] }).comparisons;
    expect(cpu.map((c) => c.variant)).toEqual(['B', 'C']);
    // Within-variant moments of (during, before): A cov 0.5 var 0.5; B cov 1 var 0.5; C cov 3 var 4.5.
    const theta = 4.5 / 5.5;
    for (const c of cpu) expect(c.cuped?.theta).toBeCloseTo(theta, 14);
    // Pre-period mean over all six users: 7/6. A: 1.5 − θ (0.5 − 7/6); B: 2 − θ (1.5 − 7/6); C: 1 − θ (1.5 − 7/6).
    expect(cpu[0].cuped?.control).toBeCloseTo(1.5 + theta * (2 / 3), 14);
    expect(cpu[1].cuped?.control).toBeCloseTo(1.5 + theta * (2 / 3), 14);
    expect(cpu[0].cuped?.treatment).toBeCloseTo(2 - theta / 3, 14);
    expect(cpu[1].cuped?.treatment).toBeCloseTo(1 - theta / 3, 14);
  });
});

describe('the sample-ratio-mismatch check', () => {
  const users = (a: number, b: number): ExposureRecord[] => [
    ...Array.from({ length: a }, (_, u) => exposure(u, START + HOUR, [1], 'A')),
    ...Array.from({ length: b }, (_, u) => exposure(a + u, START + HOUR, [1], 'B')),
  ];

  it('passes a split within chance of its shares and flags one that lost users', () => {
    // 1,030 / 970: χ² = 2 · 30² / 1000 = 1.8, p = 0.18.
    const sound = abReport(experiment, { exposures: users(1030, 970), events: [] });
    expect(sound.srm.statistic).toBeCloseTo(1.8, 12);
    expect(sound.srm.expected).toEqual({ A: 1000, B: 1000 });
    expect(sound.srm.mismatch).toBe(false);
    // B lost 20 % of its users' logs: 1,000 / 800, χ² = 2 · 100² / 900 = 22.2, p = 2.4e-6.
    const broken = abReport(experiment, { exposures: users(1000, 800), events: [] });
    expect(broken.srm.statistic).toBeCloseTo(20000 / 900, 10);
    expect(broken.srm.p_value).toBeLessThan(0.001);
    expect(broken.srm.mismatch).toBe(true);
  });
});
