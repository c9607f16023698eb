import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/explore/parse.js';
import { greedyPolicy } from '../../src/explore/policy.js';
import { buildItemPools } from '../../src/explore/pools.js';
import { simulateInMemory } from '../../src/simulate/precomputed.js';
import { clickModel, Truth } from '../../src/simulate/truth.js';
import { listsOf, SIM_SYNTH, simFixture } from './fixture.js';

const K = 5;

describe('exploration on the simulator', () => {
  it('ε-greedy slots from the cold pool show most of the cold items at least once, at a measured true-CTR cost', async () => {
    const f = await simFixture();
    const truth = Truth.ofParams(SIM_SYNTH, clickModel(K));
    const pools = buildItemPools(f.data);
    const cold = new Set(pools.cold);
    const lists = listsOf(f, f.als, K);
    const run = async (policy: typeof greedyPolicy) => {
      const { result, ground } = await simulateInMemory({
        truth,
        variants: [{ name: 'all', lists, policy }],
        experiment: null,
        days: 3,
        usersPerDay: 500,
        k: K,
        seed: 2,
      });
      const shown = [...result.shownItems.all].filter((i) => cold.has(i)).length / cold.size;
      return { shown, ctr: ground.variants.all.population?.ctr as number, exact: ground.variants.all.population?.exact };
    };
    const greedy = await run(greedyPolicy);
    const explore = await run(parsePolicy('epsilon-greedy:0.1:cold', pools));
    console.log(
      `cold items ever shown: greedy ${greedy.shown}, ε-greedy ${explore.shown}; true CTR ${greedy.ctr.toFixed(4)} → ${explore.ctr.toFixed(4)}`,
    );
    expect(greedy.exact).toBe(true);
    expect(explore.exact).toBe(false);
    // 1,500 requests × 5 positions × ε = 0.1 put about 750 draws into a pool of 100 items: nearly all are shown.
    expect(explore.shown).toBeGreaterThan(0.9);
    expect(greedy.shown).toBeLessThan(0.2);
    // The cost: an exploration slot shows a cold item instead of the model's, so CTR falls, by about ε × the share of clicks the replaced slots had.
    expect(explore.ctr).toBeLessThan(greedy.ctr);
    expect(explore.ctr).toBeGreaterThan(0.8 * greedy.ctr);
  });
});
