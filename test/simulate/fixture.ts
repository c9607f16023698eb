import { generateSynthetic, type SynthParams } from '../../src/data/synth.js';
import { buildTrainingData, type TrainingData } from '../../src/data/training-data.js';
import { alsFactory } from '../../src/models/als/model.js';
import { alsParamsSchema } from '../../src/models/als/params.js';
import type { Recommender } from '../../src/models/model.js';
import { popularityFactory } from '../../src/models/popularity/popularity.js';
import { RankedLists } from '../../src/simulate/precomputed.js';

/** A small synth set: every user has 20+ interactions, so every user is known to the models. */
export const SIM_SYNTH: Partial<SynthParams> = { users: 1500, items: 800, interactions: 60_000, seed: 3, years: 5 };

export interface SimFixture {
  readonly data: TrainingData;
  readonly popularity: Recommender;
  readonly als: Recommender;
}

let cached: Promise<SimFixture> | null = null;

/** Popularity and ALS fitted on all of SIM_SYNTH's interactions (fitted once per test file). */
export function simFixture(): Promise<SimFixture> {
  cached ??= (async () => {
    const synth = generateSynthetic(SIM_SYNTH);
    const data = buildTrainingData(synth.interactions, { seed: 1 });
    const popularity = await popularityFactory.fit(data, popularityFactory.params.parse({}));
    const als = await alsFactory.fit(data, alsParamsSchema.parse({ factors: 16, iterations: 8, threads: 1, loss: false }));
    return { data, popularity, als };
  })();
  return cached;
}

/** Every user's lists from `model`, training items filtered. */
export function listsOf(f: SimFixture, model: Recommender, depth: number): RankedLists {
  return RankedLists.of(model, f.data.matrix, depth, { name: model.kind });
}
