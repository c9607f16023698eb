import { describe, expect, it } from 'vitest';
import { genreCosine } from '../../src/eval/beyond-accuracy.js';
import { genreSimilarity, type ItemGenres } from '../../src/rank/item-genres.js';
import { Rng } from '../../src/util/rng.js';

/** `nItems` items with up to 4 distinct random genres of `nGenres` (some with none). */
function randomGenres(nItems: number, nGenres: number, seed: number): ItemGenres {
  const rng = new Rng(seed);
  const genreStart = new Int32Array(nItems + 1);
  const ids: number[] = [];
  for (let i = 0; i < nItems; i++) {
    const set = new Set<number>();
    const n = Math.floor(rng.next() * 5);
    while (set.size < n) set.add(Math.floor(rng.next() * nGenres));
    ids.push(...[...set].sort((a, b) => a - b));
    genreStart[i + 1] = ids.length;
  }
  const names = Array.from({ length: nGenres }, (_, g) => `g${g}`);
  return { names, genreStart, genreIds: Int32Array.from(ids), releaseYear: new Float32Array(nItems) };
}

function expectSameAsGenreCosine(g: ItemGenres): void {
  const similarity = genreSimilarity(g);
  const n = g.genreStart.length - 1;
  for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) expect(similarity(a, b)).toBe(genreCosine(g, a, b));
}

describe('genreSimilarity (the MMR genre similarity)', () => {
  it('is genreCosine to the bit, with 19 genres (one 32-bit set per item) and with 32', () => {
    const g = randomGenres(150, 19, 1);
    // e.g. {1, 2} against {2, 3, 4}: 1 / sqrt(6).
    const a = { ...g, genreStart: Int32Array.of(0, 2, 5), genreIds: Int32Array.of(1, 2, 2, 3, 4) };
    expect(genreSimilarity(a)(0, 1)).toBe(1 / Math.sqrt(6));
    expectSameAsGenreCosine(g);
    expectSameAsGenreCosine(randomGenres(100, 32, 2));
  });

  it('is genreCosine with more than 32 genres, or a genre listed twice for an item', () => {
    expectSameAsGenreCosine(randomGenres(100, 40, 3));
    // Item 0 lists genre 1 twice: genreCosine counts both matches (2 / sqrt(2 · 1)).
    const twice: ItemGenres = {
      names: ['a', 'b'],
      genreStart: Int32Array.of(0, 2, 3),
      genreIds: Int32Array.of(1, 1, 1),
      releaseYear: new Float32Array(2),
    };
    expect(genreSimilarity(twice)(0, 1)).toBe(2 / Math.sqrt(2));
  });
});
