import { describe, expect, it } from 'vitest';
import { buildTrainingData } from '../../src/data/training-data.js';
import { allocTopK, type TopK } from '../../src/matrix/topk.js';
import { mergeCandidates, retrieveAll, withExtraItems } from '../../src/rank/candidates.js';
import type { Channel } from '../../src/rank/channels/channel.js';
import { RecentPopularityModel } from '../../src/rank/channels/recent-popularity.js';
import { Funnel, type FunnelSettings } from '../../src/rank/funnel.js';
import { buildUserHistory } from '../../src/rank/history.js';
import { buildItemGenres } from '../../src/rank/item-genres.js';
import { DEFAULT_RERANK } from '../../src/rank/rerank.js';
import { interactionsOf } from '../helpers.js';

function lists(rows: Array<Array<[number, number]>>, k: number): TopK {
  const out = allocTopK(rows.length, k);
  rows.forEach((row, b) =>
    row.forEach(([item, score], j) => {
      out.items[b * k + j] = item;
      out.scores[b * k + j] = score;
    }),
  );
  return out;
}

describe('merging channel candidates', () => {
  const a = lists(
    [
      [
        [5, 0.9],
        [3, 0.8],
      ],
    ],
    2,
  );
  const b = lists(
    [
      [
        [3, 2],
        [7, 1],
      ],
    ],
    2,
  );
  const fallback = lists(
    [
      [
        [9, 50],
        [5, 40],
        [8, 30],
      ],
    ],
    3,
  );

  it('fuses by reciprocal rank, keeps each item once with every channel score and rank', () => {
    const set = mergeCandidates(['a', 'b'], [a, b], Int32Array.of(0), 3, fallback, 60);
    expect([...set.items]).toEqual([3, 5, 7]);
    expect(set.fused[0]).toBeCloseTo(1 / 62 + 1 / 61, 7);
    expect(set.fused[1]).toBeCloseTo(1 / 61, 7);
    expect(set.fused[2]).toBeCloseTo(1 / 62, 7);
    // item 3: channel a rank 2 score 0.8, channel b rank 1 score 2
    expect([...set.channelScores.subarray(0, 2)]).toEqual([Math.fround(0.8), 2]);
    expect([...set.channelRanks.subarray(0, 2)]).toEqual([2, 1]);
    // item 5 only from a; item 7 only from b
    expect(set.channelRanks[2]).toBe(1);
    expect(set.channelRanks[3]).toBeNaN();
    expect(set.channelScores[4]).toBeNaN();
    expect(set.channelScores[5]).toBe(1);
  });

  it('truncates to n after fusion and fills short lists from the fallback', () => {
    expect([...mergeCandidates(['a', 'b'], [a, b], Int32Array.of(0), 2, fallback).items]).toEqual([3, 5]);
    const filled = mergeCandidates(['a', 'b'], [a, b], Int32Array.of(0), 5, fallback);
    expect([...filled.items]).toEqual([3, 5, 7, 8, 9]);
    expect(filled.fused[4]).toBe(0);
    const none = mergeCandidates(['a', 'b'], [null, null], Int32Array.of(0), 2, fallback);
    expect([...none.items]).toEqual([5, 9]);
    expect([...none.channelRanks]).toEqual([NaN, NaN, NaN, NaN]);
  });

  it('appends extra items without channel scores, skipping duplicates', () => {
    const set = mergeCandidates(['a', 'b'], [a, b], Int32Array.of(0), 2, fallback);
    const ext = withExtraItems(set, [[5, 11]]);
    expect([...ext.items]).toEqual([3, 5, 11]);
    expect([...ext.offsets]).toEqual([0, 3]);
    expect(ext.fused[2]).toBe(0);
    expect(ext.channelRanks[4]).toBeNaN();
    expect([...ext.channelRanks.subarray(0, 4)]).toEqual([...set.channelRanks]);
  });
});

describe('channel failures degrade to the other channels', () => {
  const data = buildTrainingData(
    interactionsOf([
      [1, 10, 4, 1],
      [1, 11, 4, 2],
      [2, 10, 4, 1],
      [2, 12, 4, 2],
      [3, 12, 4, 1],
      [3, 13, 4, 5],
      [3, 11, 4, 6],
    ]),
  );
  const history = buildUserHistory(data);
  const popularity = (): RecentPopularityModel => new RecentPopularityModel(data.users, data.items, history, 0);
  const users = Int32Array.of(0, 1);

  it('a throwing or an overrunning channel gives no list; the others answer', () => {
    const failing = popularity();
    failing.recommend = () => {
      throw new Error('index unavailable');
    };
    const slow = popularity();
    const fast = slow.recommend.bind(slow);
    slow.recommend = (u, k, ex) => {
      const until = performance.now() + 30;
      while (performance.now() < until);
      return fast(u, k, ex);
    };
    const ok = popularity();
    const channels: Channel[] = [
      { name: 'failing', model: failing, index: null },
      { name: 'slow', model: slow, index: null },
      { name: 'ok', model: ok, index: null },
    ];
    const got = retrieveAll(channels, users, 2, data.matrix, { timeoutMs: 10 });
    expect(got[0]).toBeNull();
    expect(got[1]).toBeNull();
    expect([...(got[2] as TopK).items]).toEqual([...ok.recommend(users, 2, data.matrix).items]);
    // without a limit the slow channel's answer is kept
    expect(retrieveAll(channels, users, 2, data.matrix, { timeoutMs: 0 })[1]).not.toBeNull();
  });

  const settings = (channels: string[]): FunnelSettings => ({
    channels,
    candidates: 3,
    rrfK: 60,
    channelTimeoutMs: 0,
    popularityWindowDays: 0,
    cooccurrence: { window: 5, neighbours: 10, recent: 5, decay: 1 },
    faissChannels: [],
    rerank: DEFAULT_RERANK,
    mmrSimilarity: 'genre',
  });

  it('in the funnel, a failing channel leaves the others; when all fail, popularity answers', async () => {
    const funnel = await Funnel.fit(data, buildItemGenres(data.items, null), settings(['cooc', 'popularity']), {});
    const healthy = funnel.candidates(users, null).set;
    funnel.channels[0].model.recommend = () => {
      throw new Error('boom');
    };
    const degraded = funnel.candidates(users, null);
    expect(degraded.lists[0]).toBeNull();
    const popularityOnly = degraded.lists[1] as TopK;
    // every candidate now comes from popularity, in its order
    for (let b = 0; b < users.length; b++) {
      const row = [...popularityOnly.items.subarray(b * 3, b * 3 + 3)].filter((i) => i >= 0);
      expect([...degraded.set.items.subarray(degraded.set.offsets[b], degraded.set.offsets[b + 1])]).toEqual(row);
    }
    expect(healthy.items.length).toBeGreaterThan(0);

    const coocOnly = await Funnel.fit(data, buildItemGenres(data.items, null), settings(['cooc']), {});
    coocOnly.channels[0].model.recommend = () => {
      throw new Error('boom');
    };
    const fallback = coocOnly.candidates(users, null).set;
    const expected = popularity().recommend(users, 3, data.matrix);
    for (let b = 0; b < users.length; b++) {
      // fallback items have no fused score: ordered by item index
      const row = [...expected.items.subarray(b * 3, b * 3 + 3)].filter((i) => i >= 0).sort((x, y) => x - y);
      expect(row.length).toBe(2);
      expect([...fallback.items.subarray(fallback.offsets[b], fallback.offsets[b + 1])]).toEqual(row);
    }
  });
});
