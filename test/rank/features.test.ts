import { describe, expect, it } from 'vitest';
import type { ItemCatalog } from '../../src/data/interactions.js';
import { buildTrainingData } from '../../src/data/training-data.js';
import type { CandidateSet } from '../../src/rank/candidates.js';
import { Funnel, type FunnelSettings } from '../../src/rank/funnel.js';
import { DAY_SECONDS } from '../../src/rank/history.js';
import { buildItemGenres } from '../../src/rank/item-genres.js';
import { DEFAULT_RERANK } from '../../src/rank/rerank.js';
import { buildTrainingExamples } from '../../src/rank/training-set.js';
import { interactionsOf } from '../helpers.js';

const day = DAY_SECONDS;
const catalog: ItemCatalog = {
  itemId: Int32Array.of(10, 11, 12, 13, 14),
  title: ['A (1990)', 'B (2000)', 'C', 'D (1995)', 'E (2001)'],
  genres: [['Action'], ['Action', 'Comedy'], ['Comedy'], [], ['Drama']],
};
const settings = (channels: string[]): FunnelSettings => ({
  channels,
  candidates: 10,
  rrfK: 60,
  channelTimeoutMs: 0,
  popularityWindowDays: 0,
  cooccurrence: { window: 1, neighbours: 10, recent: 5, decay: 1 },
  faissChannels: [],
  rerank: DEFAULT_RERANK,
  mmrSimilarity: 'genre',
});

describe('ranker features', () => {
  // u1: 10 (r4, day 0), 11 (r2, day 40); u2: 10 (r5, day 10), 12 (r3, day 45); u3: 11 (r1, day 50), 13 (r4, day 100).
  const data = buildTrainingData(
    interactionsOf([
      [1, 10, 4, 0],
      [1, 11, 2, 40 * day],
      [2, 10, 5, 10 * day],
      [2, 12, 3, 45 * day],
      [3, 11, 1, 50 * day],
      [3, 13, 4, 100 * day],
    ]),
    { catalog },
  );
  const item = (raw: number): number => data.items.indexOf(raw);

  it('match hand computations', async () => {
    const funnel = await Funnel.fit(data, buildItemGenres(data.items, catalog), settings(['popularity']), {});
    const names = funnel.featureNames;
    // rows: (u1, 12), (u1, 13), (u3, 12)
    const set: CandidateSet = {
      channels: ['popularity'],
      users: Int32Array.of(data.users.indexOf(1), data.users.indexOf(3)),
      offsets: Int32Array.of(0, 2, 3),
      items: Int32Array.of(item(12), item(13), item(12)),
      fused: Float32Array.of(1 / 61, 0, 1 / 62),
      channelScores: Float32Array.of(2.5, NaN, 1.5),
      channelRanks: Float32Array.of(1, NaN, 2),
    };
    const x = funnel.features(set);
    expect(x.length).toBe(3 * names.length);
    const f = (row: number, name: string): number => {
      const j = names.indexOf(name);
      expect(j, name).toBeGreaterThanOrEqual(0);
      return x[row * names.length + j];
    };
    // user u1: 2 events, 1 in (day 10, day 40], tenure 40 days, mean rating 3, Action 2/2, Comedy 1/2
    expect(f(0, 'user_events')).toBe(2);
    expect(f(0, 'user_events_30d')).toBe(1);
    expect(f(0, 'user_tenure_days')).toBe(40);
    expect(f(0, 'user_mean_rating')).toBe(3);
    expect(f(0, 'user_genre_share:Action')).toBe(1);
    expect(f(0, 'user_genre_share:Comedy')).toBe(0.5);
    expect(f(0, 'user_genre_share:Drama')).toBe(0);
    // the batch's "now" is the last event of the data, day 100
    expect(f(0, 'days_since_last_event')).toBe(60);
    expect(f(2, 'days_since_last_event')).toBe(0);
    // item 12 at u1's time (day 40): one event (day 45) after it
    expect(f(0, 'item_events')).toBe(1);
    expect(f(0, 'item_events_30d')).toBe(0);
    expect(f(0, 'item_events_365d')).toBe(0);
    expect(f(0, 'item_age_days')).toBe(-5);
    expect(f(0, 'item_mean_rating')).toBe(3);
    expect(f(0, 'item_release_age_years')).toBeNaN();
    expect(f(0, 'item_genre:Comedy')).toBe(1);
    expect(f(0, 'item_genre:Action')).toBe(0);
    // item 12 at u3's time (day 100): the day-45 event is within 365 days, not within 30
    expect(f(2, 'item_events_30d')).toBe(0);
    expect(f(2, 'item_events_365d')).toBe(1);
    expect(f(2, 'item_age_days')).toBe(55);
    // item 13 (1995, no genres) at day 40 of 1970
    expect(f(1, 'item_release_age_years')).toBeCloseTo(1970 + 40 / 365.25 - 1995, 4);
    expect(f(1, 'genre_affinity')).toBeNaN();
    // channel columns as given, count of channels that returned the item
    expect(f(0, 'popularity_score')).toBe(2.5);
    expect(f(0, 'popularity_rank')).toBe(1);
    expect(f(1, 'popularity_rank')).toBeNaN();
    expect(f(0, 'channel_count')).toBe(1);
    expect(f(1, 'channel_count')).toBe(0);
    expect(f(0, 'fused_score')).toBeCloseTo(1 / 61, 7);
    // u1's genre share of Comedy
    expect(f(0, 'genre_affinity')).toBe(0.5);
    // co-occurrence (window 1): (10,12) from u2 → sim 1/√(2·1); (11,13) from u3 → 1/√(2·1)
    expect(f(0, 'cooc_sum')).toBeCloseTo(Math.SQRT1_2, 6);
    expect(f(1, 'cooc_max')).toBeCloseTo(Math.SQRT1_2, 6);
    // u3's recent events 13, 11: 12 co-occurs with neither
    expect(f(2, 'cooc_sum')).toBe(0);
  });
});

