import { describe, expect, it } from 'vitest';
import { allocInteractions } from '../../src/data/interactions.js';
import { buildTrainingData } from '../../src/data/training-data.js';
import { buildVocab, ItemContent, normaliseTag, releaseYear, yearBucket } from '../../src/models/two-tower/features.js';
import { latestItems } from '../../src/models/two-tower/model.js';
import { buildSequences, examplePositions, holdOutTails } from '../../src/models/two-tower/sequences.js';

describe('two-tower content features', () => {
  it('reads the release year from MovieLens titles', () => {
    expect(releaseYear('Toy Story (1995)')).toBe(1995);
    expect(releaseYear('Fawlty Towers (1975-1979)')).toBe(1975);
    expect(releaseYear('Babylon 5 (1994-1998) ')).toBe(1994);
    expect(releaseYear('City of God (Cidade de Deus) (2002)')).toBe(2002);
    expect(releaseYear('Moonlight')).toBeNaN();
  });

  it('builds genres, year buckets and tags, and rows by raw id', () => {
    const catalog = {
      itemId: Int32Array.of(10, 20, 30, 40),
      title: ['A (1990)', 'B (2000)', 'C (2010)', 'D'],
      genres: [['Drama'], ['Comedy', 'Drama'], ['(no genres listed)'], ['Action']],
    };
    const tags = {
      userId: Int32Array.of(1, 2, 3, 4, 5),
      itemId: Int32Array.of(10, 20, 20, 30, 10),
      tag: ['Funny ', 'funny', 'dark', 'DARK', 'late tag'],
      timestamp: Float64Array.of(1, 2, 3, 4, 100),
    };
    const vocab = buildVocab(catalog, tags, { tagsUntil: 50, tagVocab: 10, yearBuckets: 3 });
    expect(vocab.genres).toEqual(['Action', 'Comedy', 'Drama']);
    // Years 1990, 2000, 2010 in 3 buckets: edges at the 1/3 and 2/3 quantiles.
    expect(vocab.yearEdges).toEqual([2000, 2010]);
    // "late tag" is after tagsUntil; each kept tag is on two distinct items.
    expect(vocab.tags).toEqual(['dark', 'funny']);
    expect(yearBucket(vocab, 1990)).toBe(0);
    expect(yearBucket(vocab, 2005)).toBe(1);
    expect(yearBucket(vocab, 2030)).toBe(2);
    expect(yearBucket(vocab, NaN)).toBe(3);
    const content = ItemContent.build(vocab, catalog, tags, 50);
    // widths: 3 genres + 4 year columns + 2 tags
    expect(content.widths).toEqual({ genres: 3, year: 4, tags: 2, total: 9 });
    const rows = content.rowsFor(Int32Array.of(20, 40, 999));
    expect(Array.from(rows.subarray(0, 9))).toEqual([0, 1, 1, 0, 1, 0, 0, 1, 1]);
    expect(Array.from(rows.subarray(9, 18))).toEqual([1, 0, 0, 0, 0, 0, 1, 0, 0]);
    // An id outside the catalogue: only "year unknown".
    expect(Array.from(rows.subarray(18, 27))).toEqual([0, 0, 0, 0, 0, 0, 1, 0, 0]);
    expect(normaliseTag('  Dark   Comedy ')).toBe('dark comedy');
  });
});

describe('two-tower sequences', () => {
  // User 7: items 3 (t=5), 1 (t=1), 2 (t=3); user 9: items 1 (t=2), 3 (t=2) → tie broken by item.
  const x = allocInteractions(5);
  x.userId.set([7, 7, 7, 9, 9]);
  x.itemId.set([3, 1, 2, 3, 1]);
  x.timestamp.set([5, 1, 3, 2, 2]);
  const data = buildTrainingData(x);
  const seq = buildSequences(data);

  it('orders each user’s events by time', () => {
    const raw = Array.from(seq.items, (i) => data.items.rawId(i));
    expect(raw).toEqual([1, 2, 3, 1, 3]);
    expect(Array.from(seq.start)).toEqual([0, 3, 5]);
    expect(Array.from(seq.user)).toEqual([0, 0, 0, 1, 1]);
  });

  it('holds out the latest events and lists the others as examples', () => {
    const fitEnd = holdOutTails(seq, 0.34); // floor(0.34 × 3) = 1, floor(0.34 × 2) = 0
    expect(Array.from(fitEnd)).toEqual([2, 5]);
    expect(Array.from(examplePositions(seq, fitEnd))).toEqual([0, 1, 3, 4]);
  });

  it('keeps each user’s latest items, most recent last, padded in front', () => {
    expect(Array.from(latestItems(seq, 2), (i) => (i < 0 ? -1 : data.items.rawId(i)))).toEqual([2, 3, 1, 3]);
    expect(Array.from(latestItems(seq, 4), (i) => (i < 0 ? -1 : data.items.rawId(i)))).toEqual([-1, 1, 2, 3, -1, -1, 1, 3]);
  });
});
