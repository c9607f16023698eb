import { InputError } from '../util/errors.js';
import type { ModelFactory } from './model.js';
import { alsFactory } from './als/model.js';
import { popularityFactory } from './popularity/popularity.js';
import { rankerFactory } from '../rank/ranker.js';
import { twoTowerFactory } from './two-tower/model.js';

/** Parameters reach factories as a generic record (from the CLI or a pipeline file). */
export type AnyModelFactory = ModelFactory<Record<string, unknown>>;

function generic<P>(f: ModelFactory<P>): AnyModelFactory {
  return f as unknown as AnyModelFactory;
}

/** Every model kind the CLI, the evaluator and the pipeline can fit or load, by name. */
const FACTORIES: readonly AnyModelFactory[] = [
  generic(popularityFactory),
  generic(alsFactory),
  generic(rankerFactory),
  generic(twoTowerFactory),
];

export function modelKinds(): string[] {
  return FACTORIES.map((f) => f.kind);
}

export function getFactory(kind: string): AnyModelFactory {
  const f = FACTORIES.find((x) => x.kind === kind);
  if (!f) throw new InputError(`unknown model "${kind}" (known: ${modelKinds().join(', ')})`);
  return f;
}
