import type { PlacedItem, PlacementContext, Policy, RankedItem } from './policy.js';
import type { ItemPools, PoolName } from './pools.js';

/** How long a ranked list the `candidates` pool asks for: the model's top 100 beyond k is the pool. */
export const CANDIDATE_DEPTH = 100;

/**
 * ε-greedy slots (docs/exploration.md): the greedy list g_1..g_n is the ranked list's first
 * n = min(k, its length); each position independently becomes an exploration slot with
 * probability ε; the slots get items drawn uniformly without replacement from the request's pool
 * (the named pool minus g_1..g_n and the user's excluded items), m items. When more slots than m
 * come up, a uniformly random m of them stay slots and the rest show their greedy item, so every
 * position is a slot with the same probability ε' (exploreProbability) and the marginals stay
 * exact: a greedy item at its position 1 − ε', a pool item at any position ε'/m.
 */
export function epsilonGreedyPolicy(epsilon: number, pool: PoolName, pools: ItemPools | null): Policy {
  const catalogue = pool === 'candidates' ? null : pools?.[pool];
  if (catalogue === undefined) throw new Error(`the ${pool} pool needs the item pools of the model's training data`);
  const channel = `explore:${pool}`;
  return {
    name: `epsilon-greedy:${epsilon}:${pool}`,
    depth: (k) => (pool === 'candidates' ? Math.max(k, CANDIDATE_DEPTH) : k),
    place(ranked, ctx) {
      const n = Math.min(ctx.k, ranked.length);
      const greedy = ranked.slice(0, n);
      const poolItems = requestPool(ranked, n, catalogue, channel, ctx);
      const m = poolItems.length;
      const slots: number[] = [];
      for (let p = 0; p < n; p++) if (ctx.random() < epsilon) slots.push(p);
      if (slots.length > m) {
        // Too few pool items: a uniform m-subset of the slots stays (a partial Fisher-Yates).
        for (let i = 0; i < m; i++) swap(slots, i, i + Math.floor(ctx.random() * (slots.length - i)));
        slots.length = m;
        slots.sort((a, b) => a - b);
      }
      const explore = exploreProbability(epsilon, n, m);
      const placed: PlacedItem[] = greedy.map((item) => ({ ...item, propensity: 1 - explore }));
      for (let d = 0; d < slots.length; d++) {
        swap(poolItems, d, d + Math.floor(ctx.random() * (m - d)));
        placed[slots[d]] = { ...poolItems[d], propensity: explore / m };
      }
      return placed;
    },
  };
}

/** The items a request's exploration slots draw from, without the greedy list and the user's excluded items. */
function requestPool(
  ranked: readonly RankedItem[],
  n: number,
  catalogue: readonly number[] | null,
  channel: string,
  ctx: PlacementContext,
): RankedItem[] {
  const allowed = (id: number): boolean => !ctx.exclude?.(id);
  if (catalogue === null)
    return ranked
      .slice(n)
      .filter((item) => allowed(item.item_id))
      .map((item) => ({ ...item, channel }));
  const score = new Map(ranked.map((item) => [item.item_id, item.score]));
  const greedy = new Set(ranked.slice(0, n).map((item) => item.item_id));
  return catalogue.filter((id) => !greedy.has(id) && allowed(id)).map((id) => ({ item_id: id, score: score.get(id) ?? 0, channel }));
}

/**
 * The probability that a given one of n positions ends up an exploration slot when each is one
 * with probability ε and at most m of them can be filled: ε · E[min(1, m / (1 + B))] with
 * B ~ Binomial(n − 1, ε) the other positions' slots (the kept m-subset is uniform).
 */
export function exploreProbability(epsilon: number, n: number, m: number): number {
  if (m >= n) return epsilon;
  if (m === 0) return 0;
  if (epsilon >= 1) return m / n;
  let sum = 0;
  let pmf = (1 - epsilon) ** (n - 1); // P(B = 0)
  for (let b = 0; b < n; b++) {
    sum += pmf * Math.min(1, m / (b + 1));
    pmf *= ((n - 1 - b) / (b + 1)) * (epsilon / (1 - epsilon));
  }
  return epsilon * sum;
}

function swap<T>(a: T[], i: number, j: number): void {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}

/**
 * Whether a logged item's propensity holds at every position of its list, not only where it was
 * shown: true for the items an ε-greedy policy explored (a pool item is equally likely at every
 * slot); every other item of our policies can only be where it was shown (a greedy item at its
 * rank, a Thompson winner at the slot).
 */
export function propensityAtEveryPosition(policy: string, channel: string): boolean {
  return policy.startsWith('epsilon-greedy:') && channel.startsWith('explore:');
}
