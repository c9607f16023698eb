import { describe, expect, it } from 'vitest';
import type { RankedItem } from '../../src/explore/policy.js';
import { SWAP_CHANNEL, swapPolicy } from '../../src/explore/swap.js';
import { Rng } from '../../src/util/rng.js';

const ranked: RankedItem[] = [10, 11, 12, 13, 14].map((item_id, j) => ({ item_id, score: 5 - j, channel: 'als' }));

describe('swapPolicy', () => {
  it('logs the propensities worked by hand: q = 0.3 over 4 positions', () => {
    const policy = swapPolicy(0.3);
    expect(policy.name).toBe('swap:0.3');
    expect(policy.depth(4)).toBe(4);
    // Not swapped (first draw ≥ q): the model's order, the first item at 1 with 1 − q = 0.7, the others with 1 − 0.3/3 = 0.9.
    const kept = policy.place(ranked, { k: 4, userId: 1, random: () => 0.5 });
    expect(kept.map((i) => i.item_id)).toEqual([10, 11, 12, 13]);
    expect(kept.map((i) => i.propensity)).toEqual([0.7, 0.9, 0.9, 0.9].map((x) => expect.closeTo(x, 12)));
    expect(kept.map((i) => i.channel)).toEqual(['als', 'als', 'als', 'als']);
    // Swapped (0.1 < q) with position 2 + floor(0.7 · 3) = 4: the moved items at 0.3/3 = 0.1 each.
    const draws = [0.1, 0.7];
    const swapped = policy.place(ranked, { k: 4, userId: 1, random: () => draws.shift() ?? 0 });
    expect(swapped.map((i) => i.item_id)).toEqual([13, 11, 12, 10]);
    expect(swapped.map((i) => i.propensity)).toEqual([0.1, 0.9, 0.9, 0.1].map((x) => expect.closeTo(x, 12)));
    expect(swapped.map((i) => i.channel)).toEqual([SWAP_CHANNEL, 'als', 'als', SWAP_CHANNEL]);
  });

  it('places each item where it says as often as its propensity says (30k seeded draws)', () => {
    const policy = swapPolicy(0.4);
    const rng = new Rng(7);
    const n = 30_000;
    const seen = new Map<string, { count: number; propensity: number }>();
    for (let r = 0; r < n; r++) {
      for (const [j, item] of policy.place(ranked, { k: 5, userId: null, random: () => rng.next() }).entries()) {
        const key = `${item.item_id}@${j + 1}`;
        const s = seen.get(key) ?? { count: 0, propensity: item.propensity };
        if (item.propensity !== s.propensity) throw new Error(`${key}: propensity ${item.propensity} and ${s.propensity}`);
        s.count++;
        seen.set(key, s);
      }
    }
    // 5 items at their own place, the first item at 4 other places and 4 items at place 1.
    expect(seen.size).toBe(13);
    for (const { count, propensity } of seen.values()) {
      const sd = Math.sqrt((propensity * (1 - propensity)) / n);
      expect(Math.abs(count / n - propensity)).toBeLessThan(4 * sd + 1e-9);
    }
  });

  it('shows short lists as they are and refuses a probability outside (0, 1)', () => {
    const one = swapPolicy(0.5).place(ranked.slice(0, 1), { k: 10, userId: null, random: () => 0 });
    expect(one).toEqual([{ ...ranked[0], propensity: 1 }]);
    expect(() => swapPolicy(0)).toThrow(/not in \(0, 1\)/);
    expect(() => swapPolicy(1)).toThrow(/not in \(0, 1\)/);
  });
});
