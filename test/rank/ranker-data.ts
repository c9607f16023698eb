import type { Interactions, ItemCatalog } from '../../src/data/interactions.js';
import { DAY_SECONDS } from '../../src/rank/history.js';
import { Rng } from '../../src/util/rng.js';
import { interactionsOf } from '../helpers.js';

/**
 * A small seeded log with structure a ranker can learn: items 1..nItems in three genres; each
 * user prefers one genre and mostly picks its items, more popular ones (lower ids) more often,
 * one event a day from a user-specific start day.
 */
export function synthLog(opts: { users: number; items: number; eventsPerUser: number; seed: number }): {
  log: Interactions;
  catalog: ItemCatalog;
} {
  const rng = new Rng(opts.seed);
  const genreNames = ['Comedy', 'Drama', 'Horror'];
  const genreOf = (item: number): number => item % 3;
  const rows: Array<[number, number, number, number]> = [];
  for (let u = 1; u <= opts.users; u++) {
    const liked = rng.int(3);
    const start = rng.int(400);
    const seen = new Set<number>();
    for (let e = 0; e < opts.eventsPerUser; e++) {
      let item = 0;
      do {
        // popularity skew: squares of uniforms favour low ids
        const r = rng.next();
        item = 1 + Math.floor(r * r * opts.items);
      } while (seen.has(item) || (genreOf(item) !== liked && rng.next() < 0.8));
      seen.add(item);
      rows.push([u, item, genreOf(item) === liked ? 5 : 2, (start + e) * DAY_SECONDS]);
    }
  }
  const itemIds = Int32Array.from({ length: opts.items }, (_, i) => i + 1);
  const catalog: ItemCatalog = {
    itemId: itemIds,
    title: Array.from(itemIds, (id) => `Movie ${id} (${1980 + (id % 30)})`),
    genres: Array.from(itemIds, (id) => [genreNames[genreOf(id)]]),
  };
  return { log: interactionsOf(rows), catalog };
}