describe('training examples', () => {
  // Early part (features, candidates) and late part (labels) of an inner split, by hand.
  const early = buildTrainingData(
    interactionsOf([
      [1, 10, 4, 1 * day],
      [1, 11, 4, 2 * day],
      [2, 10, 4, 1 * day],
      [2, 12, 4, 2 * day],
      [3, 11, 4, 1 * day],
      [3, 13, 4, 2 * day],
    ]),
    { catalog },
  );
  // u1's late items: 12 (positive), 10 (seen early: dropped), 14 (unknown to the early data: dropped).
  // u2: 13 and 11. u3: only 14 → no query. Item 12 has 3 late events but 1 early event.
  const late = interactionsOf([
    [1, 12, 4, 3 * day],
    [1, 10, 4, 3 * day],
    [1, 14, 4, 4 * day],
    [2, 13, 4, 3 * day],
    [2, 11, 4, 4 * day],
    [3, 14, 4, 3 * day],
    [3, 12, 4, 3 * day],
  ]);

  it('take labels from the late part and features from the early part only', async () => {
    const funnel = await Funnel.fit(early, buildItemGenres(early.items, catalog), settings(['popularity', 'cooc']), {});
    const ex = buildTrainingExamples(funnel, late, { negatives: 0, distribution: 'popularity', validFrac: 0, maxQueries: 100, seed: 1 });
    const raw = (u: number): number => early.users.rawId(u);
    expect([...ex.trainUsers].map(raw)).toEqual([1, 2, 3]);
    const { train } = ex;
    const names = funnel.featureNames;
    const col = (name: string): number => names.indexOf(name);
    let at = 0;
    const labelled: Record<number, number[]> = {};
    ex.trainUsers.forEach((u, q) => {
      for (let r = at; r < at + train.groupSizes[q]; r++) {
        // every candidate not seen early is a row; the label says whether it is in the late part
        const itemEvents = train.features[r * train.nFeatures + col('item_events')];
        const fused = train.features[r * train.nFeatures + col('fused_score')];
        expect(fused).toBeGreaterThan(0);
        if (train.labels[r] === 1) {
          labelled[raw(u)] ??= [];
          labelled[raw(u)].push(itemEvents);
        }
      }
      at += train.groupSizes[q];
    });
    // positives: u1 → 12, u2 → 13 and 11, u3 → 12; item 12's count is its early count, 1
    expect(ex.stats.positives).toBe(4);
    expect(labelled).toEqual({ 1: [1], 2: [2, 1], 3: [1] }); // u2: 11 (2 early events) ranks before 13
    // the early users' other candidates (items they did not see early) are the negatives
    expect(train.groupSizes.reduce((a, b) => a + b, 0)).toBe(train.nRows);
    expect([...train.groupSizes]).toEqual([2, 2, 2]);
  });

  it('keep a seeded sample of at most maxQueries users', async () => {
    const funnel = await Funnel.fit(early, buildItemGenres(early.items, catalog), settings(['popularity']), {});
    const opts = { negatives: 0, distribution: 'popularity' as const, validFrac: 0, maxQueries: 2, seed: 5 };
    const a = buildTrainingExamples(funnel, late, opts);
    expect(a.trainUsers.length).toBe(2);
    expect(a.train.groupSizes.length).toBe(2);
    expect([...buildTrainingExamples(funnel, late, opts).trainUsers]).toEqual([...a.trainUsers]);
  });

  it('add late positives the channels missed and sampled negatives as extra rows', async () => {
    const funnel = await Funnel.fit(early, buildItemGenres(early.items, catalog), { ...settings(['cooc']), candidates: 1 }, {});
    const ex = buildTrainingExamples(funnel, late, { negatives: 2, distribution: 'uniform', validFrac: 0, maxQueries: 100, seed: 1 });
    const names = funnel.featureNames;
    const { train } = ex;
    for (let r = 0; r < train.nRows; r++) {
      const fused = train.features[r * train.nFeatures + names.indexOf('fused_score')];
      const channels = train.features[r * train.nFeatures + names.indexOf('channel_count')];
      expect(channels === 1 || (channels === 0 && fused === 0)).toBe(true);
    }
    expect(ex.stats.positives).toBe(4);
    expect(Array.from(train.labels).reduce((a, b) => a + b, 0)).toBe(4);
    // 2 per user, except u2, who has every early item in one part or the other
    expect(ex.stats.sampledNegatives).toBe(4);
  });
});
