import { join } from 'node:path';
import { readNpyFloat32, readNpyInt32, writeNpy } from '../artifacts/npy.js';
import type { IdMap } from '../data/id-map.js';
import type { ItemCatalog } from '../data/interactions.js';
import { genreCosine } from '../eval/beyond-accuracy.js';

/**
 * Item metadata the ranker reads, per dense item: genre ids (into `names`, the catalogue's
 * genres sorted by name, so the columns are the same in every item space built from one
 * catalogue) and the release year found at the end of the title ("Heat (1995)").
 */
export interface ItemGenres {
  readonly names: readonly string[];
  /** Item i's genres are genreIds[genreStart[i] .. genreStart[i+1]), ascending. */
  readonly genreStart: Int32Array;
  readonly genreIds: Int32Array;
  /** NaN when the title carries no year. */
  readonly releaseYear: Float32Array;
}

const TITLE_YEAR = /\((\d{4})\)\s*$/;

export function buildItemGenres(items: IdMap, catalog: ItemCatalog | null): ItemGenres {
  const names = catalog ? [...new Set(catalog.genres.flat())].sort() : [];
  const genreId = new Map(names.map((g, i) => [g, i]));
  const row = new Map<number, number>();
  catalog?.itemId.forEach((id, r) => row.set(id, r));
  const genreStart = new Int32Array(items.size + 1);
  const ids: number[] = [];
  const releaseYear = new Float32Array(items.size).fill(NaN);
  for (let i = 0; i < items.size; i++) {
    const r = row.get(items.rawId(i));
    if (catalog && r !== undefined) {
      ids.push(...[...new Set(catalog.genres[r].map((g) => genreId.get(g) as number))].sort((a, b) => a - b));
      const year = TITLE_YEAR.exec(catalog.title[r]);
      if (year) releaseYear[i] = Number(year[1]);
    }
    genreStart[i + 1] = ids.length;
  }
  return { names, genreStart, genreIds: Int32Array.from(ids), releaseYear };
}

export function saveItemGenres(g: ItemGenres, dir: string): void {
  writeNpy(join(dir, 'item_genre_start.npy'), g.genreStart);
  writeNpy(join(dir, 'item_genre_ids.npy'), g.genreIds);
  writeNpy(join(dir, 'item_release_year.npy'), g.releaseYear);
}

export function loadItemGenres(dir: string, names: readonly string[]): ItemGenres {
  return {
    names,
    genreStart: readNpyInt32(join(dir, 'item_genre_start.npy')),
    genreIds: readNpyInt32(join(dir, 'item_genre_ids.npy')),
    releaseYear: readNpyFloat32(join(dir, 'item_release_year.npy')).data,
  };
}

/** Set bits of a 32-bit integer. */
function popcount(v: number): number {
  let x = v - ((v >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/**
 * The genre cosine of two items, `genreCosine` of eval/beyond-accuracy.ts to the bit, from
 * one 32-bit genre set per item when the vocabulary allows (at most 32 genres, none listed
 * twice for an item): MMR asks for it candidates × list length times per user.
 */
export function genreSimilarity(g: ItemGenres): (a: number, b: number) => number {
  const nItems = g.genreStart.length - 1;
  const bits = new Int32Array(nItems);
  const counts = new Float64Array(nItems);
  let fits = g.names.length <= 32;
  for (let i = 0; i < nItems && fits; i++) {
    for (let q = g.genreStart[i]; q < g.genreStart[i + 1]; q++) {
      const bit = 1 << g.genreIds[q];
      if (g.genreIds[q] >= 32 || bits[i] & bit) fits = false;
      bits[i] |= bit;
    }
    counts[i] = g.genreStart[i + 1] - g.genreStart[i];
  }
  if (!fits) return (a, b) => genreCosine(g, a, b);
  return (a, b) => {
    const na = counts[a];
    const nb = counts[b];
    if (na === 0 || nb === 0) return 0;
    return popcount(bits[a] & bits[b]) / Math.sqrt(na * nb);
  };
}
