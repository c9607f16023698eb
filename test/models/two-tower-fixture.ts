import { allocInteractions, type Interactions, type ItemCatalog, type Tags } from '../../src/data/interactions.js';
import { buildTrainingData, type TrainingData } from '../../src/data/training-data.js';
import { splitInteractions } from '../../src/split/split.js';
import { Rng } from '../../src/util/rng.js';

/**
 * A small world with planted structure, for the two-tower tests: four genres of 25 movies
 * each (raw ids 1..100), plus one catalogue movie per genre that nobody watched (101..104,
 * the cold items). User u (1..160) likes genre (u mod 4): 90% of their 20 events are movies of
 * that genre, in time order. Every movie has roughly the same popularity, so popularity
 * cannot tell users apart and a model that beats it must have learnt the tastes.
 */
export const GENRES = ['Action', 'Comedy', 'Drama', 'Horror'];
export const PER_GENRE = 25;
export const COLD_ITEMS = Int32Array.of(101, 102, 103, 104);
const USERS = 160;
const EVENTS_PER_USER = 20;

export function genreOfItem(rawId: number): number {
  return rawId > 100 ? rawId - 101 : Math.floor((rawId - 1) / PER_GENRE);
}

export function genreOfUser(rawId: number): number {
  return rawId % 4;
}

export interface Fixture {
  readonly all: Interactions;
  readonly train: Interactions;
  readonly test: Interactions;
  readonly catalog: ItemCatalog;
  readonly tags: Tags;
  readonly training: TrainingData;
}

export function plantedFixture(seed = 5): Fixture {
  const rng = new Rng(seed);
  const all = allocInteractions(USERS * EVENTS_PER_USER);
  let row = 0;
  for (let u = 1; u <= USERS; u++) {
    const seen = new Set<number>();
    for (let e = 0; e < EVENTS_PER_USER; e++) {
      let item: number;
      do {
        const genre = rng.next() < 0.9 ? genreOfUser(u) : rng.int(4);
        item = genre * PER_GENRE + 1 + rng.int(PER_GENRE);
      } while (seen.has(item));
      seen.add(item);
      all.userId[row] = u;
      all.itemId[row] = item;
      all.rating[row] = 4;
      all.timestamp[row] = 1_000_000 + u * 1000 + e * 10;
      row++;
    }
  }
  const ids: number[] = [];
  const titles: string[] = [];
  const genres: string[][] = [];
  for (let i = 1; i <= 104; i++) {
    ids.push(i);
    titles.push(`Movie ${i} (${1950 + (i % 60)})`);
    genres.push([GENRES[genreOfItem(i)]]);
  }
  const catalog: ItemCatalog = { itemId: Int32Array.from(ids), title: titles, genres };
  // One tag per genre on a few movies (cold ones included), applied before any event.
  const tagRows = ids.filter((i) => i % 5 === 0 || i > 100);
  const tags: Tags = {
    userId: new Int32Array(tagRows.length).fill(1),
    itemId: Int32Array.from(tagRows),
    tag: tagRows.map((i) => ` ${GENRES[genreOfItem(i)].toUpperCase()}  mood `),
    timestamp: new Float64Array(tagRows.length).fill(999_000),
  };
  const { train, test } = splitInteractions(all, { strategy: 'temporal-user', frac: 0.8 });
  return { all, train, test, catalog, tags, training: buildTrainingData(train, { catalog, tags, seed: 42 }) };
}
