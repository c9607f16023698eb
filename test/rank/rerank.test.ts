import { describe, expect, it } from 'vitest';
import { genreCosine } from '../../src/eval/beyond-accuracy.js';
import type { CandidateSet } from '../../src/rank/candidates.js';
import type { ItemGenres } from '../../src/rank/item-genres.js';
import { rankByScore, rerank, type RerankSettings, type SeenFilter } from '../../src/rank/rerank.js';

describe('re-ranking', () => {
  // One user, candidates 0..3 with GBDT scores 4, 3, 2, 1.
  // Genres: 0 {A}, 1 {A}, 2 {B}, 3 {A, B}; cosines: (0,1) = 1, (0,2) = 0, (0,3) = (2,3) = 1/√2.
  const genres: ItemGenres = {
    names: ['A', 'B'],
    genreStart: Int32Array.of(0, 1, 2, 3, 5),
    genreIds: Int32Array.of(0, 0, 1, 0, 1),
    releaseYear: new Float32Array(4).fill(NaN),
  };
  const set: CandidateSet = {
    channels: [],
    users: Int32Array.of(0),
    offsets: Int32Array.of(0, 4),
    items: Int32Array.of(3, 1, 0, 2),
    fused: new Float32Array(4),
    channelScores: new Float32Array(0),
    channelRanks: new Float32Array(0),
  };
  const scores = Float64Array.of(1, 3, 4, 2); // by item: 0 → 4, 1 → 3, 2 → 2, 3 → 1
  const none: SeenFilter = () => false;
  const similarity = (a: number, b: number): number => genreCosine(genres, a, b);
  const settings = (s: Partial<RerankSettings>): RerankSettings => ({
    mmrLambda: 1,
    genreCap: 0,
    freshness: 0,
    freshnessHalfLifeDays: 10,
    ...s,
  });
  const run = (s: Partial<RerankSettings>, k = 4, seen = none, ages: Float32Array | null = null): number[] => [
    ...rerank(set, scores, k, seen, settings(s), similarity, genres, ages).items,
  ];

  it('ranks by score with seen items filtered', () => {
    expect([...rankByScore(set, scores, 4, none).items]).toEqual([0, 1, 2, 3]);
    expect([...rankByScore(set, scores, 4, (_, i) => i === 1).items]).toEqual([0, 2, 3, -1]);
  });

  it('MMR with λ = 1 keeps the ranked order', () => {
    expect(run({ mmrLambda: 1 })).toEqual([...rankByScore(set, scores, 4, none).items]);
    const r = rerank(set, scores, 4, none, settings({}), similarity, genres, null);
    // normalised relevance (s − min) / (max − min)
    expect([...r.scores].map((v) => +v.toFixed(6))).toEqual([1, +(2 / 3).toFixed(6), +(1 / 3).toFixed(6), 0]);
  });

  it('MMR with λ = 0 starts from the best item, then picks the least similar', () => {
    // after 0: max sims 1 (item 1), 0 (item 2), 0.707 (item 3) → 2; then 1 vs 0.707 → 3; then 1.
    expect(run({ mmrLambda: 0 })).toEqual([0, 2, 3, 1]);
    // λ = 0.5 after 0: item 1: 0.5·2/3 − 0.5·1 = −0.17; item 2: 0.5·1/3 − 0 = 0.17; item 3: 0 − 0.35 → 2
    expect(run({ mmrLambda: 0.5 }).slice(0, 2)).toEqual([0, 2]);
  });

  it('holds the genre cap, even if lists get shorter', () => {
    expect(run({ genreCap: 2 })).toEqual([0, 1, 2, -1]);
    expect(run({ genreCap: 1 })).toEqual([0, 2, -1, -1]);
    const r = run({ genreCap: 1 }, 4, none);
    const perGenre = [0, 0];
    for (const i of r) if (i >= 0) for (let q = genres.genreStart[i]; q < genres.genreStart[i + 1]; q++) perGenre[genres.genreIds[q]]++;
    expect(Math.max(...perGenre)).toBeLessThanOrEqual(1);
  });

  it('adds a freshness boost that halves every half-life', () => {
    // rows are items 3, 1, 0, 2: item 1 is brand new (boost 1), item 0 ages 10 days (boost 0.5)
    const ages = Float32Array.of(1e6, 0, 10, NaN);
    const r = rerank(set, scores, 4, none, settings({ freshness: 1 }), similarity, genres, ages);
    expect([...r.items]).toEqual([1, 0, 2, 3]);
    expect(r.scores[0]).toBeCloseTo(2 / 3 + 1, 6);
    expect(r.scores[1]).toBeCloseTo(1 + 0.5, 6);
  });

  it('filters seen items before everything else', () => {
    expect(run({ mmrLambda: 0 }, 4, (_, i) => i === 0)).toEqual([1, 2, 3, -1]);
  });
});
