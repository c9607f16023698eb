import { InputError } from '../util/errors.js';
import { epsilonGreedyPolicy } from './epsilon-greedy.js';
import { greedyPolicy, type Policy } from './policy.js';
import { type ItemPools, POOL_NAMES, type PoolName } from './pools.js';
import { swapPolicy } from './swap.js';
import { thompsonPolicy, type ThompsonOptions } from './thompson.js';

export const POLICY_SPELLINGS = 'greedy, epsilon-greedy:EPS[:POOL], thompson:SLOT[:POOL] or swap:Q';

/**
 * A policy from its command-line spelling (docs/exploration.md): `greedy`,
 * `epsilon-greedy:EPS[:POOL]` (EPS in [0, 1], POOL candidates | fresh | cold, default
 * candidates) or `thompson:SLOT[:POOL]` (SLOT a position from 1, POOL fresh | cold, default
 * fresh) or `swap:Q` (Q in (0, 1), the randomised swap of docs/position-bias.md). `pools` are
 * the model's fresh and cold items (buildItemPools); only the candidates
 * pool does without them. A wrong spec is an InputError naming the part that is wrong.
 */
export function parsePolicy(spec: string, pools: ItemPools | null, opts: ThompsonOptions = {}): Policy {
  const [kind, ...parts] = spec.split(':');
  const bad = (what: string): InputError => new InputError(`policy ${JSON.stringify(spec)}: ${what} (expected ${POLICY_SPELLINGS})`);
  const pool = (part: string | undefined, allowed: readonly PoolName[], fallback: PoolName): PoolName => {
    const name = (part ?? fallback) as PoolName;
    if (!allowed.includes(name)) throw bad(`pool ${JSON.stringify(part)} is not one of ${allowed.join(', ')}`);
    if (name !== 'candidates' && pools === null) throw bad(`the ${name} pool needs the model's training data, which is not available here`);
    return name;
  };
  switch (kind) {
    case 'greedy':
      if (parts.length > 0) throw bad('greedy takes no parameters');
      return greedyPolicy;
    case 'epsilon-greedy': {
      if (parts.length < 1 || parts.length > 2) throw bad('epsilon-greedy takes EPS and an optional POOL');
      const epsilon = Number(parts[0]);
      if (parts[0].trim() === '' || !(epsilon >= 0 && epsilon <= 1)) throw bad(`EPS ${JSON.stringify(parts[0])} is not a number in [0, 1]`);
      return epsilonGreedyPolicy(epsilon, pool(parts[1], POOL_NAMES, 'candidates'), pools);
    }
    case 'thompson': {
      if (parts.length < 1 || parts.length > 2) throw bad('thompson takes SLOT and an optional POOL');
      const slot = Number(parts[0]);
      if (!/^[0-9]+$/.test(parts[0]) || slot < 1) throw bad(`SLOT ${JSON.stringify(parts[0])} is not a position (an integer from 1)`);
      const name = pool(parts[1], ['fresh', 'cold'], 'fresh') as 'fresh' | 'cold';
      return thompsonPolicy(slot, name, (pools as ItemPools)[name], opts);
    }
    case 'swap': {
      const q = Number(parts[0]);
      if (parts.length !== 1 || parts[0].trim() === '' || !(q > 0 && q < 1))
        throw bad(`Q ${JSON.stringify(parts[0] ?? '')} is not a number in (0, 1)`);
      return swapPolicy(q);
    }
    default:
      throw bad(`unknown policy ${JSON.stringify(kind)}`);
  }
}
